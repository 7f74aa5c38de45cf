//! Groups N generated cases of a scheme on one thread and prints the rate: a small
//! driver for profilers (`valgrind --tool=callgrind`, `perf record`).
//! `cargo run --release --example group_loop -- SCHEME_DIR|WORKBOOK.xlsx [N] [PASSES] [CASES.csv]`
//! (a workbook is read with the `errata.json` beside it). With `CASES.csv` (a file of
//! `drgdip gen`), its first N cases are grouped instead of N freshly generated ones, so
//! that a profile shows grouping rather than the generator.

use std::time::Instant;

use drgdip::grouper::{Case, CodeKind, Grouper, Scheme};
use drgdip::io::synth::{GenConfig, Generator};

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| "data/demo-scheme".into());
    let n: u64 = args.next().and_then(|v| v.parse().ok()).unwrap_or(200_000);
    let passes: u32 = args.next().and_then(|v| v.parse().ok()).unwrap_or(1);
    let scheme = if dir.ends_with(".xlsx") {
        let errata = std::path::Path::new(&dir).with_file_name("errata.json");
        Scheme::from_workbook(&dir, errata.exists().then_some(errata.as_path())).expect("workbook")
    } else {
        Scheme::from_dir(&dir).expect("scheme")
    };
    let grouper = Grouper::compile(&scheme).expect("compiles");
    let mut text = String::new();
    match args.next() {
        Some(file) => text = std::fs::read_to_string(file).expect("cases file"),
        None => Generator::new(&scheme, &grouper, GenConfig::default())
            .generate(n, |t| {
                text.push_str(t);
                Ok(())
            })
            .unwrap(),
    }
    let mut cases = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with("case_id"))
        .take(n as usize)
    {
        let f: Vec<&str> = line.split(',').collect();
        let num = |s: &str| (!s.is_empty()).then(|| s.parse::<i64>().unwrap());
        let mut c = Case {
            sex: num(f[1]).map(|v| v as u8),
            age: num(f[2]),
            age_days: num(f[3]),
            weight: num(f[4]),
            los: num(f[6]),
            ..Case::default()
        };
        c.dept.push_str(f[5]);
        c.discharge_way.push_str(f[7]);
        c.dx.extend(
            f[8].split('|')
                .filter(|s| !s.is_empty())
                .map(|s| grouper.lookup(s, CodeKind::Diagnosis, false).id),
        );
        c.px.extend(
            f[9].split('|')
                .filter(|s| !s.is_empty())
                .map(|s| grouper.lookup(s, CodeKind::Procedure, false).id),
        );
        cases.push(c);
    }
    let mut scratch = grouper.scratch();
    for _ in 0..passes {
        let started = Instant::now();
        let mut sum = 0u64;
        for c in &cases {
            sum += grouper.group(c, &mut scratch).result_index() as u64;
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "{} cases in {secs:.3} s: {:.0} ns/case, {:.2} M cases/s (checksum {sum})",
            cases.len(),
            secs * 1e9 / cases.len() as f64,
            cases.len() as f64 / secs / 1e6
        );
    }
}
