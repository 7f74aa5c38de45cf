//! A million generated cases of CHS-DRG 1.1 (or the demo scheme) through both engines:
//! the compiled grouper and the reference interpreter must agree on every one.
//! `cargo bench --bench agreement` (set AGREEMENT_CASES to change the count).

mod common;

use drgdip::grouper::reference::Reference;
use drgdip::grouper::{Grouper, Scheme};

fn main() {
    let scheme = Scheme::from_dir(common::scheme_dir()).unwrap();
    let grouper = Grouper::compile(&scheme).unwrap();
    let reference = Reference::new(&scheme);
    common::agreement(&scheme, &grouper, 2025, "reference interpreter", &|t| {
        reference.group(t)
    });
}
