//! A million generated CHS-DRG 3.0 cases through the workbook scheme's compiled grouper
//! and the workbook reference interpreter: they must agree on every one.
//! `cargo bench --bench workbook_agreement` (set AGREEMENT_CASES to change the count).

mod common;

use std::time::Instant;

use drgdip::grouper::workbook::reference::WorkbookReference;
use drgdip::grouper::{Grouper, Scheme};
use rayon::prelude::*;

fn main() {
    let Some((book, errata)) = common::workbook() else {
        return;
    };
    let n: u64 = std::env::var("AGREEMENT_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let scheme = Scheme::from_workbook(&book, Some(&errata)).unwrap();
    let grouper = Grouper::compile(&scheme).unwrap();
    let (cases, texts) =
        common::parse_cases(&grouper, &common::csv_cases(&scheme, &grouper, n, 2026));
    let reference = WorkbookReference::new(&scheme);
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
        "{}: {} cases, {} differences between the compiled grouper and the workbook reference interpreter ({:.1} s)",
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
