//! A million generated cases of CHS-DRG 1.1 (or the demo scheme) through both engines:
//! the compiled grouper and the reference interpreter must agree on every one.
//! `cargo bench --bench agreement` (set AGREEMENT_CASES to change the count).

mod common;

use std::time::Instant;

use drgdip::grouper::reference::Reference;
use drgdip::grouper::{Grouper, Scheme};
use rayon::prelude::*;

fn main() {
    let n: u64 = std::env::var("AGREEMENT_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let scheme = Scheme::from_dir(common::scheme_dir()).unwrap();
    let grouper = Grouper::compile(&scheme).unwrap();
    let (cases, texts) =
        common::parse_cases(&grouper, &common::csv_cases(&scheme, &grouper, n, 2025));
    let reference = Reference::new(&scheme);
    let started = Instant::now();
    let differences: Vec<usize> = cases
        .par_iter()
        .zip(&texts)
        .enumerate()
        .map_init(
            || grouper.scratch(),
            |scratch, (i, (case, text))| {
                let fast = grouper.group(case, scratch);
                (grouper.result(&fast) != &reference.group(text)).then_some(i)
            },
        )
        .flatten()
        .collect();
    println!(
        "{}: {} cases, {} differences between the compiled grouper and the reference interpreter ({:.1} s)",
        grouper.info().label(),
        cases.len(),
        differences.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        differences.is_empty(),
        "first differing cases: {:?}",
        &differences[..differences.len().min(10)]
    );
}
