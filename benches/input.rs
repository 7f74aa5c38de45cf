//! Reading hospital files: 1M generated cases grouped CSV → CSV (all cores) from the
//! plain UTF-8 CSV, from the same file in GB18030 (detected and decoded), and from the
//! 病案首页 shape (Chinese headers, one column per diagnosis and procedure, dates
//! `2025/3/1`, money with thousands separators, read through the built-in mapping).
//! Target: each within 1.5× the plain CSV.

mod common;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use drgdip::grouper::{Grouper, Scheme};
use drgdip::io::{GroupJob, Options, decode};

const CASES: u64 = 1_000_000;

/// The generated CSV rewritten in the 病案首页 shape.
fn homepage(plain: &[u8]) -> Vec<u8> {
    let mut rdr = csv::Reader::from_reader(plain);
    let h = rdr.headers().unwrap().clone();
    let col = |n: &str| h.iter().position(|x| x == n).unwrap();
    let (dx, px) = (col("diagnoses"), col("procedures"));
    let scalar = [
        ("病案号", col("case_id")),
        ("性别", col("sex")),
        ("年龄", col("age")),
        ("年龄不足1周岁的年龄(天)", col("age_days")),
        ("新生儿出生体重(克)", col("weight")),
        ("出院科别", col("dept")),
        ("实际住院(天)", col("los")),
        ("离院方式", col("discharge_way")),
    ];
    let (admit, discharge, cost) = (col("admit_date"), col("discharge_date"), col("total_cost"));
    let mut w = csv::Writer::from_writer(Vec::with_capacity(plain.len() * 2));
    let mut header: Vec<String> = scalar.iter().map(|(n, _)| n.to_string()).collect();
    header.push("主要诊断编码".into());
    header.extend((1..=15).map(|n| format!("其他诊断编码{n}")));
    header.push("主要手术操作编码".into());
    header.extend((1..=7).map(|n| format!("其他手术操作编码{n}")));
    header.extend(["入院时间", "出院时间", "住院总费用"].map(String::from));
    w.write_record(&header).unwrap();
    let date = |d: &str| {
        let mut it = d.split('-');
        let (y, m, dd) = (it.next().unwrap_or(""), it.next().unwrap_or(""), it.next().unwrap_or(""));
        format!("{y}/{}/{}", m.trim_start_matches('0'), dd.trim_start_matches('0'))
    };
    let money = |c: &str| {
        let (whole, frac) = c.split_once('.').unwrap_or((c, "00"));
        let mut out = String::new();
        for (i, ch) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(ch);
        }
        format!("{out}.{frac}")
    };
    for r in rdr.records() {
        let r = r.unwrap();
        let mut row: Vec<String> = scalar.iter().map(|&(_, i)| r[i].to_string()).collect();
        let mut codes = |field: &str, n: usize| {
            let mut v: Vec<String> = field.split('|').map(String::from).collect();
            v.resize(n, String::new());
            row.extend(v);
        };
        codes(&r[dx], 16);
        codes(&r[px], 8);
        row.push(date(&r[admit]));
        row.push(date(&r[discharge]));
        row.push(money(&r[cost]));
        w.write_record(&row).unwrap();
    }
    w.into_inner().unwrap()
}

fn benches(c: &mut Criterion) {
    let scheme = Scheme::from_dir(common::scheme_dir()).expect("scheme");
    let grouper = Grouper::compile(&scheme).expect("compiles");
    let plain = common::csv_cases(&scheme, &grouper, CASES, 42);
    let (gb, _, _) = encoding_rs::GB18030.encode(std::str::from_utf8(&plain).unwrap());
    let gb = gb.into_owned();
    let shaped = homepage(&plain);
    let job = GroupJob::new(&grouper, false);
    let mut g = c.benchmark_group("input");
    g.sample_size(10);
    g.throughput(Throughput::Elements(CASES));
    let options = Options::default();
    g.bench_function("plain UTF-8 CSV, 1M cases", |b| {
        b.iter(|| drgdip::io::run(&job, &plain[..], std::io::sink(), &options, &|_, _| {}))
    });
    g.bench_function("GB18030 CSV (detected), 1M cases", |b| {
        b.iter(|| {
            let input = decode::decode(&gb[..], None).unwrap();
            drgdip::io::run(&job, input, std::io::sink(), &options, &|_, _| {})
        })
    });
    g.bench_function("病案首页 shape (mapping detected), 1M cases", |b| {
        b.iter(|| drgdip::io::run(&job, &shaped[..], std::io::sink(), &options, &|_, _| {}))
    });
    g.finish();
}

criterion_group!(input, benches);
criterion_main!(input);
