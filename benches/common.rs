//! Corpora for the benchmarks: the national CHS-DRG 1.1 scheme from `../shared` when
//! present (the benchmark target), else the demo scheme (with a visible note).
#![allow(dead_code)]

use std::path::PathBuf;

use drgdip::grouper::reference::TextCase;
use drgdip::grouper::{Case, CodeKind, Grouper, Scheme};
use drgdip::io::synth::{GEN_HEADER, GenConfig, Generator};

/// The scheme folder to benchmark.
pub fn scheme_dir() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let national = root.join("../shared/schemes/chs-drg-1.1");
    if national.exists() {
        national
    } else {
        eprintln!("note: ../shared/schemes/chs-drg-1.1 not found; benchmarking the demo scheme");
        root.join("data/demo-scheme")
    }
}

/// `n` generated cases as CSV text (with header).
pub fn csv_cases(scheme: &Scheme, grouper: &Grouper, n: u64, seed: u64) -> Vec<u8> {
    let generator = Generator::new(
        scheme,
        grouper,
        GenConfig {
            seed,
            ..GenConfig::default()
        },
    );
    let mut out = Vec::with_capacity(n as usize * 160);
    out.extend_from_slice(GEN_HEADER.as_bytes());
    out.push(b'\n');
    generator
        .generate(n, |chunk| {
            out.extend_from_slice(chunk.as_bytes());
            Ok(())
        })
        .expect("in-memory generation");
    out
}

/// Parses generated CSV into interned cases (contiguous, as a grouping loop reads them)
/// and their text form (for the reference interpreter).
pub fn parse_cases(grouper: &Grouper, csv_bytes: &[u8]) -> (Vec<Case>, Vec<TextCase>) {
    let mut rdr = csv::Reader::from_reader(csv_bytes);
    let num = |s: &str| (!s.is_empty()).then(|| s.parse::<i64>().expect("number"));
    let codes = |s: &str| -> Vec<String> {
        s.split('|')
            .filter(|c| !c.is_empty())
            .map(String::from)
            .collect()
    };
    rdr.records()
        .map(|r| {
            let r = r.expect("generated csv");
            let text = TextCase {
                sex: num(&r[1]).map(|v| v as u8),
                age: num(&r[2]),
                age_days: num(&r[3]),
                weight: num(&r[4]),
                dept: r[5].to_string(),
                los: num(&r[6]),
                discharge_way: r[7].to_string(),
                dx: codes(&r[8]),
                px: codes(&r[9]),
            };
            let case = Case {
                sex: text.sex,
                age: text.age,
                age_days: text.age_days,
                weight: text.weight,
                los: text.los,
                dept: text.dept.clone(),
                discharge_way: text.discharge_way.clone(),
                dx: text
                    .dx
                    .iter()
                    .map(|c| grouper.lookup(c, CodeKind::Diagnosis, false).id)
                    .collect(),
                px: text
                    .px
                    .iter()
                    .map(|c| grouper.lookup(c, CodeKind::Procedure, false).id)
                    .collect(),
            };
            (case, text)
        })
        .unzip()
}

/// The CHS-DRG 3.0 workbook and its errata from `../shared`, or `None` (with a note).
pub fn workbook() -> Option<(PathBuf, PathBuf)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/schemes/chs-drg-3.0");
    let book = root.join("chs-drg-3.0-workbook.xlsx");
    if book.exists() {
        Some((book, root.join("errata.json")))
    } else {
        eprintln!("note: ../shared/schemes/chs-drg-3.0 not found; nothing to benchmark");
        None
    }
}
