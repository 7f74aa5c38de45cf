//! Files as hospitals export them: GB18030 text, Excel workbooks, the 病案首页 shape with
//! one column per diagnosis, JSON Lines with carried columns; and what the run says
//! about rows it cannot group and files that do not fit the scheme.

use std::path::PathBuf;

use drgdip_grouper::{Grouper, Scheme};
use drgdip_io::decode::{self, Chosen};
use drgdip_io::drg::fit_warning;
use drgdip_io::excel;
use drgdip_io::mapping::ColumnMap;
use drgdip_io::{Format, GroupJob, Options, Summary};
use encoding_rs::GB18030;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn demo() -> Grouper {
    let scheme = Scheme::from_dir(root().join("data/demo-scheme")).unwrap();
    Grouper::compile(&scheme).unwrap()
}

fn group(g: &Grouper, input: impl std::io::Read + Send, options: &Options) -> (String, Summary) {
    let job = GroupJob::new(g, false);
    let mut out = Vec::new();
    let summary = drgdip_io::run(&job, input, &mut out, options, &|_, _| {}).unwrap();
    // Lossy: a file read in the wrong encoding carries bytes that are not UTF-8.
    (String::from_utf8_lossy(&out).into_owned(), summary)
}

fn records(text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect()
}

/// Column `name` of every data row.
fn column(text: &str, name: &str) -> Vec<String> {
    let rows = records(text);
    let i = rows[0].iter().position(|h| h == name).unwrap();
    rows[1..].iter().map(|r| r[i].clone()).collect()
}

const CASES: &str = "\
case_id,sex,age,age_days,weight,dept,los,discharge_way,diagnoses,procedures,备注
c1,男,67,,,神经内科,9,1,I63.900|A41.900,,脑梗死
c2,女,30,,,产科,3,1,O80.000,,顺产
c3,1,50,,,,6,1,O80.000,,男性产科诊断
c4,2,45,,,,5,1,K35.800,,未知编码
";

#[test]
fn a_gb18030_file_groups_like_its_utf8_original() {
    let g = demo();
    let (gb, _, unmappable) = GB18030.encode(CASES);
    assert!(!unmappable);
    assert!(
        std::str::from_utf8(&gb).is_err(),
        "the test file must not be UTF-8"
    );
    let options = Options {
        carry: true,
        ..Options::default()
    };
    let (plain, _) = group(&g, CASES.as_bytes(), &options);
    let decoded = decode::decode(&gb[..], None).unwrap();
    let detected = decoded.detected();
    assert_eq!(detected.encoding, GB18030);
    assert_eq!(detected.chosen, Chosen::NotUtf8);
    assert!(
        detected.describe().contains("gb18030"),
        "{}",
        detected.describe()
    );
    let (from_gb, summary) = group(&g, decoded, &options);
    assert_eq!(from_gb, plain);
    assert_eq!(summary.counts, [2, 2, 0, 0]);
    assert_eq!(column(&from_gb, "备注")[0], "脑梗死");
    assert_eq!(column(&from_gb, "status")[0], "grouped");
    // Read as if it were UTF-8, the same bytes make every row invalid.
    let utf8 = decode::decode(&gb[..], Some(encoding_rs::UTF_8)).unwrap();
    let (wrong, _) = group(&g, utf8, &options);
    assert_eq!(column(&wrong, "status")[..2], ["invalid", "invalid"]);
    assert!(column(&wrong, "message")[0].contains("not valid UTF-8"));
}

#[test]
fn an_xlsx_sheet_groups_like_the_csv() {
    let g = demo();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cases.xlsx");
    let mut book = rust_xlsxwriter::Workbook::new();
    book.add_worksheet().set_name("封面").unwrap();
    let ws = book.add_worksheet().set_name("病例").unwrap();
    for (r, row) in records(CASES).iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            let (r, c) = (r as u32, c as u16);
            // Numbers as Excel numbers, as a person typing them would make them.
            match v.parse::<f64>() {
                Ok(n) if r > 0 => ws.write_number(r, c, n).unwrap(),
                _ => ws.write_string(r, c, v).unwrap(),
            };
        }
    }
    book.save(&path).unwrap();

    let (csv_text, sheet) = excel::read_sheet(&path, Some("病例")).unwrap();
    assert_eq!(sheet, "病例");
    let (from_xlsx, _) = group(&g, &csv_text[..], &Options::default());
    let (plain, _) = group(&g, CASES.as_bytes(), &Options::default());
    assert_eq!(from_xlsx, plain);

    // The first sheet by default; a missing sheet names the sheets there are.
    let e = excel::read_sheet(&path, None).unwrap_err().to_string();
    assert!(e.contains("sheet `封面`: the sheet is empty"), "{e}");
    let e = excel::read_sheet(&path, Some("nope"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("`nope`") && e.contains("病例"), "{e}");

    // Results written as a workbook read back to the same table.
    let out = dir.path().join("grouped.xlsx");
    let rows = excel::write_csv_as_workbook(plain.as_bytes(), &out, "group").unwrap();
    assert_eq!(rows, 5);
    let (back, sheet) = excel::read_sheet(&out, None).unwrap();
    assert_eq!(sheet, "group");
    assert_eq!(records(&String::from_utf8(back).unwrap()), records(&plain));
}

/// A 病案首页 export: Chinese headers, ten other-diagnosis columns, procedures in
/// numbered columns, dates written `2025/3/1` and `20250301`, money with separators.
fn homepage_file() -> String {
    let mut header = vec![
        "病案号",
        "性别",
        "年龄",
        "年龄不足1周岁的年龄(天)",
        "新生儿出生体重(克)",
        "出院科别",
        "实际住院(天)",
        "离院方式",
        "主要诊断编码",
    ]
    .into_iter()
    .map(String::from)
    .collect::<Vec<_>>();
    header.extend((1..=10).map(|n| format!("其他诊断编码{n}")));
    header.extend(
        [
            "主要手术操作编码",
            "其他手术操作编码1",
            "入院时间",
            "出院时间",
            "住院总费用",
        ]
        .map(String::from),
    );
    let mut text = header.join(",") + "\n";
    let mut other = vec![""; 10];
    other[0] = "J96.000";
    other[1] = "R57.000";
    // A gap in the middle and a code in the tenth column.
    other[9] = "E11.900";
    text += &format!(
        "BA001,1,50,,,呼吸内科,6,1,J18.900,{},,,2025/3/1,20250307,\"12,345.60\"\n",
        other.join(",")
    );
    text += &format!(
        "BA002,2,30,,,产科,3,1,O80.000,{},,,2025-03-01 08:30:00,2025年3月4日,\"3,200\"\n",
        vec![""; 10].join(",")
    );
    text
}

#[test]
fn a_homepage_shaped_file_is_read_through_the_builtin_mapping() {
    let g = demo();
    let text = homepage_file();
    let canonical = "\
case_id,sex,age,age_days,weight,dept,los,discharge_way,diagnoses,procedures
BA001,1,50,,,呼吸内科,6,1,J18.900|J96.000|R57.000|E11.900,
BA002,2,30,,,产科,3,1,O80.000,
";
    let (expected, _) = group(&g, canonical.as_bytes(), &Options::default());
    for columns in [None, Some(ColumnMap::builtin("病案首页").unwrap())] {
        let given = columns.is_some();
        let options = Options {
            columns,
            carry: true,
            ..Options::default()
        };
        let (out, summary) = group(&g, text.as_bytes(), &options);
        let layout = summary.layout.clone().unwrap();
        assert_eq!(layout.contains("detected"), !given, "{layout}");
        assert!(layout.starts_with("病案首页"), "{layout}");
        // The result columns are those of the canonical file…
        let got: Vec<Vec<String>> = records(&out).iter().map(|r| r[..9].to_vec()).collect();
        assert_eq!(got, records(&expected));
        assert_eq!(column(&out, "drg")[0], "ES31");
        // …and the carried columns are normalised under their field names.
        assert_eq!(column(&out, "admit_date"), ["2025-03-01", "2025-03-01"]);
        assert_eq!(column(&out, "discharge_date"), ["2025-03-07", "2025-03-04"]);
        assert_eq!(column(&out, "total_cost"), ["12345.60", "3200"]);
        assert_eq!(
            column(&out, "diagnoses")[0],
            "J18.900|J96.000|R57.000|E11.900"
        );
    }
}

#[test]
fn a_mapping_file_names_what_it_misses() {
    let g = demo();
    let map = ColumnMap::from_toml(
        "name = \"our HIS\"\n[columns]\ncase_id = \"住院号\"\nsex = \"性别\"\nage = \"年龄\"\nlos = \"住院天数\"\ndiagnoses = [\"诊断{n}\"]\n",
        "our.toml",
    )
    .unwrap();
    let options = Options {
        columns: Some(map),
        ..Options::default()
    };
    let job = GroupJob::new(&g, false);
    let input = "病案号,性别,年龄,诊断1\nx,1,3,J18.900\n";
    let e = drgdip_io::run(&job, input.as_bytes(), Vec::new(), &options, &|_, _| {})
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("`case_id`") && e.contains("our HIS") && e.contains("`住院号`"),
        "{e}"
    );
    let input = "住院号,性别,年龄,住院天数,诊断2,诊断1\nx,1,3,4,J96.000,J18.900\n";
    let mut out = Vec::new();
    drgdip_io::run(&job, input.as_bytes(), &mut out, &options, &|_, _| {}).unwrap();
    let out = String::from_utf8(out).unwrap();
    assert_eq!(column(&out, "status"), ["grouped"]);
}

#[test]
fn json_lines_keep_their_carried_columns() {
    let g = demo();
    let input = concat!(
        "{\"case_id\":\"j1\",\"sex\":1,\"age\":67,\"los\":9,\"diagnoses\":[\"I63.900\"],\"hospital_id\":\"H1\",\"total_cost\":8123.5}\n",
        "{\"total_cost\":100,\"case_id\":\"j2\",\"sex\":2,\"age\":30,\"los\":3,\"diagnoses\":\"O80.000\",\"extra\":\"dropped\"}\n",
        "not json\n",
    );
    let options = Options {
        format: Format::JsonLines,
        carry: true,
        ..Options::default()
    };
    let (out, _) = group(&g, input.as_bytes(), &options);
    let rows = records(&out);
    let header = &rows[0];
    let carried: Vec<&str> = header[9..].iter().map(String::as_str).collect();
    // The first object's keys, in its order, less those the output already has.
    assert_eq!(
        carried,
        [
            "sex",
            "age",
            "los",
            "diagnoses",
            "hospital_id",
            "total_cost"
        ]
    );
    assert_eq!(column(&out, "hospital_id"), ["H1", "", ""]);
    assert_eq!(column(&out, "total_cost"), ["8123.5", "100", ""]);
    assert_eq!(column(&out, "diagnoses"), ["I63.900", "O80.000", ""]);
    assert_eq!(column(&out, "status"), ["grouped", "grouped", "invalid"]);
}

#[test]
fn ungroupable_rows_say_why() {
    let g = demo();
    let (out, summary) = group(&g, CASES.as_bytes(), &Options::default());
    assert_eq!(summary.counts, [2, 2, 0, 0]);
    let status = column(&out, "status");
    let message = column(&out, "message");
    // c3: an obstetric diagnosis for a man: MDCO's entry rule fails on sex.
    assert_eq!(status[2], "ungroupable");
    assert_eq!(
        message[2],
        "principal diagnosis O80.000 belongs to MDCO of drgdip_demo, but the case fails its entry rule: sex is 1 (male), not 2 (female)"
    );
    // c4: a code the scheme does not have; the scheme's near codes are named.
    assert_eq!(status[3], "ungroupable");
    assert!(
        message[3].starts_with(
            "principal diagnosis K35.800 is not a code of drgdip_demo, so the principal diagnosis of no MDC (the scheme knows K35."
        ),
        "{}",
        message[3]
    );
    let near = message[3]
        .split("knows ")
        .nth(1)
        .unwrap()
        .trim_end_matches(')');
    for code in near.split(", ") {
        assert!(code.starts_with("K35."), "{code}");
        assert!(
            g.lookup(code, drgdip_grouper::CodeKind::Diagnosis, false)
                .known
        );
    }
    // Grouped rows keep an empty message.
    assert_eq!(message[0], "");
    // A case that enters an MDC but no ADRG of it.
    let input = "case_id,sex,age,los,diagnoses,procedures\nx,1,30,5,S06.000,\n";
    let (out, _) = group(&g, input.as_bytes(), &Options::default());
    if column(&out, "status")[0] == "ungroupable" {
        assert_eq!(
            column(&out, "message")[0],
            "entered MDCB but no ADRG of it accepts the case (no procedure, principal diagnosis S06.000)"
        );
    }
}

#[test]
fn a_file_that_does_not_fit_the_scheme_is_warned_about() {
    let g = demo();
    // Codes of another code version: most principal diagnoses are unknown.
    let mut text = String::from("case_id,sex,age,los,diagnoses\n");
    for i in 0..10 {
        let dx = if i < 3 { "I63.900" } else { "I63.900x001" };
        text += &format!("c{i},1,60,5,{dx}\n");
    }
    let job = GroupJob::new(&g, false);
    let mut out = Vec::new();
    let summary = drgdip_io::run(
        &job,
        text.as_bytes(),
        &mut out,
        &Options::default(),
        &|_, _| {},
    )
    .unwrap();
    assert_eq!(job.unknown_principals(), 7);
    let [_, ungroupable, _, invalid] = summary.counts[..] else {
        panic!()
    };
    assert_eq!(ungroupable, 7);
    let w = fit_warning(
        summary.rows - invalid,
        ungroupable,
        job.unknown_principals(),
        false,
    )
    .expect("a warning");
    assert!(w.starts_with("WARNING"), "{w}");
    assert!(w.contains("70.0% of the cases are ungroupable"), "{w}");
    assert!(
        w.contains("70.0% of the principal diagnoses are not codes of the scheme"),
        "{w}"
    );
    assert!(w.contains("--map-codes"), "{w}");
    // At 20% or below, nothing is said.
    assert_eq!(fit_warning(10, 2, 2, false), None);
    assert!(fit_warning(10, 3, 0, true).is_some_and(|w| !w.contains("--map-codes")));
}
