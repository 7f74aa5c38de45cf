//! Marks the tests that need `../shared` (the real national schemes and their
//! reference answers) as ignored when the folder is absent, so that `cargo test` reports
//! them as ignored — with the reason — instead of as passed. Under `CI=true` nothing is
//! marked: those tests run and fail, since CI must have `../shared`.

use std::path::PathBuf;

/// How many tests of this package read `../shared` (`tests/reference_schemes.rs`, `generated.rs`,
/// `generated_realism.rs`, `workbook.rs`, `dip_national.rs`, `dip_round_trip.rs`): each is
/// marked `#[cfg_attr(drgdip_no_shared, ignore = "needs ../shared …")]`.
const SHARED_TESTS: usize = 16;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(drgdip_no_shared)");
    println!("cargo::rerun-if-env-changed=CI");
    println!("cargo::rerun-if-changed=build.rs");
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let shared = root.join("..").join("shared");
    // A missing path makes cargo run this script again on every build, so the message
    // below is shown on every `cargo test` while the folder is absent.
    println!("cargo::rerun-if-changed={}", shared.display());
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    if !shared.is_dir() && !ci {
        println!("cargo::rustc-cfg=drgdip_no_shared");
        println!(
            "cargo::warning=../shared (the real national schemes) is not beside this checkout: \
             {SHARED_TESTS} tests that need it are IGNORED (cargo test lists them as ignored, \
             not passed); under CI=true they fail instead"
        );
    }
}
