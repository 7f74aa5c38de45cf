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

#[test]
fn price() {
    replay("price", drgdip::fuzz_entry::price);
}

#[test]
fn settle() {
    replay("settle", drgdip::fuzz_entry::settle);
}

#[test]
fn report() {
    replay("report", drgdip::fuzz_entry::report);
}

#[test]
fn workbook_dip() {
    replay("workbook_dip", drgdip::fuzz_entry::workbook_dip);
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

/// The compiled-file seeds are of the current artifact format, so that the fuzzer and
/// this replay exercise the decoder past the header: the payload seeds, framed as the
/// `artifact` target frames them, decode into the demo scheme and catalogue, and the
/// whole-file seed loads as it is. After a format change, `DRGDIP_WRITE_SEEDS=1 cargo
/// test --test fuzz_corpus artifact_seeds` writes them anew.
#[test]
fn artifact_seeds_decode_in_the_current_format() {
    use drgdip::fuzz_entry::framed;
    use drgdip::grouper::Grouper;
    use drgdip::grouper::dip::{Catalog, CatalogSource};
    /// Label (16 bytes), version (4), payload length (8), SHA-256 (32).
    const HEADER: usize = 60;
    let (_, grouper) = common::demo();
    let scheme = grouper.to_bytes().unwrap();
    let source = CatalogSource::from_dir(common::root().join("data/demo-catalog")).unwrap();
    let catalog = Catalog::compile(&source).unwrap().to_bytes().unwrap();
    let dir = seeds("artifact");
    if std::env::var_os("DRGDIP_WRITE_SEEDS").is_some() {
        std::fs::write(dir.join("demo-scheme-whole"), &scheme).unwrap();
        std::fs::write(dir.join("demo-scheme-payload"), &scheme[HEADER..]).unwrap();
        std::fs::write(dir.join("demo-catalog-payload"), &catalog[HEADER..]).unwrap();
    }
    let seed = |name: &str| std::fs::read(dir.join(name)).unwrap();
    Grouper::from_bytes(&seed("demo-scheme-whole")).expect("the whole seed loads");
    let payload = seed("demo-scheme-payload");
    Grouper::from_bytes(&framed(&scheme, &payload)).expect("the scheme payload decodes");
    let payload = seed("demo-catalog-payload");
    Catalog::from_bytes(&framed(&catalog, &payload)).expect("the catalogue payload decodes");
    // The 2^58-byte string is refused by the decoder, not by the header check.
    let e = Grouper::from_bytes(&framed(&scheme, &seed("huge-string"))).err();
    let e = e.expect("refused").to_string();
    assert!(!e.contains("version"), "{e}");
}

/// The differential property on inputs the seeds do not hold: the seeds of the case,
/// price and settle targets, with line ends, quotes, commas and byte order marks put in,
/// bytes dropped or replaced at pseudo-random places (a fixed xorshift sequence), still
/// give one output row per record the `csv` crate reads, or are refused whole (the
/// entry points assert both).
#[test]
fn mutated_files_keep_one_output_row_per_record() {
    use drgdip::fuzz_entry as f;
    let tokens: [&[u8]; 8] = [
        b"\r",
        b"\n",
        b"\r\n",
        b"\"",
        b",",
        b"\xEF\xBB\xBF",
        b"\"\"",
        b"\n\n",
    ];
    type Entry = (&'static str, fn(&[u8]));
    let targets: [Entry; 4] = [
        ("case_drg", f::case_drg),
        ("case_dip", f::case_dip),
        ("price", f::price),
        ("settle", f::settle),
    ];
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for (target, entry) in targets {
        let mut files: Vec<_> = std::fs::read_dir(seeds(target))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        let files: Vec<Vec<u8>> = files.iter().map(|p| std::fs::read(p).unwrap()).collect();
        for i in 0..120 {
            let mut data = files[i % files.len()].clone();
            for _ in 0..1 + next() % 4 {
                let r = next();
                let at = (r >> 8) as usize % (data.len() + 1);
                let token = tokens[(r >> 40) as usize % tokens.len()];
                match r % 3 {
                    0 => drop(data.splice(at..at, token.iter().copied())),
                    1 if at < data.len() => drop(data.remove(at)),
                    _ => {
                        let end = (at + 1).min(data.len());
                        drop(data.splice(at..end, token.iter().copied()));
                    }
                }
            }
            let run = std::panic::catch_unwind(|| entry(&data));
            assert!(
                run.is_ok(),
                "{target}: variant {i} fails: {:?}",
                String::from_utf8_lossy(&data)
            );
        }
    }
}
