//! Reading national DIP workbooks written here with rust_xlsxwriter: a small valid one
//! (read, compiled and grouped), and faulty ones whose every problem names sheet, row
//! and column.

use std::path::Path;

use drgdip_grouper::dip::workbook::{self as wbk, NationalWorkbook};
use drgdip_grouper::dip::{Catalog, DipCase, DipStatus};
use rust_xlsxwriter::Workbook;

/// A cell value: text, or a number.
enum V {
    T(&'static str),
    N(f64),
}

/// A sheet: its name and rows (1-based row number, cells from column A).
type Sheet = (&'static str, Vec<(u32, Vec<V>)>);

/// Writes a workbook.
fn xlsx(sheets: &[Sheet]) -> Vec<u8> {
    let mut book = Workbook::new();
    for (name, rows) in sheets {
        let ws = book.add_worksheet();
        ws.set_name(*name).unwrap();
        ws.write_string(0, 0, "标题").unwrap();
        for (row, cells) in rows {
            for (col, v) in cells.iter().enumerate() {
                match v {
                    V::T("") => {}
                    V::T(t) => {
                        ws.write_string(row - 1, col as u16, *t).unwrap();
                    }
                    V::N(n) => {
                        ws.write_number(row - 1, col as u16, *n).unwrap();
                    }
                }
            }
        }
    }
    book.save_to_buffer().unwrap()
}

fn valid_sheets() -> Vec<Sheet> {
    use V::*;
    vec![
        (
            wbk::SHEET_PRE,
            vec![
                (
                    4,
                    vec![
                        T("XQ"),
                        N(1.0),
                        T("肾移植"),
                        T("所有诊断"),
                        T("所有诊断"),
                        T("55.6100|55.6901"),
                        T(""),
                    ],
                ),
                (
                    19,
                    vec![
                        T("分类"),
                        T("序号"),
                        T("分组名称"),
                        T("主要诊断编码"),
                        T("主要诊断名称"),
                        T("天龄"),
                        T("出生体重"),
                    ],
                ),
                (
                    20,
                    vec![
                        T("XQ"),
                        N(2.0),
                        T("超低出生体重儿"),
                        T("P07"),
                        T("x"),
                        T("<29天"),
                        T("出生体重0-999克"),
                        T("诊断中包含P07，不限定为主要诊断"),
                    ],
                ),
            ],
        ),
        (
            wbk::SHEET_MERGE,
            vec![
                (
                    3,
                    vec![
                        T("BX"),
                        N(3.0),
                        T("A09.0"),
                        T("胃肠炎"),
                        T("44.1300x001"),
                        T("胃镜检查"),
                        T(""),
                        T(""),
                    ],
                ),
                (
                    4,
                    vec![
                        T("BX"),
                        N(4.0),
                        T("A09.0"),
                        T("胃肠炎"),
                        T("44.1300x001"),
                        T("胃镜检查"),
                        T("45.2302|45.2501+99.0400"),
                        T("x"),
                    ],
                ),
            ],
        ),
        (
            wbk::SHEET_BURN,
            vec![(
                4,
                vec![
                    T("FZ"),
                    N(5.0),
                    T("T20.2|T20.6"),
                    T("二度"),
                    T("T31.0|T32.0"),
                    T("面积＜10%"),
                ],
            )],
        ),
        (
            wbk::SHEET_TUMOR,
            vec![(
                3,
                vec![
                    T("FZ"),
                    N(6.0),
                    T("Z51.1"),
                    T("化疗"),
                    T("C00-C75"),
                    T("x"),
                    T("99.2503"),
                    T("静脉注射化疗药物"),
                ],
            )],
        ),
        (
            wbk::SHEET_TB,
            vec![(
                3,
                vec![
                    T("FZ"),
                    N(7.0),
                    T("A15-A16"),
                    T("结核"),
                    T(""),
                    T(""),
                    T("是"),
                    T(""),
                ],
            )],
        ),
        (
            wbk::SHEET_TB_LIST,
            vec![(3, vec![T("A15.000x010"), T("耐药")])],
        ),
        (
            wbk::SHEET_CORE,
            vec![(3, vec![T("JC"), N(8.0), T("A09.0"), T("胃肠炎")])],
        ),
        (wbk::SHEET_EXCL_DX, vec![(4, vec![T("A09.000"), T("x")])]),
        (
            wbk::SHEET_EXCL_PX,
            vec![
                (3, vec![T("00.0100"), T("x"), T("按保守治疗入组")]),
                (
                    4,
                    vec![
                        T("44.1300x001"),
                        T("胃镜检查"),
                        T(
                            "A00-A09|C15-C26|D01|\nD12|D13|D37|I85 |K20-K93作为主要诊断，可作为主要手术操作",
                        ),
                    ],
                ),
            ],
        ),
        (
            wbk::SHEET_PRIMARY,
            vec![(3, vec![N(1.0), T("A09.0"), T("胃肠炎")])],
        ),
    ]
}

#[test]
fn a_small_workbook_reads_compiles_and_groups() {
    let bytes = xlsx(&valid_sheets());
    let wb = NationalWorkbook::from_bytes(&bytes, Path::new("small.xlsx")).expect("reads");
    assert_eq!(wb.types.len(), 8);
    assert_eq!(wb.types[1].code(), "XQ-2");
    assert_eq!(wb.types[3].related.groups.len(), 2);
    let c = Catalog::compile(&wb.to_source()).expect("compiles");
    let group = |dx: &[&str], px: &[&str]| {
        let mut k = DipCase::default();
        k.dx.extend(dx.iter().map(|d| c.dx(d).id));
        k.px.extend(px.iter().map(|p| c.px(p).id));
        let o = c.group(&k, &mut c.scratch());
        (
            o.status,
            c.type_of(&o).map(|t| t.code.clone()),
            o.primary_care,
        )
    };
    assert_eq!(
        group(&["A09.001"], &["44.1300x001"]).1.as_deref(),
        Some("BX-3")
    );
    assert_eq!(
        group(&["A09.001"], &["44.1300x001", "45.2501", "99.0400"])
            .1
            .as_deref(),
        Some("BX-4")
    );
    assert_eq!(
        group(&["A09.001"], &[]),
        (DipStatus::Grouped, Some("JC-8".into()), true)
    );
    assert_eq!(group(&["A09.000"], &[]).0, DipStatus::Excluded);
    assert_eq!(group(&["A15.000x010"], &[]).1.as_deref(), Some("FZ-7"));
    assert_eq!(group(&["A15.001"], &[]).0, DipStatus::Ungrouped);
}

#[test]
fn every_fault_names_sheet_row_and_column() {
    use V::*;
    let mut sheets = valid_sheets();
    // A missing sheet.
    sheets.retain(|(n, _)| *n != wbk::SHEET_TB_LIST);
    for (name, rows) in &mut sheets {
        match *name {
            wbk::SHEET_MERGE => {
                // An unparsable procedure cell and a duplicate 序号.
                rows.push((
                    5,
                    vec![T("BX"), N(9.0), T("A09.0"), T("x"), T("44.13||x"), T("")],
                ));
                rows.push((6, vec![T("BX"), N(3.0), T("A09.9"), T("x"), T(""), T("")]));
            }
            wbk::SHEET_EXCL_DX => rows.push((5, vec![N(12.5), T("a number")])),
            wbk::SHEET_EXCL_PX => rows.push((5, vec![T("01.0100"), T("x"), T("随便写的备注")])),
            wbk::SHEET_CORE => rows.push((4, vec![T("BX"), T("十"), T("A0X-A09")])),
            _ => {}
        }
    }
    let bytes = xlsx(&sheets);
    let err = NationalWorkbook::from_bytes(&bytes, Path::new("bad.xlsx")).unwrap_err();
    let got: Vec<(String, u32, String)> = err
        .problems()
        .iter()
        .map(|p| (p.sheet.clone(), p.row, p.column.clone()))
        .collect();
    let want = [
        (wbk::SHEET_TB_LIST, 0, ""),
        (wbk::SHEET_MERGE, 5, "E"),
        (wbk::SHEET_CORE, 4, "A"),
        (wbk::SHEET_CORE, 4, "B"),
        (wbk::SHEET_CORE, 4, "C"),
        (wbk::SHEET_EXCL_DX, 5, "A"),
        (wbk::SHEET_EXCL_PX, 5, "C"),
        (wbk::SHEET_MERGE, 6, "B"),
    ];
    for (s, r, c) in want {
        assert!(
            got.contains(&(s.to_string(), r, c.to_string())),
            "missing problem at {s} row {r} column {c}: {err}"
        );
    }
    assert_eq!(got.len(), want.len(), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("bad.xlsx") && text.contains("row 6, column B"),
        "{text}"
    );
    // Not a workbook at all.
    let e = NationalWorkbook::from_bytes(b"not a zip", Path::new("x.xlsx")).unwrap_err();
    assert!(e.to_string().contains("not a readable .xlsx"), "{e}");
}
