//! The `drgdip` binary end to end: exit codes, bad input, formats, determinism,
//! explanations, generation and scheme commands.

use std::path::PathBuf;
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn demo() -> String {
    root().join("data/demo-scheme").display().to_string()
}

fn drgdip(args: &[&str], stdin: Option<&[u8]>) -> Output {
    use std::io::Write;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_drgdip"));
    cmd.args(args).current_dir(root());
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("drgdip runs");
    let mut input = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        // The process may exit before reading everything (e.g. on a bad scheme).
        let _ = input.write_all(bytes);
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn rows(out: &Output) -> Vec<Vec<String>> {
    let mut rdr = csv::Reader::from_reader(&out.stdout[..]);
    rdr.records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect()
}

const HEADER: &str =
    "case_id,sex,age,age_days,weight,dept,los,discharge_way,diagnoses,procedures\n";

#[test]
fn groups_stdin_to_stdout_with_the_exact_first_columns() {
    let input = format!("{HEADER}c1,1,67,,,,9,1,I63.900|A41.900,\n");
    let out = drgdip(
        &["group", "--scheme", &demo(), "--input", "-"],
        Some(input.as_bytes()),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(text.starts_with("case_id,status,mdc,adrg,drg,"), "{text}");
    assert_eq!(rows(&out)[0][..5], ["c1", "grouped", "MDCB", "BR2", "BR21"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("1 cases: 1 grouped, 0 ungroupable, 0 ambiguous, 0 invalid")
            && err.contains("cases/s"),
        "{err}"
    );
}

#[test]
fn bad_rows_are_invalid_with_line_and_field_and_the_run_goes_on() {
    let long = "A".repeat(5000);
    let mut input = HEADER.as_bytes().to_vec();
    input.extend_from_slice(b"ok1,1,67,,,,9,1,I63.900,\n");
    input.extend_from_slice(b"age,1,abc,,,,9,1,I63.900,\n");
    input.extend_from_slice(b"sex,3,67,,,,9,1,I63.900,\n");
    input.extend_from_slice(b"nodx,1,67,,,,9,1,,\n");
    input.extend_from_slice(b"utf8,1,67,,,,9,1,I63.9\xff\xfe,\n");
    input.extend_from_slice(format!("long,1,67,,,,9,1,{long},\n").as_bytes());
    input.extend_from_slice(b"short,1,67\n");
    input.extend_from_slice(b"weight,1,0,3,,,9,1,P22.000,\n");
    input.extend_from_slice(b"unknown,1,67,,,,9,1,I63.900|XYZ.123,\n");
    input.extend_from_slice(b"ok2,1,67,,,,9,1,I63.900,\n");
    let out = drgdip(
        &["group", "--scheme", &demo(), "--input", "-"],
        Some(&input),
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "exit 1 when some rows are invalid"
    );
    let rows = rows(&out);
    let ids: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        ids,
        [
            "ok1", "age", "sex", "nodx", "utf8", "long", "short", "weight", "unknown", "ok2"
        ]
    );
    let by = |id: &str| rows.iter().find(|r| r[0] == id).unwrap().clone();
    for (id, line, field) in [
        ("age", 3, "age"),
        ("sex", 4, "sex"),
        ("nodx", 5, "diagnoses"),
        ("utf8", 6, "diagnoses"),
        ("long", 7, "diagnoses"),
        ("weight", 9, "weight"),
    ] {
        let r = by(id);
        assert_eq!(r[1..5], ["invalid", "0000", "00", "0000"], "{id}");
        let msg = &r[8];
        assert!(
            msg.contains(&format!("line {line}")) && msg.contains(&format!("`{field}`")),
            "{id}: {msg}"
        );
    }
    assert!(by("short")[8].contains("line 8"), "{:?}", by("short"));
    assert_eq!(by("unknown")[1], "grouped");
    assert!(
        by("unknown")[7].contains("`XYZ.123` is not in the scheme"),
        "{:?}",
        by("unknown")
    );
    assert_eq!(by("ok2")[4], "BR25");
}

#[test]
fn missing_required_column_is_an_error_naming_it() {
    let input = "case_id,sex,age,procedures\nc1,1,67,\n";
    let out = drgdip(
        &["group", "--scheme", &demo(), "--input", "-"],
        Some(input.as_bytes()),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no `diagnoses` column"), "{err}");
}

#[test]
fn bom_crlf_quotes_and_extra_columns_are_accepted() {
    let input = "\u{feff}extra,case_id,sex,age,age_days,weight,dept,los,discharge_way,diagnoses,procedures\r\n\
                 x,c1,1,67,,,\"内科, 二病区\",9,1,\"I63.900|A41.900\",\r\n\
                 y,c2,2,30,,,,0,1,O80.000,\r\n";
    let out = drgdip(
        &["group", "--scheme", &demo(), "--input", "-"],
        Some(input.as_bytes()),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = rows(&out);
    assert_eq!(rows[0][..5], ["c1", "grouped", "MDCB", "BR2", "BR21"]);
    assert_eq!(rows[1][..5], ["c2", "grouped", "MDCO", "OF1", "OF18"]);
}

#[test]
fn json_lines_input() {
    let input = "{\"case_id\":\"j1\",\"sex\":1,\"age\":67,\"los\":9,\"diagnoses\":[\"I63.900\",\"A41.900\"],\"procedures\":[]}\n\
                 \n\
                 {\"case_id\":\"j2\",\"sex\":\"2\",\"age\":30,\"los\":0,\"discharge_way\":1,\"diagnoses\":\"O80.000\"}\n\
                 not json\n";
    let out = drgdip(
        &[
            "group",
            "--scheme",
            &demo(),
            "--input",
            "-",
            "--format",
            "jsonl",
        ],
        Some(input.as_bytes()),
    );
    assert_eq!(out.status.code(), Some(1));
    let rows = rows(&out);
    assert_eq!(
        rows.len(),
        3,
        "blank lines are not rows; every other line is"
    );
    assert_eq!(rows[0][..5], ["j1", "grouped", "MDCB", "BR2", "BR21"]);
    assert_eq!(rows[1][..5], ["j2", "grouped", "MDCO", "OF1", "OF18"]);
    assert_eq!(rows[2][1], "invalid");
    assert!(
        rows[2][8].contains("line 4") && rows[2][8].contains("not a JSON object"),
        "{:?}",
        rows[2]
    );
}

#[test]
fn output_is_identical_for_any_thread_count_and_gen_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let cases = dir.path().join("cases.csv").display().to_string();
    let cases2 = dir.path().join("cases2.csv").display().to_string();
    let g1 = drgdip(
        &[
            "gen",
            "--scheme",
            &demo(),
            "--cases",
            "60000",
            "--seed",
            "9",
            "--output",
            &cases,
            "--threads",
            "1",
        ],
        None,
    );
    assert!(
        g1.status.success(),
        "{}",
        String::from_utf8_lossy(&g1.stderr)
    );
    let g2 = drgdip(
        &[
            "gen",
            "--scheme",
            &demo(),
            "--cases",
            "60000",
            "--seed",
            "9",
            "--output",
            &cases2,
            "--threads",
            "3",
        ],
        None,
    );
    assert!(g2.status.success());
    let a = std::fs::read(&cases).unwrap();
    assert_eq!(
        a,
        std::fs::read(&cases2).unwrap(),
        "gen does not depend on threads"
    );
    assert_eq!(a.iter().filter(|&&b| b == b'\n').count(), 60_001);
    let mut outputs = Vec::new();
    for threads in ["1", "2", "4"] {
        let out = drgdip(
            &[
                "group",
                "--scheme",
                &demo(),
                "--input",
                &cases,
                "--threads",
                threads,
            ],
            None,
        );
        assert!(out.status.success());
        outputs.push(out.stdout);
    }
    assert_eq!(outputs[0], outputs[1]);
    assert_eq!(outputs[0], outputs[2]);
    assert_eq!(outputs[0].iter().filter(|&&b| b == b'\n').count(), 60_001);
}

#[test]
fn carry_appends_the_input_columns() {
    let input = "case_id,sex,age,age_days,weight,dept,los,discharge_way,diagnoses,procedures,hospital_id\n\
                 c1,1,67,,,,9,1,I63.900,,H01\n";
    let out = drgdip(
        &["group", "--scheme", &demo(), "--input", "-", "--carry"],
        Some(input.as_bytes()),
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let header = text.lines().next().unwrap();
    assert!(
        header.ends_with(
            ",sex,age,age_days,weight,dept,los,discharge_way,diagnoses,procedures,hospital_id"
        ),
        "{header}"
    );
    assert!(text.lines().nth(1).unwrap().ends_with(",H01"), "{text}");
}

#[test]
fn explain_text_and_json() {
    let out = drgdip(
        &[
            "explain",
            "--scheme",
            &demo(),
            "--sex",
            "1",
            "--age",
            "50",
            "--los",
            "6",
            "--dx",
            "J18.900,J96.000,R57.000",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("result   grouped MDCE ES3 ES31"), "{text}");
    assert!(
        text.contains("MCC  J96.000 急性呼吸衰竭 (table 10): excluded by the principal's table"),
        "{text}"
    );
    assert!(
        text.contains("MCC  R57.000 心源性休克 (table 20): counts"),
        "{text}"
    );
    assert!(text.contains("enter MDCE"), "{text}");
    let out = drgdip(
        &[
            "explain",
            "--scheme",
            &demo(),
            "--json",
            "--input",
            "tests/corpus/demo.csv",
            "--case-id",
            "retry-ob19",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["result"]["drg"], "OB19");
    let steps = json["steps"].as_array().unwrap();
    assert!(
        steps
            .iter()
            .any(|s| s["step"] == "retry" && s["procedure"] == "74.1x01"),
        "{json}"
    );
    assert!(
        steps
            .iter()
            .any(|s| s["step"] == "adrg" && s["entry"] == "OB1" && s["matched"] == true)
    );
}

#[test]
fn scheme_compile_info_check_graph_and_corrupt_artifacts() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("demo.drgc").display().to_string();
    let out = drgdip(&["scheme", "compile", &demo(), "--output", &file], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info = drgdip(&["scheme", "info", &file], None);
    let text = String::from_utf8(info.stdout).unwrap();
    assert!(
        text.contains("name:         drgdip_demo") && text.contains("version:      2025.1"),
        "{text}"
    );
    let check = drgdip(&["scheme", "check", &demo()], None);
    assert!(
        String::from_utf8(check.stdout)
            .unwrap()
            .starts_with("ok: drgdip_demo@2025.1#")
    );
    let graph = drgdip(&["scheme", "graph", &demo()], None);
    let dot = String::from_utf8(graph.stdout).unwrap();
    assert!(
        dot.starts_with("digraph scheme {")
            && dot.contains("mdc_MDCB -> entry_BR2;")
            && dot.contains("entry_BR2 -> drg_BR21;"),
        "{dot}"
    );
    // A compiled scheme groups like the folder.
    let input = format!("{HEADER}c1,1,67,,,,9,1,I63.900|A41.900,\n");
    let out = drgdip(
        &["group", "--scheme", &file, "--input", "-"],
        Some(input.as_bytes()),
    );
    assert_eq!(rows(&out)[0][4], "BR21");
    // Truncated file.
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    let out = drgdip(
        &["group", "--scheme", &file, "--input", "-"],
        Some(input.as_bytes()),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("truncated"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn clinical_codes_are_mapped_only_when_asked() {
    let input = format!("{HEADER}c1,1,67,,,,9,1,I63.901,\n");
    let plain = drgdip(
        &["group", "--scheme", &demo(), "--input", "-"],
        Some(input.as_bytes()),
    );
    let r = rows(&plain);
    assert_eq!(r[0][1..5], ["ungroupable", "0000", "00", "0000"]);
    assert!(
        r[0][7].contains("`I63.901` is not in the scheme"),
        "{:?}",
        r[0]
    );
    let mapped = drgdip(
        &["group", "--scheme", &demo(), "--input", "-", "--map-codes"],
        Some(input.as_bytes()),
    );
    let r = rows(&mapped);
    assert_eq!(r[0][1..5], ["grouped", "MDCB", "BR2", "BR25"]);
    assert_eq!(r[0][7], "", "a mapped code is known");
}

#[test]
fn demo_runs_the_whole_chain() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().display().to_string();
    let out = drgdip(&["demo", "--cases", "4000", "--out", &out_dir], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let count = |name: &str| {
        let text = std::fs::read_to_string(dir.path().join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        text.lines().count() - 1
    };
    for name in [
        "cases.csv",
        "drg-grouped.csv",
        "dip-grouped.csv",
        "drg-priced.csv",
        "dip-priced.csv",
    ] {
        assert_eq!(count(name), 4000, "{name}: one row per case");
    }
    assert_eq!(count("drg-settlement.csv"), 40, "one row per hospital");
    let priced = std::fs::read_to_string(dir.path().join("drg-priced.csv")).unwrap();
    assert!(priced.starts_with(
        "case_id,method,group,hospital_id,payment_standard,patient_share,fund_outlay,primary_care,outlier"
    ));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("DRG grouping by status:") && stdout.contains("hospital_id"),
        "{stdout}"
    );
    assert!(dir.path().join("drg-payment-vs-cost.svg").exists());
}
