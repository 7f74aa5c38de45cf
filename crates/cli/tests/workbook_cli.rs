//! `drgdip` with CHS-DRG 3.0's official workbook (`.xlsx`) as the scheme: compile with
//! errata, info, group, explain (text and JSON), gen, graph; errata on a folder and a
//! broken workbook are errors.

use std::path::PathBuf;
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The workbook and errata, or `None` (with a visible line) outside CI without ../shared.
fn shared() -> Option<(String, String)> {
    let dir = root().join("../shared/schemes/chs-drg-3.0");
    if !dir.exists() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{} is missing", dir.display());
        }
        eprintln!("SKIPPED: {} not found", dir.display());
        return None;
    }
    Some((
        dir.join("chs-drg-3.0-workbook.xlsx").display().to_string(),
        dir.join("errata.json").display().to_string(),
    ))
}

fn drgdip(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_drgdip"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("drgdip runs")
}

fn ok(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
#[cfg_attr(
    drgdip_no_shared,
    ignore = "needs ../shared (the real national schemes), which is not beside this checkout"
)]
fn the_workbook_is_a_scheme_everywhere() {
    let Some((book, errata)) = shared() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let drgc = dir.path().join("c30.drgc").display().to_string();
    let out = drgdip(&["scheme", "compile", &book, "--errata", &errata, "-o", &drgc]);
    ok(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("compiled chs_drg@3.0#"), "{err}");

    let info = ok(&drgdip(&["scheme", "info", &drgc]));
    assert!(
        info.contains("results:      825 grouped, 21 QY, 25 no-match"),
        "{info}"
    );
    let check = ok(&drgdip(&["scheme", "check", &book, "--errata", &errata]));
    assert!(check.contains("ok: chs_drg@3.0#"), "{check}");
    // Without the errata the identity differs.
    let bare = ok(&drgdip(&["scheme", "info", &book]));
    let hash = |s: &str| {
        s.lines()
            .find(|l| l.starts_with("content hash"))
            .unwrap()
            .to_string()
    };
    assert_ne!(hash(&bare), hash(&info));

    let cases = dir.path().join("cases.csv").display().to_string();
    ok(&drgdip(&[
        "gen", "--scheme", &book, "--errata", &errata, "--cases", "3000", "--output", &cases,
    ]));
    let a = ok(&drgdip(&[
        "group",
        "--scheme",
        &drgc,
        "--input",
        &cases,
        "--threads",
        "1",
    ]));
    let b = ok(&drgdip(&[
        "group",
        "--scheme",
        &book,
        "--errata",
        &errata,
        "--input",
        &cases,
        "--threads",
        "2",
    ]));
    assert_eq!(a, b);
    assert_eq!(a.lines().count(), 3001);
    // The generator redraws a case until it groups, so generated cases are `grouped`;
    // ambiguous (…QY) rows are covered by the 20k reference cases.
    assert!(a.contains(",grouped,"), "{a}");

    let text = ok(&drgdip(&[
        "explain", "--scheme", &drgc, "--sex", "1", "--age", "60", "--los", "5", "--dx", "A49.817",
        "--px", "75.3101",
    ]));
    for want in [
        "result   grouped MDCS SB1 SB15",
        "enter MDCS 感染及寄生虫病 (全身性或不明确部位的) [MDC sheet, row 22]: ZYZD in DI_S00",
        "· ZYZD in DI_S00 ✓ A49.817",
        "· ZYSS in OP_ALL ✓ 75.3101",
        "· QTZD in MCC ✗",
        // An MDC skipped names its row and the atom that failed, with the case's code.
        "not MDCB 神经系统疾病及功能障碍 [MDC sheet, row 6]: ZYZD in DI_B00 ✗ (ZYZD A49.817)",
        // The ADRG and DRG tried, with their names.
        "ADRG SB1 全身性感染疾病的手术 [ADRG sheet,",
        "DRG SB15 全身性感染疾病的手术，不伴合并症或并发症 [DRG sheet, row 759] if (empty rule): yes",
    ] {
        assert!(text.contains(want), "{want}:\n{text}");
    }
    let json = ok(&drgdip(&[
        "explain", "--scheme", &drgc, "--sex", "1", "--age", "60", "--los", "5", "--dx", "Z99.999",
        "--json",
    ]));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["result"]["drg"], "0000");
    assert!(v["why"].as_str().unwrap().contains("未入组"), "{json}");

    let dot = ok(&drgdip(&["scheme", "graph", &book, "--errata", &errata]));
    assert!(dot.starts_with("digraph"), "{}", &dot[..dot.len().min(80)]);
}

#[test]
fn errata_on_a_folder_and_a_broken_workbook_are_errors() {
    let out = drgdip(&[
        "scheme",
        "info",
        "data/demo-scheme",
        "--errata",
        "data/demo-policy.toml",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("applies to a workbook scheme"));
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.xlsx");
    std::fs::write(&bad, b"PK not really").unwrap();
    let out = drgdip(&["scheme", "check", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.xlsx") && err.contains("not a readable .xlsx workbook"),
        "{err}"
    );
}
