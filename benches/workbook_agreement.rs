//! A million generated CHS-DRG 3.0 cases through the workbook scheme's compiled grouper
//! and the workbook reference interpreter: they must agree on every one.
//! `cargo bench --bench workbook_agreement` (set AGREEMENT_CASES to change the count).

mod common;

use drgdip::grouper::workbook::reference::WorkbookReference;
use drgdip::grouper::{Grouper, Scheme};

fn main() {
    let Some((book, errata)) = common::workbook() else {
        return;
    };
    let scheme = Scheme::from_workbook(&book, Some(&errata)).unwrap();
    let grouper = Grouper::compile(&scheme).unwrap();
    let reference = WorkbookReference::new(&scheme);
    common::agreement(
        &scheme,
        &grouper,
        2026,
        "workbook reference interpreter",
        &|t| reference.group(t),
    );
}
