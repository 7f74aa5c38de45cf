//! Criterion benchmarks of the DRG hot path on a million generated cases of CHS-DRG 1.1:
//! grouping pre-parsed cases on one thread and on all cores, CSV → CSV end to end,
//! compiling the scheme, loading the compiled scheme, and the reference interpreter as
//! the baseline beside the optimised path (see `common::bench_scheme`).

mod common;

use criterion::{Criterion, criterion_group, criterion_main};
use drgdip::grouper::reference::Reference;
use drgdip::grouper::{Grouper, Scheme};

fn benches(c: &mut Criterion) {
    let scheme = Scheme::from_dir(common::scheme_dir()).unwrap();
    let grouper = Grouper::compile(&scheme).unwrap();
    let reference = Reference::new(&scheme);
    common::bench_scheme(
        c,
        common::Bench {
            prefix: "",
            scheme: &scheme,
            grouper: &grouper,
            compile: ("compile", &|| Grouper::compile(&scheme).unwrap()),
            reference: &|t| reference.group(t),
        },
    );
}

criterion_group!(grouping, benches);
criterion_main!(grouping);
