//! Replays the checked-in fuzz corpora (`fuzz/seeds/<target>/`) through the fuzz
//! targets' entry points (`drgdip::fuzz_entry`) on stable Rust: every seed and every
//! crash a fuzzer found stays a passing input (see `docs/fuzzing.md`).

mod common;

use std::path::Path;

fn replay(target: &str, entry: fn(&[u8])) {
    let dir = common::root().join("fuzz/seeds").join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 3, "{}: too few seeds", dir.display());
    for file in files {
        let data = std::fs::read(&file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let run = std::panic::catch_unwind(|| entry(&data));
        assert!(run.is_ok(), "{target}: seed {name} fails");
    }
}

fn seeds(target: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds")
        .join(target)
}

#[test]
fn case_drg() {
    replay("case_drg", drgdip::fuzz_entry::case_drg);
}

#[test]
fn case_dip() {
    replay("case_dip", drgdip::fuzz_entry::case_dip);
}

#[test]
fn splitter() {
    replay("splitter", drgdip::fuzz_entry::splitter);
}

#[test]
fn scheme_folder() {
    replay("scheme_folder", drgdip::fuzz_entry::scheme_folder);
}

#[test]
fn catalog() {
    replay("catalog", drgdip::fuzz_entry::catalog);
}

#[test]
fn artifact() {
    replay("artifact", drgdip::fuzz_entry::artifact);
}

#[test]
fn policy() {
    replay("policy", drgdip::fuzz_entry::policy);
}

#[test]
fn workbook_drg() {
    replay("workbook_drg", drgdip::fuzz_entry::workbook_drg);
}

/// The entry points find what they are meant to find: a case file whose rows the
/// pipeline would lose fails `case_drg`'s row count, and the seeds hold the findings of
/// issue 10.
#[test]
fn entry_points_check_their_properties() {
    assert_eq!(drgdip::fuzz_entry::csv_data_records(b"a,b\r1,2\r3,4\r"), 2);
    assert_eq!(
        drgdip::fuzz_entry::csv_data_records(b"\xEF\xBB\xBFa\n\n1\n"),
        1
    );
    for seed in ["bare-cr.csv", "stray-quote.csv", "crlf-blank-lines.csv"] {
        assert!(seeds("case_drg").join(seed).exists(), "{seed}");
    }
    assert!(seeds("artifact").join("huge-string").exists());
}
