//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use drgdip::grouper::reference::TextCase;
use drgdip::grouper::{Grouper, Scheme};
use drgdip::io::{GroupJob, Options};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A path under `../shared`, or `None` (with one visible line) when the folder is absent
/// outside CI. Under `CI=true` a missing folder fails the test.
pub fn shared(rel: &str) -> Option<PathBuf> {
    let p = root().join("..").join("shared").join(rel);
    if p.exists() {
        return Some(p);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "{} is missing: CI must have ../shared beside the checkout",
            p.display()
        );
    }
    eprintln!(
        "SKIPPED: {} not found (../shared is not beside this checkout)",
        p.display()
    );
    None
}

/// The demo scheme, compiled.
pub fn demo() -> (Scheme, Grouper) {
    let scheme = Scheme::from_dir(root().join("data/demo-scheme")).expect("demo scheme reads");
    let grouper = Grouper::compile(&scheme).expect("demo scheme compiles");
    (scheme, grouper)
}

/// Groups a CSV file's bytes through the streaming pipeline; returns the output rows.
pub fn group_csv(grouper: &Grouper, input: &[u8], threads: usize) -> Vec<csv::StringRecord> {
    let out = group_csv_bytes(grouper, input, threads);
    let mut rdr = csv::Reader::from_reader(&out[..]);
    rdr.records().map(|r| r.expect("output parses")).collect()
}

/// Groups a CSV file's bytes; returns the output bytes.
pub fn group_csv_bytes(grouper: &Grouper, input: &[u8], threads: usize) -> Vec<u8> {
    let job = GroupJob::new(grouper, false);
    let mut out = Vec::new();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let options = Options {
        block_size: 64 << 10,
        batch_blocks: 4,
        ..Options::default()
    };
    pool.install(|| drgdip::io::run(&job, input, &mut out, &options, &|_, _| {}))
        .expect("pipeline runs");
    out
}

/// Reads a case CSV into (case_id, text case, the full record) triples.
pub fn text_cases(path: &Path) -> Vec<(String, TextCase, csv::StringRecord)> {
    let mut rdr = csv::Reader::from_path(path).expect("cases open");
    let h = rdr.headers().unwrap().clone();
    let col = |name: &str| h.iter().position(|x| x == name).unwrap();
    let num = |s: &str| (!s.trim().is_empty()).then(|| s.trim().parse::<i64>().expect("number"));
    let codes = |s: &str| -> Vec<String> {
        s.split('|')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(String::from)
            .collect()
    };
    rdr.records()
        .map(|r| {
            let r = r.unwrap();
            let case = TextCase {
                sex: num(&r[col("sex")]).map(|v| v as u8),
                age: num(&r[col("age")]),
                age_days: num(&r[col("age_days")]),
                weight: num(&r[col("weight")]),
                los: num(&r[col("los")]),
                dept: r[col("dept")].to_string(),
                discharge_way: r[col("discharge_way")].trim().to_string(),
                dx: codes(&r[col("diagnoses")]),
                px: codes(&r[col("procedures")]),
            };
            (r[col("case_id")].to_string(), case, r)
        })
        .collect()
}
