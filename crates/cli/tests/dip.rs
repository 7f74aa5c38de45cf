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
