//! Small workbooks written by the test itself (rust_xlsxwriter): the 2026-09-09 layout
//! and its variations (a title row, an extra leading column, reordered columns, dirty
//! rule cells) read to the same scheme; the workbook semantics (order, fallback rows,
//! statuses, MCC/CC exclusion by membership, distinct counts, newborns) hold in the
//! compiled grouper and in both reference interpreters; every compile error names its
//! sheet, row, column and place, all at once, without a panic.

use std::path::Path;

use drgdip_grouper::reference::{Reference, TextCase};
use drgdip_grouper::workbook::reference::WorkbookReference;
use drgdip_grouper::{CodeKind, Grouper, ResultInfo, Scheme, SchemeError};
use rust_xlsxwriter::Workbook;

/// A sheet: name, headers, rows (numbers written as numbers where the header says 排序).
struct Sheet {
    name: &'static str,
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

fn sheet(name: &'static str, headers: &[&'static str], rows: &[&[&str]]) -> Sheet {
    Sheet {
        name,
        headers: headers.to_vec(),
        rows: rows
            .iter()
            .map(|r| r.iter().map(|c| c.to_string()).collect())
            .collect(),
    }
}

/// The 09-09 layout of a tiny scheme.
fn sheets() -> Vec<Sheet> {
    vec![
        sheet(
            "MDC",
            &["MDC编码", "MDC名称", "MDC规则", "排序"],
            &[
                &["MDCA", "先期分组", "", "1"],
                &["MDCB", "神经系统", "ZYZD in DI_B00", "2"],
                &["MDCP", "新生儿", "(NL=0) and (XSRTL<29)", "3"],
                &["0000", "未入组", "", "4"],
            ],
        ),
        sheet(
            "ADRG",
            &[
                "ADRG编码",
                "ADRG名称",
                "ADRG规则",
                "所属MDC编码",
                "MDC内排序",
            ],
            &[
                &["AA1", "移植", "ZYSS in OP_AA1", "MDCA", "1"],
                &["BB1", "开颅术", "ZYSS in OP_BB1", "MDCB", "1"],
                &["B00", "", "", "MDCB", "2"],
                &[
                    "BR1",
                    "脑缺血",
                    "ZYZD in DI_BR1 and ZYSS not in OP_ALL",
                    "MDCB",
                    "2",
                ],
                &["BQY", "", "ZYSS in OP_ALL", "MDCB", "3"],
                &[
                    "BX1",
                    "多术",
                    "length(OP_BX1 ∩ {ZYSS, QTSS})>=2",
                    "MDCB",
                    "5",
                ],
                &[
                    "PB1",
                    "足月儿",
                    "{ZYZD, QTZD} in DI_PB1 and XSRTZ>2499",
                    "MDCP",
                    "1",
                ],
                &["P00", "", "", "MDCP", "2"],
                &["000", "未入组", "", "0000", "1"],
            ],
        ),
        sheet(
            "DRG",
            &[
                "DRG编码",
                "DRG名称",
                "DRG规则",
                "所属ADRG编码",
                "所属MDC编码",
                "排序",
            ],
            &[
                &["AA19", "移植", "", "AA1", "MDCA", "1"],
                &["BB15", "开颅术，不伴", "", "BB1", "MDCB", "2"],
                &["BB11", "开颅术，伴严重", "QTZD in MCC", "BB1", "MDCB", "1"],
                &[
                    "BR11",
                    "脑缺血，伴",
                    "QTZD in {MCC, CC} OR NL>=70",
                    "BR1",
                    "MDCB",
                    "1",
                ],
                &["BR15", "脑缺血，不伴", "", "BR1", "MDCB", "2"],
                &["BQY", "", "", "BQY", "MDCB", "1"],
                &["B000", "", "", "B00", "MDCB", "1"],
                &["BX19", "多术", "", "BX1", "MDCB", "1"],
                &["PB19", "足月儿", "XB = 1 or XB = 2", "PB1", "MDCP", "1"],
                &["P000", "", "", "P00", "MDCP", "1"],
                &["0000", "未入组", "", "000", "0000", "1"],
            ],
        ),
        sheet(
            "集合",
            &["集合编号", "ICD编码", "ICD名称", "类型编号"],
            &[
                &["OP_AA1", "33.6x00", "", ""],
                &["OP_BB1", "01.2401", "", ""],
                &["OP_ALL", "01.2401", "", ""],
                &["OP_ALL", "33.6x00", "", ""],
                &["OP_ALL", "47.0901", "", ""],
                &["OP_ALL", "01.2401", "", ""],
                &["OP_BX1", "81.0201", "", ""],
                &["OP_BX1", "81.0301", "", ""],
                &["DI_B00", "I63.900", "脑梗死", ""],
                &["DI_B00", "I60.900", "", ""],
                &["DI_BR1", "I63.900", "", ""],
                &["DI_PB1", "P07.100", "", ""],
            ],
        ),
        sheet(
            "CC",
            &["疾病编码", "疾病名称", "排除表", "类型"],
            &[
                &["J18.900", "肺炎", "EX_1", "CC"],
                &["R57.000", "心源性休克", "EX_2", "MCC"],
                &["E11.900", "糖尿病", "无", "CC"],
            ],
        ),
        sheet(
            "排除表",
            &["集合编号", "ICD编码", "ICD名称"],
            &[&["EX_1", "J18.900", ""], &["EX_2", "I63.900", ""]],
        ),
    ]
}

#[derive(Clone, Copy, Default)]
struct Layout {
    title_rows: bool,
    leading_column: bool,
    reversed_columns: bool,
    dirty_cells: bool,
}

fn dirty(text: &str) -> String {
    // Excel's escaped carriage return, line breaks, full-width and non-breaking spaces.
    text.replacen(" in ", "_x000D_\n in\u{3000}\u{a0} ", 1)
        .replacen(" and ", "  and\r\n", 1)
}

fn write(sheets: &[Sheet], layout: Layout) -> Vec<u8> {
    let mut wb = Workbook::new();
    for s in sheets {
        let ws = wb.add_worksheet();
        ws.set_name(s.name).unwrap();
        let mut row = 0u32;
        if layout.title_rows || s.name == "MDC" {
            ws.write_string(0, 0, "按病组（DRG）付费3.0版分组方案配置信息")
                .unwrap();
            row = 1;
        }
        let lead = u16::from(layout.leading_column && s.name == "ADRG");
        let n = s.headers.len() as u16;
        let col = |k: usize| {
            let k = k as u16;
            lead + if layout.reversed_columns {
                n - 1 - k
            } else {
                k
            }
        };
        for (k, h) in s.headers.iter().enumerate() {
            ws.write_string(row, col(k), *h).unwrap();
        }
        for r in &s.rows {
            row += 1;
            for (k, v) in r.iter().enumerate() {
                let h = s.headers[k];
                if v.is_empty() {
                    continue;
                }
                if h.contains("排序") {
                    ws.write_number(row, col(k), v.parse::<f64>().unwrap())
                        .unwrap();
                } else if h.contains("规则") && layout.dirty_cells {
                    ws.write_string(row, col(k), dirty(v)).unwrap();
                } else {
                    ws.write_string(row, col(k), v).unwrap();
                }
            }
        }
    }
    wb.save_to_buffer().unwrap()
}

fn read(bytes: &[u8]) -> Result<Scheme, SchemeError> {
    Scheme::from_workbook_bytes(Path::new("test.xlsx"), bytes, None)
}

/// What a scheme says, without where it says it (row numbers differ between layouts).
fn fingerprint(s: &Scheme) -> String {
    let r = &s.rules;
    let mut out = String::new();
    for m in &r.mdcs {
        out += &format!(
            "{} {} {:?} {:?}\n",
            m.mdc, m.entry_rule, m.adrgs, m.source_text
        );
    }
    for a in &r.adrgs {
        out += &format!(
            "{} {} {} {:?} {:?}\n",
            a.adrg, a.mdc, a.rule, a.drgs, a.source_text
        );
    }
    for d in &r.drgs {
        out += &format!("{} {} {} {:?}\n", d.drg, d.name, d.condition, d.source_text);
    }
    out += &format!(
        "{:?}\n",
        r.lists
            .iter()
            .map(|(k, v)| (k, &v.codes))
            .collect::<Vec<_>>()
    );
    for t in s.mcc.iter().chain(&s.cc).chain(&s.exclusion_members) {
        out += &format!("{} {}\n", t.code, t.table);
    }
    out += &format!("{:?} {:?}\n", s.result_columns, s.info.version);
    out
}

#[test]
fn every_layout_reads_to_the_same_scheme() {
    let base = read(&write(&sheets(), Layout::default())).unwrap();
    assert_eq!(base.info.version, "3.0");
    let want = fingerprint(&base);
    let layouts = [
        Layout {
            title_rows: true,
            ..Layout::default()
        },
        Layout {
            leading_column: true,
            ..Layout::default()
        },
        Layout {
            reversed_columns: true,
            ..Layout::default()
        },
        Layout {
            dirty_cells: true,
            ..Layout::default()
        },
        Layout {
            title_rows: true,
            leading_column: true,
            reversed_columns: true,
            dirty_cells: true,
        },
    ];
    for (i, l) in layouts.iter().enumerate() {
        let s = read(&write(&sheets(), *l)).unwrap_or_else(|e| panic!("layout {i}: {e}"));
        assert_eq!(fingerprint(&s), want, "layout {i}");
        Grouper::compile(&s).unwrap();
    }
    // The dirty cells really were dirty, and the cleaned text is the one kept.
    assert!(dirty("ZYSS in OP_A and NL>=70").contains("_x000D_"));
    assert_eq!(
        base.rules
            .adrgs
            .iter()
            .find(|a| a.adrg == "BR1")
            .unwrap()
            .source_text
            .as_deref(),
        Some("ZYZD in DI_BR1 and ZYSS not in OP_ALL")
    );
}

fn case(
    sex: u8,
    age: i64,
    days: Option<i64>,
    weight: Option<i64>,
    dx: &[&str],
    px: &[&str],
) -> TextCase {
    TextCase {
        sex: Some(sex),
        age: Some(age),
        age_days: days,
        weight,
        dx: dx.iter().map(|c| c.to_string()).collect(),
        px: px.iter().map(|c| c.to_string()).collect(),
        ..TextCase::default()
    }
}

fn cols(r: &ResultInfo) -> String {
    format!("{},{},{},{}", r.status.as_str(), r.mdc, r.adrg, r.drg)
}

#[test]
fn workbook_semantics_in_every_engine() {
    let scheme = read(&write(&sheets(), Layout::default())).unwrap();
    let grouper = Grouper::compile(&scheme).unwrap();
    let workbook = WorkbookReference::new(&scheme);
    let folder = Reference::new(&scheme);
    let cases = [
        // Principal procedure in OP_BB1, the MCC R57.000 excluded: EX_2 holds I63.900.
        (
            case(1, 60, None, None, &["I63.900", "R57.000"], &["01.2401"]),
            "grouped,MDCB,BB1,BB15",
        ),
        // The same MCC with a principal outside EX_2 counts.
        (
            case(1, 60, None, None, &["I60.900", "R57.000"], &["01.2401"]),
            "grouped,MDCB,BB1,BB11",
        ),
        // BR1 before the fallback B00 although B00's 排序 is smaller; NL>=70.
        (
            case(2, 75, None, None, &["I63.900"], &[]),
            "grouped,MDCB,BR1,BR11",
        ),
        (
            case(2, 40, None, None, &["I63.900"], &[]),
            "grouped,MDCB,BR1,BR15",
        ),
        // A CC whose table does not hold the principal; `无` never excludes.
        (
            case(2, 40, None, None, &["I63.900", "J18.900"], &[]),
            "grouped,MDCB,BR1,BR11",
        ),
        (
            case(2, 40, None, None, &["I63.900", "E11.900"], &[]),
            "grouped,MDCB,BR1,BR11",
        ),
        // A procedure of no ADRG of the MDC: the ambiguity row.
        (
            case(1, 50, None, None, &["I60.900"], &["47.0901"]),
            "ambiguous,MDCB,BQY,BQY",
        ),
        // Two distinct codes of OP_BX1; the same code twice is one.
        (
            case(1, 50, None, None, &["I60.900"], &["81.0301", "81.0201"]),
            "grouped,MDCB,BX1,BX19",
        ),
        (
            case(1, 50, None, None, &["I60.900"], &["81.0301", "81.0301"]),
            "ungroupable,MDCB,B00,B000",
        ),
        // No ADRG holds: the MDC's fallback row.
        (
            case(1, 50, None, None, &["I60.900"], &[]),
            "ungroupable,MDCB,B00,B000",
        ),
        // Newborns: weight band, then the MDC's fallback.
        (
            case(1, 0, Some(10), Some(3000), &["P07.100"], &[]),
            "grouped,MDCP,PB1,PB19",
        ),
        (
            case(2, 0, Some(10), Some(2000), &["Q99.000", "P07.100"], &[]),
            "ungroupable,MDCP,P00,P000",
        ),
        // MDCA: codes match whatever their letter case; no MDC: the global row.
        (
            case(1, 50, None, None, &["Z99.999"], &["33.6X00"]),
            "grouped,MDCA,AA1,AA19",
        ),
        (
            case(1, 50, None, None, &["Z99.999"], &[]),
            "ungroupable,0000,000,0000",
        ),
        // Validation.
        (
            case(3, 50, None, None, &["I63.900"], &[]),
            "invalid,0000,000,0000",
        ),
        (
            case(1, 0, Some(3), None, &["P07.100"], &[]),
            "invalid,0000,000,0000",
        ),
        (
            case(1, 0, None, Some(3000), &["P07.100"], &[]),
            "invalid,0000,000,0000",
        ),
        (case(1, 5, None, None, &[], &[]), "invalid,0000,000,0000"),
    ];
    let mut scratch = grouper.scratch();
    let mut c = drgdip_grouper::Case::default();
    for (i, (t, want)) in cases.iter().enumerate() {
        c.clear();
        c.sex = t.sex;
        c.age = t.age;
        c.age_days = t.age_days;
        c.weight = t.weight;
        c.dx.extend(
            t.dx.iter()
                .map(|x| grouper.lookup(x, CodeKind::Diagnosis, false).id),
        );
        c.px.extend(
            t.px.iter()
                .map(|x| grouper.lookup(x, CodeKind::Procedure, false).id),
        );
        let got = grouper.result(&grouper.group(&c, &mut scratch)).clone();
        assert_eq!(cols(&got), *want, "case {i}: compiled");
        assert_eq!(
            cols(&workbook.group(t)),
            *want,
            "case {i}: workbook reference"
        );
        assert_eq!(cols(&folder.group(t)), *want, "case {i}: folder reference");
    }
}

#[test]
fn explain_shows_each_atom_with_the_codes_that_decide_it() {
    let scheme = read(&write(&sheets(), Layout::default())).unwrap();
    let grouper = Grouper::compile(&scheme).unwrap();
    let mut c = drgdip_grouper::Case {
        sex: Some(1),
        age: Some(60),
        ..Default::default()
    };
    for x in ["I60.900", "R57.000"] {
        c.dx.push(grouper.lookup(x, CodeKind::Diagnosis, false).id);
    }
    c.px.push(grouper.lookup("01.2401", CodeKind::Procedure, false).id);
    let e = grouper.explain(&c);
    let text = serde_json::to_string(&e).unwrap();
    for want in [
        "ZYZD in DI_B00 ✓ I60.900",
        "ZYSS in OP_BB1 ✓ 01.2401",
        "QTZD in MCC ✓ R57.000",
        "ADRG sheet, row 3",
        "DRG sheet, row 4",
    ] {
        assert!(text.contains(want), "{want} missing from {text}");
    }
    assert_eq!(e.complications.len(), 1);
    assert!(!e.complications[0].excluded);
    assert_eq!(e.complications[0].table, "EX_2");
    // An ungroupable case says why.
    let mut c2 = c.clone();
    c2.px.clear();
    let e = grouper.explain(&c2);
    assert_eq!(e.result.drg, "B000");
    assert!(e.why.as_deref().unwrap().contains("fallback row B00"));
}

fn problems(sheets: &[Sheet]) -> Vec<String> {
    match read(&write(sheets, Layout::default())) {
        Err(SchemeError::Invalid(p)) => p,
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("the workbook should not read"),
    }
}

fn set_rule(sheets: &mut [Sheet], sheet: &str, code: &str, rule: &str) {
    let s = sheets.iter_mut().find(|s| s.name == sheet).unwrap();
    let k = s.headers.iter().position(|h| h.contains("规则")).unwrap();
    s.rows.iter_mut().find(|r| r[0] == code).unwrap()[k] = rule.into();
}

#[test]
fn an_unparsable_rule_names_sheet_row_column_and_place() {
    let mut s = sheets();
    set_rule(&mut s, "ADRG", "BB1", "ZYSS in OP_BB1 and");
    let p = problems(&s);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].starts_with(
            "ADRG sheet, row 3, column C (ADRG规则), character 19: expected a condition"
        ),
        "{}",
        p[0]
    );
}

#[test]
fn an_unknown_variable_is_an_error() {
    let mut s = sheets();
    set_rule(&mut s, "DRG", "BB11", "QTZD in MCC and ZYXX in OP_BB1");
    let p = problems(&s);
    assert!(
        p[0].starts_with(
            "DRG sheet, row 4, column C (DRG规则), character 17: unknown variable `ZYXX`"
        ),
        "{p:?}"
    );
}

#[test]
fn an_unknown_set_is_an_error() {
    let mut s = sheets();
    set_rule(&mut s, "MDC", "MDCB", "ZYZD in DI_NOPE");
    let p = problems(&s);
    // MDC's header is row 2 (row 1 is the title): MDCB is row 4.
    assert!(
        p[0].starts_with(
            "MDC sheet, row 4, column C (MDC规则), character 9: unknown set `DI_NOPE`"
        ),
        "{p:?}"
    );
}

#[test]
fn a_missing_sheet_and_a_missing_column_are_errors() {
    let mut s = sheets();
    s.retain(|x| x.name != "排除表");
    let p = problems(&s);
    assert!(
        p.iter().any(|m| m.starts_with("missing sheet `排除表`")),
        "{p:?}"
    );

    let mut s = sheets();
    let adrg = s.iter_mut().find(|x| x.name == "ADRG").unwrap();
    adrg.headers[4] = "排序号";
    let p = problems(&s);
    assert!(
        p.iter()
            .any(|m| m.starts_with("ADRG sheet, row 1: missing column `MDC内排序`")),
        "{p:?}"
    );
}

#[test]
fn all_errors_are_reported_together() {
    let mut s = sheets();
    set_rule(&mut s, "ADRG", "BB1", "ZYSS in OP_BB1 and");
    set_rule(&mut s, "DRG", "BB11", "ZYXX in OP_BB1");
    set_rule(&mut s, "MDC", "MDCB", "ZYZD in DI_NOPE");
    set_rule(&mut s, "DRG", "BR11", "NL in DI_B00 or XB = 3");
    s.iter_mut().find(|x| x.name == "CC").unwrap().rows[0][3] = "CCC".into();
    s.retain(|x| x.name != "排除表");
    let p = problems(&s);
    assert_eq!(p.len(), 7, "{p:#?}");
}

#[test]
fn bad_bytes_and_bad_errata_are_errors_not_panics() {
    let e = read(b"not a workbook").unwrap_err();
    assert!(matches!(e, SchemeError::Workbook { .. }), "{e}");
    let bytes = write(&sheets(), Layout::default());
    let errata = br#"{"exclusion_additions":[{"table":"EX_9","code":"A00.000"}]}"#;
    match Scheme::from_workbook_bytes(
        Path::new("t.xlsx"),
        &bytes,
        Some((Path::new("e.json"), errata)),
    ) {
        Err(SchemeError::Invalid(p)) => assert!(p[0].contains("table `EX_9`"), "{p:?}"),
        other => panic!("{other:?}"),
    }
    let errata = br#"{"exclusion_additions":[{"table":1}]}"#;
    let e = Scheme::from_workbook_bytes(
        Path::new("t.xlsx"),
        &bytes,
        Some((Path::new("e.json"), errata)),
    )
    .unwrap_err();
    assert!(matches!(e, SchemeError::Json { .. }), "{e}");
    // Errata members count like the sheet's own: J18.900's table EX_1 gains I60.900.
    let errata = br#"{"exclusion_additions":[{"table":"EX_1","code":"I63.900"}]}"#;
    let s = Scheme::from_workbook_bytes(
        Path::new("t.xlsx"),
        &bytes,
        Some((Path::new("e.json"), errata)),
    )
    .unwrap();
    let g = Grouper::compile(&s).unwrap();
    let mut c = drgdip_grouper::Case {
        sex: Some(1),
        age: Some(40),
        ..Default::default()
    };
    for x in ["I63.900", "J18.900"] {
        c.dx.push(g.lookup(x, CodeKind::Diagnosis, false).id);
    }
    assert_eq!(g.result(&g.group(&c, &mut g.scratch())).drg, "BR15");
}
