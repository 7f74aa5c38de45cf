//! `drgdip dip …`, `drgdip drg weights` and `drgdip explain --catalog` end to end.

use std::path::PathBuf;
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn drgdip(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_drgdip"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("drgdip runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn generate_build_group_weights_explain() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).display().to_string();
    let (cases, built, grouped) = (p("cases.csv"), p("built"), p("grouped.csv"));
    let o = drgdip(&[
        "gen",
        "--scheme",
        "data/demo-scheme",
        "--cases",
        "3000",
        "--seed",
        "4",
        "--output",
        &cases,
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));

    // Build with the demo catalogue's tables; the report goes to stdout.
    let o = drgdip(&[
        "dip",
        "build",
        "--history",
        &cases,
        "--output",
        &built,
        "--threshold",
        "15",
        "--year-weights",
        "1:2:7",
        "--tables",
        "data/demo-catalog",
        "--name",
        "test-built",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let report = text(&o.stdout);
    assert!(report.contains("threshold  15 cases"), "{report}");
    assert!(report.contains("2025×7"), "{report}");
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("built/report.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(json["cases"], 3000);
    assert_eq!(json["ungrouped"], 0);

    // Group the history with the built catalogue: every row in a type, exit 0.
    let o = drgdip(&[
        "dip",
        "group",
        "--catalog",
        &built,
        "--input",
        &cases,
        "--output",
        &grouped,
        "--threads",
        "2",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("0 ungrouped, 0 invalid"),
        "{}",
        text(&o.stderr)
    );
    let out = std::fs::read_to_string(&grouped).unwrap();
    assert!(out.starts_with("case_id,status,dip_code,layer,score,"));
    assert_eq!(out.lines().count(), 3001);

    // Compile, info, and grouping from the compiled file gives the same bytes.
    let compiled = p("built.dipc");
    assert!(
        drgdip(&["dip", "compile", &built, "-o", &compiled])
            .status
            .success()
    );
    let info = drgdip(&["dip", "info", &compiled]);
    assert!(text(&info.stdout).contains("name         test-built"));
    let o = drgdip(&[
        "dip",
        "group",
        "--catalog",
        &compiled,
        "--input",
        &cases,
        "--threads",
        "1",
    ]);
    assert_eq!(text(&o.stdout), out);

    // A bad row: exit 1, one row per input row.
    let bad = p("bad.csv");
    std::fs::write(&bad, "case_id,age,diagnoses\n1,40,I63.900\n2,x,I63.900\n").unwrap();
    let o = drgdip(&[
        "dip",
        "group",
        "--catalog",
        "data/demo-catalog",
        "--input",
        &bad,
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(text(&o.stdout).lines().count(), 3);

    // DRG weights.
    let o = drgdip(&[
        "drg",
        "weights",
        "--scheme",
        "data/demo-scheme",
        "--history",
        &cases,
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let w = text(&o.stdout);
    assert!(
        w.starts_with("group,weight,mean_cost,mean_los,cases,cv\n"),
        "{w}"
    );
    assert!(w.lines().count() > 10);

    // Explain, text and JSON, DRG and DIP together.
    let o = drgdip(&[
        "explain",
        "--catalog",
        "data/demo-catalog",
        "--dx",
        "K35.300",
        "--px",
        "54.2100,47.0100,47.0901",
    ]);
    let t = text(&o.stdout);
    assert!(
        t.contains("result   grouped K35.3:47.0100 core score 2400"),
        "{t}"
    );
    assert!(t.contains("tie rule highest_score (2400 > 2100)"), "{t}");
    let o = drgdip(&[
        "explain",
        "--scheme",
        "data/demo-scheme",
        "--catalog",
        "data/demo-catalog",
        "--dx",
        "I63.900",
        "--sex",
        "1",
        "--age",
        "70",
        "--los",
        "5",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["dip"]["dip_code"], "I63.9:-");
    assert_eq!(v["dip"]["aux_type"], "AGE-65");
    assert!(v["drg"]["result"]["drg"].is_string());
    // A broken catalogue: exit 2 with file, line and field.
    let broken = p("broken");
    std::fs::create_dir(&broken).unwrap();
    std::fs::write(
        dir.path().join("broken/catalog.json"),
        r#"{"name":"b","version":"1"}"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("broken/types.csv"),
        "code,layer,principal_dx,procedures,score\nA,core,A01,,x1\n",
    )
    .unwrap();
    let o = drgdip(&["dip", "info", &broken]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("types.csv: line 2, field `score`: `x1` is not a number"),
        "{}",
        text(&o.stderr)
    );
}

/// A file under `../shared/`, or `None` (with a visible line) outside CI without it.
fn shared(rel: &str) -> Option<PathBuf> {
    let p = root().join("../shared").join(rel);
    if p.exists() {
        return Some(p);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{} is missing", p.display());
    }
    eprintln!("SKIPPED: {} not found", p.display());
    None
}

/// The output rows of `dip group` as fields, after checking the header: the first five
/// columns `case_id,status,dip_code,layer,score`, then `primary_care` among the rest.
/// Returns (index of `primary_care`, rows).
fn dip_rows(out: &str) -> (usize, Vec<Vec<String>>) {
    let mut rows = csv_rows(out);
    let header = rows.remove(0);
    assert_eq!(
        header[..5],
        ["case_id", "status", "dip_code", "layer", "score"],
        "{header:?}"
    );
    let pc = header
        .iter()
        .position(|h| h == "primary_care")
        .expect("a primary_care column");
    assert!(pc >= 5);
    for r in &rows {
        assert!(r[pc] == "0" || r[pc] == "1", "primary_care 0/1: {r:?}");
    }
    (pc, rows)
}

/// The output columns of `dip group` with the national workbook, the compiled national
/// catalogue and a catalogue calibrated from it (`dip build --national`): the first five
/// columns stay `case_id,status,dip_code,layer,score`, `primary_care` is 0/1, `score` is
/// empty until calibrated and filled after.
#[test]
fn national_output_columns_workbook_compiled_and_calibrated() {
    let (Some(xlsx), Some(cases), Some(expected)) = (
        shared("schemes/dip-3.0/dip-3.0-catalogue.xlsx"),
        shared("reference/dip-3.0/cases-20k.csv"),
        shared("reference/dip-3.0/expected-20k.csv"),
    ) else {
        return;
    };
    let xlsx = xlsx.display().to_string();
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).display().to_string();
    // The reference cases as a history: a cost and a year per case (2023–2025).
    let cases = std::fs::read_to_string(cases).unwrap();
    let mut history = String::new();
    for (i, line) in cases.lines().enumerate() {
        if i == 0 {
            history.push_str(line);
            history.push_str(",total_cost,year\n");
        } else {
            let cost = 800 + (i * 7919) % 30_000;
            history.push_str(&format!("{line},{cost}.00,{}\n", 2023 + i % 3));
        }
    }
    std::fs::write(p("history.csv"), &history).unwrap();
    // The city's attribute table: 00–86 surgery, 87/88 diagnostic, 89–99 therapeutic.
    let mut attrs = String::from("code,attribute\n");
    for d in 0..100 {
        let a = match d {
            0..=86 => "surgery",
            87 | 88 => "diagnostic",
            _ => "therapeutic",
        };
        attrs.push_str(&format!("{d:02}*,{a}\n"));
    }
    std::fs::write(p("attributes.csv"), attrs).unwrap();

    // 1. The workbook itself: no scores; the reference answers. The reference has 121
    // cases without a principal diagnosis: invalid rows, exit code 1.
    let o = drgdip(&[
        "dip",
        "group",
        "--catalog",
        &xlsx,
        "--input",
        &p("history.csv"),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let national = text(&o.stdout);
    let (pc, rows) = dip_rows(&national);
    assert_eq!(rows.len(), 20_000);
    let want = std::fs::read_to_string(expected).unwrap();
    let mut want = csv_rows(&want);
    let wh = want.remove(0);
    let col = |n: &str| wh.iter().position(|h| h == n).unwrap();
    let (ws, wc, wl, wp) = (
        col("status"),
        col("dip_code"),
        col("layer"),
        col("primary_care"),
    );
    for (r, w) in rows.iter().zip(&want) {
        assert_eq!(r[0], w[0]);
        assert_eq!(
            [&r[1], &r[2], &r[3], &r[pc]],
            [&w[ws], &w[wc], &w[wl], &w[wp]],
            "{r:?}"
        );
        assert_eq!(r[4], "", "the national catalogue has no scores: {r:?}");
    }
    assert!(rows.iter().any(|r| r[pc] == "1"));

    // 2. The compiled national catalogue: the same bytes.
    let o = drgdip(&["dip", "compile", &xlsx, "--output", &p("national.dipc")]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = drgdip(&[
        "dip",
        "group",
        "--catalog",
        &p("national.dipc"),
        "--input",
        &p("history.csv"),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), national);

    // 3. Calibrated on the history: every type has a score; primary care still per case.
    let o = drgdip(&[
        "dip",
        "build",
        "--national",
        &xlsx,
        "--history",
        &p("history.csv"),
        "--attributes",
        &p("attributes.csv"),
        "--threshold",
        "5",
        "--rejects",
        &p("rejects.csv"),
        "--output",
        &p("local"),
    ]);
    // The history reader rejects the rows without a principal diagnosis it can place.
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("threshold  5 cases"));
    let rejected: std::collections::BTreeSet<String> =
        csv_rows(&std::fs::read_to_string(p("rejects.csv")).unwrap())
            .into_iter()
            .skip(1)
            .filter(|r| r[1] == "rejected")
            .map(|r| r[0].clone())
            .collect();
    assert!(rejected.len() >= 121, "{}", rejected.len());
    let o = drgdip(&[
        "dip",
        "group",
        "--catalog",
        &p("local"),
        "--input",
        &p("history.csv"),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let (pc2, local) = dip_rows(&text(&o.stdout));
    assert_eq!(pc2, pc);
    assert_eq!(local.len(), 20_000);
    let mut kept_pc = 0;
    for (l, n) in local.iter().zip(&rows) {
        match l[1].as_str() {
            "grouped" | "composite" => {
                assert!(!l[2].is_empty() && !l[4].is_empty(), "a score: {l:?}");
                assert!(l[4].parse::<f64>().unwrap() > 0.0, "{l:?}");
            }
            "excluded" | "invalid" => assert_eq!((&l[2], &l[4]), (&String::new(), &String::new())),
            // Only rows the history left out (no principal diagnosis it could place) can
            // stay ungrouped: every case of the history is in a type.
            "ungrouped" => assert!(rejected.contains(&l[0]), "{l:?}"),
            other => panic!("status {other}: {l:?}"),
        }
        if l[1] == "composite" {
            assert_eq!(l[pc], "0", "composite types are never primary care: {l:?}");
        }
        // A kept national type decides primary care as the workbook does.
        if l[2] == n[2] && !n[2].is_empty() {
            assert_eq!(l[pc], n[pc], "{l:?} vs {n:?}");
            kept_pc += usize::from(l[pc] == "1");
        }
    }
    assert!(kept_pc > 0, "some primary-care cases in kept types");
    assert!(local.iter().any(|l| l[1] == "composite"));
}

/// A CSV text as rows of fields, the header first.
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes());
    rdr.records()
        .map(|r| r.expect("CSV").iter().map(str::to_string).collect())
        .collect()
}
