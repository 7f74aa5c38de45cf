//! Criterion benchmarks of CHS-DRG 3.0 read from NHSA's workbook, on a million generated
//! 3.0 cases: grouping pre-parsed cases on one thread and on all cores, CSV → CSV end to
//! end, importing and compiling the workbook, loading the compiled artifact, and the
//! workbook reference interpreter as the baseline (see `common::bench_scheme`).

mod common;

use criterion::{Criterion, criterion_group, criterion_main};
use drgdip::grouper::workbook::reference::WorkbookReference;
use drgdip::grouper::{Grouper, Scheme};

fn benches(c: &mut Criterion) {
    let Some((book, errata)) = common::workbook() else {
        return;
    };
    let scheme = Scheme::from_workbook(&book, Some(&errata)).unwrap();
    let grouper = Grouper::compile(&scheme).unwrap();
    let reference = WorkbookReference::new(&scheme);
    common::bench_scheme(
        c,
        common::Bench {
            prefix: "workbook ",
            scheme: &scheme,
            grouper: &grouper,
            compile: ("import workbook + compile", &|| {
                Grouper::compile(&Scheme::from_workbook(&book, Some(&errata)).unwrap()).unwrap()
            }),
            reference: &|t| reference.group(t),
        },
    );
}

criterion_group!(workbook, benches);
criterion_main!(workbook);
