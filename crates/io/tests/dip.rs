//! DIP grouping through the pipeline: bad rows, one output row per input row,
//! `--carry`, determinism across thread counts; history reading; DRG weights; the
//! round trip generate → build → group.

use std::path::PathBuf;

use drgdip_grouper::dip::build::{self, BuildConfig, Threshold};
use drgdip_grouper::dip::stats::Trim;
use drgdip_grouper::dip::{Catalog, CatalogSource};
use drgdip_grouper::{Grouper, Scheme};
use drgdip_io::history::{drg_weights, read_dip_history};
use drgdip_io::synth::{GEN_HEADER, GenConfig, Generator};
use drgdip_io::{DipGroupJob, Format, Options};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn demo_catalog() -> Catalog {
    Catalog::compile(&CatalogSource::from_dir(root().join("data/demo-catalog")).unwrap()).unwrap()
}

fn run_job(c: &Catalog, input: &[u8], threads: usize, options: Options) -> (String, Vec<u64>) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let job = DipGroupJob::new(c);
    let mut out = Vec::new();
    let s = pool
        .install(|| drgdip_io::run(&job, input, &mut out, &options, &|_, _| {}))
        .unwrap();
    (String::from_utf8(out).unwrap(), s.counts)
}

fn records(csv_text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(csv_text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect()
}

fn generated(n: u64, seed: u64, year: i32) -> Vec<u8> {
    let scheme = Scheme::from_dir(root().join("data/demo-scheme")).unwrap();
    let g = Grouper::compile(&scheme).unwrap();
    let generator = Generator::new(
        &scheme,
        &g,
        GenConfig {
            seed,
            year,
            ..GenConfig::default()
        },
    );
    let mut out = GEN_HEADER.as_bytes().to_vec();
    out.push(b'\n');
    generator
        .generate(n, |t| {
            out.extend_from_slice(t.as_bytes());
            Ok(())
        })
        .unwrap();
    out
}

#[test]
fn rows_good_and_bad() {
    let c = demo_catalog();
    let input = "\u{feff}case_id,age,los,discharge_way,diagnoses,procedures,icu_days,total_cost,extra\r\n\
        a1,70,6,5,I63.900|J96.000,88.4101,,1200.50,x\r\n\
        a2,abc,6,1,I63.900,,,,y\r\n\
        a3,40,2,1,,,,,z\r\n\
        a4,40,2,7x,K35.300,47.0901|47.0100,,,w\r\n\
        a5,40,2,1,Z00.000,,,,v\r\n\
        a6,40,2,1,U07.100,12.3456,,,u\r\n\
        a7,40,2,1,K35.300,47.0901,,12.345,t\r\n\
        a8,3,2,1,K35.300,,1,,s\r\n";
    let (out, counts) = run_job(&c, input.as_bytes(), 2, Options::default());
    let rows = records(&out);
    assert_eq!(
        rows[0].join(","),
        "case_id,status,dip_code,layer,score,name,aux_type,aux_coef,primary_care,catalog,warnings,message"
    );
    assert_eq!(rows.len(), 9, "one output row per input row:\n{out}");
    let label = c.info().label();
    assert_eq!(
        rows[1].join(","),
        format!("a1,grouped,I63.9:88.4101,core,1350,脑梗死 + 脑血管造影,S-DEATH,1.5,0,{label},,")
    );
    let head = |r: &Vec<String>| r[..9].join(",");
    assert_eq!(head(&rows[2]), "a2,invalid,,,,,,,0");
    assert_eq!(
        rows[2][11],
        "line 3, field `age`: `abc` is not a whole number >= 0"
    );
    assert_eq!(head(&rows[3]), "a3,invalid,,,,,,,0");
    assert_eq!(
        rows[3][11],
        "line 4, field `diagnoses`: empty (the principal diagnosis is required)"
    );
    assert_eq!(
        rows[4][11],
        "line 5, field `discharge_way`: `7x` is not a discharge way 1-9"
    );
    assert_eq!(head(&rows[5]), "a5,ungrouped,,,,,,,0");
    assert_eq!(
        rows[5][11],
        "line 6: the principal diagnosis is excluded from DIP grouping (exclusions.csv)"
    );
    assert_eq!(head(&rows[6]), "a6,ungrouped,,,,,,,0");
    assert_eq!(
        rows[6][10],
        "procedure `12.3456` has no attribute in the catalogue (taken as diagnostic)"
    );
    assert_eq!(
        rows[6][11],
        "line 7: no disease type of the catalogue matches the case"
    );
    assert_eq!(
        rows[7][11],
        "line 8, field `total_cost`: `12.345` is not an amount in yuan with at most 2 decimals"
    );
    assert_eq!(
        head(&rows[8]),
        "a8,grouped,K35.3:-,core,1000,急性阑尾炎伴局限性腹膜炎 保守治疗,AGE-0-5,1.2,0"
    );
    // grouped, composite, ungrouped, invalid
    assert_eq!(counts, vec![2, 0, 2, 4]);

    // --carry appends the input's other columns.
    let options = Options {
        carry: true,
        ..Options::default()
    };
    let (out, _) = run_job(&c, input.as_bytes(), 1, options);
    let first: Vec<&str> = out.lines().take(2).collect();
    assert!(first[0].ends_with(
        ",message,age,los,discharge_way,diagnoses,procedures,icu_days,total_cost,extra"
    ));
    assert!(first[1].ends_with(",70,6,5,I63.900|J96.000,88.4101,,1200.50,x"));
}

#[test]
fn json_lines_and_missing_columns() {
    let c = demo_catalog();
    let input = b"{\"case_id\":\"j1\",\"diagnoses\":[\"K35.300\"],\"procedures\":[\"47.0100\"],\"age\":30}\nnot json\n";
    let options = Options {
        format: Format::JsonLines,
        ..Options::default()
    };
    let (out, counts) = run_job(&c, input, 1, options);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[1].starts_with("j1,grouped,K35.3:47.0100,core,2400,"));
    assert!(lines[2].contains("line 2: not a JSON object"));
    assert_eq!(counts, vec![1, 0, 0, 1]);
    let job = DipGroupJob::new(&c);
    let e = drgdip_io::run(
        &job,
        &b"case_id,age\n1,2\n"[..],
        Vec::new(),
        &Options::default(),
        &|_, _| {},
    )
    .unwrap_err();
    assert!(e.to_string().contains("no `diagnoses` column"));
}

#[test]
fn same_output_for_any_thread_count() {
    let c = demo_catalog();
    let input = generated(30_000, 11, 2025);
    let small = Options {
        block_size: 64 << 10,
        ..Options::default()
    };
    let (one, counts) = run_job(&c, &input, 1, small.clone());
    let (two, _) = run_job(&c, &input, 2, small.clone());
    let (four, _) = run_job(&c, &input, 4, Options::default());
    assert_eq!(one, two);
    assert_eq!(one, four);
    assert_eq!(counts.iter().sum::<u64>(), 30_000);
    assert_eq!(counts[3], 0, "generated cases are valid");
    assert_eq!(
        counts[2], 0,
        "every generated case has a type in the demo catalogue"
    );
    assert!(counts[0] > 15_000, "{counts:?}");
}

#[test]
fn history_build_and_group_round_trip() {
    // Three years of generated history.
    let mut text = generated(20_000, 1, 2023);
    for (seed, year) in [(2, 2024), (3, 2025)] {
        let more = generated(20_000, seed, year);
        let body = more.splitn(2, |&b| b == b'\n').nth(1).unwrap();
        text.extend_from_slice(body);
    }
    let read = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let options = Options {
            block_size: 256 << 10,
            ..Options::default()
        };
        pool.install(|| read_dip_history(&text[..], std::io::sink(), &options))
            .unwrap()
    };
    let (h1, s1) = read(1);
    let (h2, _) = read(2);
    assert!(h1 == h2, "history does not depend on the thread count");
    assert_eq!((s1.rows, s1.counts[1]), (60_000, 0));
    assert_eq!(h1.cases.len(), 60_000);
    let tables = CatalogSource::from_dir(root().join("data/demo-catalog")).unwrap();
    let config = BuildConfig {
        threshold: Threshold::Coverage(0.95),
        ..BuildConfig::default()
    };
    let built = build::build(&h1, Some(&tables), &config).unwrap();
    let r = &built.report;
    assert_eq!(r.years, vec![(2023, 1), (2024, 2), (2025, 7)]);
    assert_eq!(r.ungrouped, 0);
    assert!(r.coverage >= 0.95, "{}", r.coverage);
    // Group the same history with the built catalogue: every case gets one of its types.
    let c = Catalog::compile(&built.source).unwrap();
    let (out, counts) = run_job(&c, &text, 2, Options::default());
    assert_eq!(counts[2] + counts[3], 0, "{counts:?}");
    assert_eq!(counts[0] + counts[1], 60_000);
    assert_eq!(counts[0], r.core_cases);
    let codes: std::collections::BTreeSet<&str> =
        built.source.types.iter().map(|t| t.code.as_str()).collect();
    for line in out.lines().skip(1) {
        let code = line.split(',').nth(2).unwrap();
        assert!(codes.contains(code), "{line}");
    }
    // Scores average to the scale: Σ cases × score ≈ 1000 × cases (trimming aside).
    let total: f64 = built
        .source
        .types
        .iter()
        .map(|t| t.cases.parse::<f64>().unwrap() * t.score.parse::<f64>().unwrap())
        .sum();
    let mean = total / 60_000.0;
    assert!((800.0..1200.0).contains(&mean), "{mean}");
}

#[test]
fn drg_weights_from_history() {
    let scheme = Scheme::from_dir(root().join("data/demo-scheme")).unwrap();
    let g = Grouper::compile(&scheme).unwrap();
    let header =
        "case_id,sex,age,los,diagnoses,procedures,total_cost,discharge_date,hospital_level\n";
    // FR3 (I20.000): 100, 300 (2024, w7) and 200 (2023, w2); GW1 (K29.700): 50 ×2.
    let rows = "1,1,60,5,I20.000,,100.00,2024-03-01,3\n\
                2,1,60,7,I20.000,,300.00,2024-04-01,0\n\
                3,1,60,3,I20.000,,200.00,2023-05-01,2\n\
                4,2,40,2,K29.700,,50.00,2024-01-01,0\n\
                5,2,40,4,K29.700,,50.00,2024-01-02,0\n\
                6,2,40,4,K29.700,,abc,2024-01-02,0\n";
    let text = format!("{header}{rows}");
    let mut rejects = Vec::new();
    let (w, s) = drg_weights(
        &g,
        text.as_bytes(),
        &mut rejects,
        &Options::default(),
        &[2, 7],
        Trim::default(),
    )
    .unwrap();
    assert_eq!((s.read.rows, s.read.counts[1], s.grouped), (6, 1, 5));
    assert!(
        String::from_utf8(rejects)
            .unwrap()
            .contains("6,rejected,\"line 7, field `total_cost`")
    );
    // FR3: (700 + 2100 + 400) / 16 = 200.00; GW1: 50.00; overall (3200 + 700) / 30 = 130.
    let fr3 = w.iter().find(|r| r.group.starts_with("FR3")).unwrap();
    let gw1 = w.iter().find(|r| r.group.starts_with("GW1")).unwrap();
    assert_eq!((fr3.mean_cost.to_string(), fr3.cases), ("200.00".into(), 3));
    assert_eq!(gw1.mean_cost.to_string(), "50.00");
    // 200 / 130 = 1.538461… ; 50 / 130 = 0.384615…
    assert_eq!(fr3.weight.to_string(), "1.5385");
    assert_eq!(gw1.weight.to_string(), "0.3846");
    // LOS: (5×7 + 7×7 + 3×2) / 16 = 5.625 → 5.63
    assert_eq!(fr3.mean_los.to_string(), "5.63");
    assert_eq!(format!("{:.4}", gw1.cv), "0.0000");
    // sd of 100 (w7), 300 (w7), 200 (w2) around 200: sqrt((7·100² + 7·100²)/16) = 93.54
    assert!((fr3.cv - 0.467707).abs() < 1e-6, "{}", fr3.cv);
}
