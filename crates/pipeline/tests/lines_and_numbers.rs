//! Issue 10 for the money pipelines: messages of `price`, `settle` and `report` name
//! the physical line of the file whatever its line ends (bare `\r`, CRLF with blank
//! lines, quoted fields over several lines), as `group` does (finding 3); and numbers
//! written with `_` separators or exponents are rejected where they enter (finding 6).

use drgdip_payment::Policy;
use drgdip_pipeline::settle::{SettleConfig, settle_csv, write_hospitals};
use drgdip_pipeline::{PRICED_HEADER, PriceConfig, ReportConfig, SpillTo, no_progress, price};

fn policy() -> Policy {
    Policy::load("../../data/demo-policy.toml".as_ref()).expect("the demo policy loads")
}

const HEADER: &str = "case_id,status,drg,hospital_id,hospital_level,insurance_type,person_id,admit_date,discharge_date,total_cost,covered_cost,los";

/// A grouped case of the demo policy with the given id and total cost.
fn case(id: &str, cost: &str) -> String {
    format!("{id},grouped,BM11,H001,3,employee,P1,2025-03-01,2025-03-09,{cost},100,8")
}

/// The line ends a file may have, and what they are called in messages.
const ENDS: [(&str, &str); 3] = [("\n", "LF"), ("\r\n", "CRLF"), ("\r", "bare CR")];

/// `rows` joined with `end`; a row given as `None` is a blank line.
fn file(rows: &[Option<String>], end: &str) -> String {
    let mut s = String::new();
    for r in rows {
        s.push_str(r.as_deref().unwrap_or(""));
        s.push_str(end);
    }
    s
}

/// Header (line 1), a case (2), a case whose id is quoted over two lines (3–4), two
/// blank lines (5–6), the row under test (7), a blank line (8), the second row under
/// test (9).
fn layout(end: &str, bad1: String, bad2: String) -> String {
    file(
        &[
            Some(HEADER.to_owned()),
            Some(case("k1", "200")),
            Some(case(&format!("\"k2{end}continued\""), "300")),
            None,
            None,
            Some(bad1),
            None,
            Some(bad2),
        ],
        end,
    )
}

fn run_price(input: &str) -> (String, u64, u64) {
    let mut out = Vec::new();
    let config = PriceConfig {
        threads: Some(2),
        spill: SpillTo::Memory,
    };
    let s = price(&policy(), input.as_bytes(), &mut out, &config, &no_progress).unwrap();
    (String::from_utf8(out).unwrap(), s.rows, s.rejected)
}

/// The message column of each output row, read as CSV.
fn messages(priced: &str) -> Vec<String> {
    let mut rdr = csv::Reader::from_reader(priced.as_bytes());
    let at = PRICED_HEADER.iter().position(|&c| c == "message").unwrap();
    rdr.records().map(|r| r.unwrap()[at].to_owned()).collect()
}

#[test]
fn price_names_the_physical_line_for_any_line_ends() {
    for (end, name) in ENDS {
        let input = layout(end, case("k3", "1_000"), case("k4", "1e5"));
        let (out, rows, rejected) = run_price(&input);
        assert_eq!((rows, rejected), (4, 2), "{name}: {out}");
        let m = messages(&out);
        assert_eq!(m.len(), 4, "{name}: one output row per record");
        assert!(m[0].is_empty() && m[1].is_empty(), "{name}: {m:?}");
        assert_eq!(
            m[2], "line 7: field `total_cost`: `1_000` is not a number",
            "{name}"
        );
        assert_eq!(
            m[3], "line 9: field `total_cost`: `1e5` is not a number",
            "{name}"
        );
    }
}

/// A priced file (as `price` writes it) laid out like [`layout`], its rows under test
/// with `field` set to `value`.
fn priced_layout(end: &str, field: &str, value: &str) -> String {
    let (priced, _, rejected) = run_price(&layout("\n", case("k3", "400"), case("k4", "500")));
    assert_eq!(rejected, 0);
    let mut rdr = csv::Reader::from_reader(priced.as_bytes());
    let at = PRICED_HEADER.iter().position(|&c| c == field).unwrap();
    let mut rows: Vec<Vec<String>> = rdr
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    rows[2][at] = value.to_owned();
    rows[3][at] = value.to_owned();
    let line = |r: &[String]| -> String {
        r.iter()
            .map(|f| {
                if f.contains(['\n', '\r', ',', '"']) {
                    format!("\"{}\"", f.replace('"', "\"\"").replace('\n', end))
                } else {
                    f.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    file(
        &[
            Some(PRICED_HEADER.join(",")),
            Some(line(&rows[0])),
            Some(line(&rows[1])),
            None,
            None,
            Some(line(&rows[2])),
            None,
            Some(line(&rows[3])),
        ],
        end,
    )
}

#[test]
fn settle_names_the_physical_line_for_any_line_ends() {
    for (end, name) in ENDS {
        for (field, value) in [
            ("payment_standard", "1_000"),
            ("total_cost", "1e5"),
            ("points", "2.5e1"),
        ] {
            let input = priced_layout(end, field, value);
            let (_, s) = settle_csv(
                &policy(),
                input.as_bytes(),
                &SettleConfig { threads: Some(2) },
                &no_progress,
            )
            .unwrap();
            assert_eq!((s.rows, s.unreadable), (4, 2), "{name} {field}: {s:?}");
            let got: Vec<(u64, &str)> = s
                .errors
                .iter()
                .map(|e| (e.line, e.message.as_str()))
                .collect();
            let why = format!("field `{field}`: `{value}` is not a number");
            assert_eq!(got, [(7, why.as_str()), (9, why.as_str())], "{name}");
        }
    }
}

#[test]
fn report_names_the_physical_line_for_any_line_ends() {
    for (end, name) in ENDS {
        let input = priced_layout(end, "total_cost", "1_000");
        let r = drgdip_pipeline::report(
            input.as_bytes(),
            None::<&[u8]>,
            &ReportConfig::default(),
            &no_progress,
        )
        .unwrap();
        assert_eq!(r.unreadable, 2, "{name}");
        let got: Vec<(u64, &str)> = r
            .errors
            .iter()
            .map(|e| (e.line, e.message.as_str()))
            .collect();
        let why = "field `total_cost`: `1_000` is not a number";
        assert_eq!(got, [(7, why), (9, why)], "{name}");
    }
}

/// The settlement file `report` reads: a value written `1_000` (or `1e5`, or beyond
/// 10¹⁵ yuan) stops the run, naming the file's line and the field; it was summed as
/// 1000 before (and a huge one overflowed the city total).
#[test]
fn report_rejects_settlement_numbers_not_written_plainly() {
    let policy = policy();
    let (priced, _, _) = run_price(&layout("\n", case("k3", "400"), case("k4", "500")));
    let (settlement, _) = settle_csv(
        &policy,
        priced.as_bytes(),
        &SettleConfig::default(),
        &no_progress,
    )
    .unwrap();
    let mut hospitals = Vec::new();
    write_hospitals(&mut hospitals, &settlement).unwrap();
    let hospitals = String::from_utf8(hospitals).unwrap();
    let header: Vec<&str> = hospitals.lines().next().unwrap().split(',').collect();
    let at = header.iter().position(|&c| c == "annual_amount").unwrap();
    let run = |value: &str| {
        let text: String = hospitals
            .lines()
            .enumerate()
            .map(|(i, l)| {
                let mut f: Vec<&str> = l.split(',').collect();
                if i == 1 {
                    f[at] = value;
                }
                f.join(",") + "\r\n\r\n"
            })
            .collect();
        drgdip_pipeline::report(
            priced.as_bytes(),
            Some(text.as_bytes()),
            &ReportConfig::default(),
            &no_progress,
        )
    };
    assert!(run("1000.00").is_ok());
    let huge = "9".repeat(28);
    for value in ["1_000", "1e5", huge.as_str()] {
        let e = run(value).err().expect("refused").to_string();
        assert!(
            e.contains("the settlement file, line 3: field `annual_amount`"),
            "{value}: {e}"
        );
    }
}

/// Found by the `report` fuzz target: a grouped row whose weight (or score) could not
/// be read was counted as unreadable *and* as a case, its cost and payment already in
/// the hospital's sums. Now a row is read whole before anything is added.
#[test]
fn report_counts_an_unreadable_row_once_and_adds_nothing_of_it() {
    let (priced, _, _) = run_price(&file(
        &[
            Some(HEADER.to_owned()),
            Some(case("k1", "200")),
            Some(case("k2", "300")),
        ],
        "\n",
    ));
    let weight = PRICED_HEADER.iter().position(|&c| c == "weight").unwrap();
    let mut lines: Vec<String> = priced.lines().map(str::to_owned).collect();
    let mut f: Vec<&str> = lines[2].split(',').collect();
    assert_ne!(f[weight], "");
    f[weight] = "";
    lines[2] = f.join(",");
    let run = |text: &str| {
        let r = drgdip_pipeline::report(
            text.as_bytes(),
            None::<&[u8]>,
            &ReportConfig::default(),
            &no_progress,
        )
        .unwrap();
        let mut out = Vec::new();
        r.write_csv(&mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        let header: Vec<String> = out
            .lines()
            .next()
            .unwrap()
            .split(',')
            .map(str::to_owned)
            .collect();
        let city: Vec<String> = out
            .lines()
            .last()
            .unwrap()
            .split(',')
            .map(str::to_owned)
            .collect();
        let get = |c: &str| city[header.iter().position(|h| h == c).unwrap()].clone();
        (r.unreadable, get("cases"), get("total_cost"))
    };
    let one_case: String = lines[..2].iter().map(|l| format!("{l}\n")).collect();
    assert_eq!(run(&one_case), (0, "1".into(), "200.00".into()));
    let both: String = lines.iter().map(|l| format!("{l}\n")).collect();
    assert_eq!(run(&both), (1, "1".into(), "200.00".into()));
}
