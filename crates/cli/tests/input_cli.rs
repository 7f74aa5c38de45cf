//! The first hour with hospital files, end to end: GB18030 named in the summary, a
//! workbook out, the wrong-scheme warning, and error messages without repeats.

use std::path::PathBuf;
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn demo() -> String {
    root().join("data/demo-scheme").display().to_string()
}

fn drgdip(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_drgdip"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("drgdip runs")
}

/// `drgdip group` with the demo scheme, `input` to `output`, and `extra` arguments.
fn group(input: &std::path::Path, output: &str, extra: &[&str]) -> Output {
    let input = input.to_str().expect("a UTF-8 path");
    let scheme = demo();
    let mut args = vec![
        "group", "--scheme", &scheme, "--input", input, "--output", output,
    ];
    args.extend_from_slice(extra);
    drgdip(&args)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const CASES: &str = "\
case_id,sex,age,age_days,weight,dept,los,discharge_way,diagnoses,procedures
c1,男,67,,,神经内科,9,1,I63.900|A41.900,
c2,女,30,,,产科,3,1,O80.000,
";

#[test]
fn a_gb18030_file_is_grouped_and_the_summary_names_the_encoding() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("gb.csv");
    let (bytes, _, _) = encoding_rs::GB18030.encode(CASES);
    std::fs::write(&input, &bytes).unwrap();
    let out = dir.path().join("out.csv");
    let o = group(&input, out.to_str().unwrap(), &["--bom"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("2 grouped")
            && err.contains("input gb18030 (detected: the file is not UTF-8)"),
        "{err}"
    );
    let written = std::fs::read(&out).unwrap();
    assert!(written.starts_with(b"\xEF\xBB\xBFcase_id,status"));
    // Given explicitly, the summary says so.
    let o = group(&input, "-", &["--encoding", "gbk"]);
    assert!(
        stderr(&o).contains("input GBK (--encoding)"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn results_can_be_written_as_a_workbook() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("cases.csv");
    std::fs::write(&input, CASES).unwrap();
    let out = dir.path().join("grouped.xlsx");
    let o = group(&input, out.to_str().unwrap(), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (csv, sheet) = drgdip_io::excel::read_sheet(&out, None).unwrap();
    assert_eq!(sheet, "group");
    let text = String::from_utf8(csv).unwrap();
    assert!(text.starts_with("case_id,status,mdc,adrg,drg"), "{text}");
    assert!(text.contains("c2,grouped,MDCO"), "{text}");
    // The workbook groups again like the CSV it came from.
    let o = group(&input, "-", &[]);
    let csv_out = String::from_utf8(o.stdout).unwrap();
    assert_eq!(text, csv_out);
}

#[test]
fn a_file_of_another_code_version_gets_a_loud_warning() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("cases.csv");
    let mut text = String::from("case_id,sex,age,los,diagnoses\n");
    for i in 0..10 {
        text += &format!("c{i},1,60,5,I63.900x00{}\n", i % 3 + 1);
    }
    std::fs::write(&input, text).unwrap();
    let o = group(&input, "-", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(
            "WARNING: the cases do not fit the scheme: 100.0% of the cases are ungroupable"
        ),
        "{err}"
    );
    assert!(err.contains("--map-codes"), "{err}");
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(
        out.contains("principal diagnosis I63.900x001 is not a code of drgdip_demo"),
        "{out}"
    );
}

#[test]
fn error_messages_say_each_thing_once() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.csv");
    std::fs::write(&empty, "").unwrap();
    let empty = empty.to_str().unwrap();
    // The same words for an empty input in every command that reads cases.
    for args in [
        vec!["group", "--scheme", &demo(), "--input", empty],
        vec![
            "dip",
            "group",
            "--catalog",
            "data/demo-catalog",
            "--input",
            empty,
        ],
        vec![
            "price",
            "--policy",
            "data/demo-policy.toml",
            "--input",
            empty,
        ],
        vec!["report", "--input", empty],
    ] {
        let o = drgdip(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = stderr(&o);
        assert!(
            err.contains("is empty (no header, no rows)"),
            "{args:?}: {err}"
        );
    }
    // A missing scheme is not called a compiled scheme, and no cause is said twice.
    let o = drgdip(&["group", "--scheme", "no/such/dir", "--input", empty]);
    let err = stderr(&o);
    assert!(err.contains("no/such/dir: no such scheme folder"), "{err}");
    let o = drgdip(&["group", "--scheme", "data/demo-catalog", "--input", empty]);
    let err = stderr(&o);
    assert!(
        err.contains("data/demo-catalog is a folder without scheme.json")
            && err.contains("give it to --catalog"),
        "{err}"
    );
    let cases = dir.path().join("cases.csv");
    std::fs::write(&cases, CASES).unwrap();
    let o = drgdip(&[
        "price",
        "--policy",
        "no-such.toml",
        "--input",
        cases.to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert!(err.contains("no-such.toml"), "{err}");
    assert_eq!(err.matches("os error 2").count(), 1, "{err}");
}
