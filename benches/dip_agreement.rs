//! A million generated cases through both DIP engines: the compiled demo catalogue and
//! the reference interpreter (`dip::reference`) must agree on every one — the cases as
//! the generator writes them, every other one perturbed with the catalogue's own codes
//! and facts (exclusions, unknown codes, every layer, tie rules, sub-types).
//! `cargo bench --bench dip_agreement` (set AGREEMENT_CASES to change the count).

#[path = "../tests/dip_common/mod.rs"]
mod dip_common;

use std::time::Instant;

use dip_common::{Agreement, Pools, compare, demo, generate, text_cases};
use drgdip::grouper::dip::Catalog;
use drgdip::grouper::dip::reference::DipReference;

fn main() {
    let n: u64 = std::env::var("AGREEMENT_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let (scheme, grouper, source) = demo();
    let catalog = Catalog::compile(&source).expect("demo catalogue compiles");
    let reference = DipReference::new(&source).expect("the reference reads it");
    let pools = Pools::new(&source);
    let started = Instant::now();
    // In chunks of 100,000 (one generator seed each) to keep memory small.
    let mut total = Agreement::default();
    let mut first = String::new();
    let (mut done, mut chunk) = (0u64, 0u64);
    while done < n {
        let m = (n - done).min(100_000);
        let mut cases = text_cases(&generate(&scheme, &grouper, m, 2025 + chunk, 2025));
        for (i, (id, case)) in cases.iter_mut().enumerate() {
            id.insert_str(0, &format!("chunk {chunk} "));
            if i % 2 == 1 {
                pools.perturb(done + i as u64, case);
            }
        }
        let a = compare(&catalog, &reference, &cases);
        if first.is_empty() && !a.differences.is_empty() {
            first = a.first(10);
        }
        total.cases += a.cases;
        total.differences.extend(a.differences);
        total.with_aux += a.with_aux;
        for (k, v) in a.statuses {
            *total.statuses.entry(k).or_default() += v;
        }
        for (k, v) in a.layers {
            *total.layers.entry(k).or_default() += v;
        }
        done += m;
        chunk += 1;
    }
    let a = total;
    println!(
        "{}: {} cases (every other one perturbed), {} differences between the compiled catalogue and the reference interpreter ({:.1} s)",
        catalog.info().label(),
        a.cases,
        a.differences.len(),
        started.elapsed().as_secs_f64()
    );
    println!(
        "reached: {:?}; layers {:?}; {} with an auxiliary sub-type",
        a.statuses, a.layers, a.with_aux
    );
    assert!(a.differences.is_empty(), "first differing cases:\n{first}");
}
