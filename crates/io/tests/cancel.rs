//! A run watching a cancel flag stops at its next block: once the flag is set, the rows
//! processed stop growing (only the blocks already taken finish) and the run returns
//! `Cancelled`; a flag never set changes nothing.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use drgdip_io::stream::{self, Cancel, Column, Job, Options, Out, Row, StreamError};

/// Counts the rows it processes.
struct Count(AtomicU64);

const COLUMNS: [Column; 1] = [Column {
    name: "id",
    required: true,
}];

impl Job for Count {
    type State = ();
    fn columns(&self) -> &[Column] {
        &COLUMNS
    }
    fn header(&self) -> Vec<String> {
        vec!["id".into()]
    }
    fn categories(&self) -> &[&'static str] {
        &["row"]
    }
    fn state(&self) {}
    fn row(&self, _: &mut (), row: &Row<'_>, out: &mut Out) -> usize {
        self.0.fetch_add(1, Ordering::Relaxed);
        out.write_field(row.get(0));
        0
    }
}

fn input(rows: usize) -> Vec<u8> {
    let mut s = String::from("id,pad\n");
    for i in 0..rows {
        s.push_str(&format!("{i},{}\n", "x".repeat(40)));
    }
    s.into_bytes()
}

#[test]
fn a_cancelled_run_stops_at_the_next_block() {
    let rows = 400_000;
    let data = input(rows);
    let block = 64 << 10;
    let options = Options {
        block_size: block,
        batch_blocks: 4,
        ..Options::default()
    };
    // Never set: the whole file.
    let job = Count(AtomicU64::new(0));
    let mut out = Vec::new();
    let summary = stream::run_cancellable(
        &job,
        &data[..],
        &mut out,
        &options,
        &|_, _| {},
        &Cancel::new(),
    )
    .unwrap();
    assert_eq!(summary.rows, rows as u64);
    assert_eq!(job.0.load(Ordering::Relaxed), rows as u64);

    // Set after the first rows are written: the run stops soon after.
    let job = Count(AtomicU64::new(0));
    let cancel = Cancel::new();
    let at_cancel = Mutex::new(None);
    let progress = |_: u64, done: u64| {
        if done > 0 && !cancel.is_cancelled() {
            *at_cancel.lock().unwrap() = Some(job.0.load(Ordering::Relaxed));
            cancel.cancel();
        }
    };
    let mut out = Vec::new();
    let r = stream::run_cancellable(&job, &data[..], &mut out, &options, &progress, &cancel);
    assert!(matches!(r, Err(StreamError::Cancelled)), "{r:?}");
    let seen = at_cancel.lock().unwrap().expect("the flag was set");
    let processed = job.0.load(Ordering::Relaxed);
    // Rows per block: about 64 KiB of 48-byte rows. After the flag, at most the blocks
    // the threads already held (one per thread, and the window read ahead) finish.
    let per_block = block as u64 / 48 + 1;
    let threads = rayon::current_num_threads().max(2) as u64;
    assert!(
        processed <= seen + (threads + 4) * per_block,
        "{processed} rows processed, {seen} when cancelled"
    );
    assert!(processed < rows as u64 / 4, "{processed} of {rows}");
    // And it stays stopped: nothing runs after the call returned.
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert_eq!(job.0.load(Ordering::Relaxed), processed);

    // Set before the run: no block is taken.
    let job = Count(AtomicU64::new(0));
    let cancel = Cancel::new();
    cancel.cancel();
    let r = stream::run_cancellable(&job, &data[..], Vec::new(), &options, &|_, _| {}, &cancel);
    assert!(matches!(r, Err(StreamError::Cancelled)));
    assert_eq!(job.0.load(Ordering::Relaxed), 0);
}
