//! Reading a CSV file in parallel: a reader thread cuts the input into blocks of whole
//! records (`drgdip_io::CsvBlocks`, the cutter of `group`), the rayon pool works on a
//! batch of blocks at a time, and the results are handed on in input order while the
//! pool already works on the next batch.

use std::io::Read;
use std::sync::mpsc::{Receiver, TryRecvError, sync_channel};

use drgdip_io::CsvBlocks;
use rayon::prelude::*;

use crate::error::Result;

/// Bytes of input in a block (whole records, so a little more or less).
pub(crate) const BLOCK: usize = 1 << 18;

/// Blocks in a batch per worker thread: a batch ends when its last block is done, so
/// many small blocks leave less idle time at its end than a few large ones.
pub(crate) const BLOCKS_PER_THREAD: usize = 8;

/// A block of whole records and the physical line its first record starts on.
type Block = (Vec<u8>, u64);

/// Runs `work` on every block of `src` in the current rayon pool and `merge` on the
/// results, one by one in input order, on the calling thread. `merge` of one batch
/// runs while the pool works on the next one, so a serial merge costs little wall time.
/// The first error (of reading, `work` or `merge`) stops the run and is returned.
pub(crate) fn par_blocks<R, T>(
    mut src: CsvBlocks<R>,
    work: impl Fn(&[u8], u64) -> Result<T> + Sync,
    mut merge: impl FnMut(T) -> Result<()> + Send,
) -> Result<()>
where
    R: Read + Send,
    T: Send,
{
    let per_batch = BLOCKS_PER_THREAD * rayon::current_num_threads().max(2);
    let (tx, rx) = sync_channel::<Result<Block>>(per_batch);
    std::thread::scope(|scope| -> Result<()> {
        scope.spawn(move || {
            loop {
                let (sent, stop) = match src.next_block(BLOCK) {
                    Ok(Some(block)) => (tx.send(Ok(block)), false),
                    Ok(None) => break,
                    Err(e) => (tx.send(Err(e.into())), true),
                };
                if sent.is_err() || stop {
                    break;
                }
            }
        });
        // Owned here, so that an early return drops it and the reader thread stops.
        let rx = rx;
        let mut pending: Vec<T> = Vec::new();
        loop {
            let (blocks, done) = next_batch(&rx, per_batch)?;
            let (merged, worked) = rayon::join(
                || pending.drain(..).try_for_each(&mut merge),
                || {
                    blocks
                        .par_iter()
                        .map(|(bytes, first_line)| work(bytes, *first_line))
                        .collect::<Result<Vec<T>>>()
                },
            );
            merged?;
            pending = worked?;
            if done {
                break;
            }
        }
        pending.into_iter().try_for_each(&mut merge)
    })
}

/// Waits for one block, then takes what else is ready, up to `max` blocks; `true` when
/// the input is exhausted.
fn next_batch(rx: &Receiver<Result<Block>>, max: usize) -> Result<(Vec<Block>, bool)> {
    let mut blocks = Vec::with_capacity(max);
    while blocks.len() < max {
        let next = if blocks.is_empty() {
            rx.recv().ok()
        } else {
            match rx.try_recv() {
                Ok(b) => Some(b),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => None,
            }
        };
        match next {
            Some(b) => blocks.push(b?),
            None => return Ok((blocks, true)),
        }
    }
    Ok((blocks, false))
}
