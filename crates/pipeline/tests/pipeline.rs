//! The pipelines called as a library on bytes: the same output whatever the spill
//! (memory or file) and the thread count, one output row per input row, and settle
//! and report reading what price wrote.

use drgdip_payment::Policy;
use drgdip_pipeline::settle::{SettleConfig, settle_csv, write_hospitals};
use drgdip_pipeline::{
    PRICED_HEADER, PriceConfig, ReportConfig, SpillTo, no_progress, price, report,
};

fn policy() -> Policy {
    Policy::load("../../data/demo-policy.toml".as_ref()).expect("the demo policy loads")
}

const HEADER: &str = "case_id,status,drg,hospital_id,hospital_level,insurance_type,person_id,admit_date,discharge_date,total_cost,covered_cost,day_surgery,referral,los";

/// `n` deterministic grouped rows over the demo DRGs, with a bad row every 50.
fn input(n: usize) -> String {
    let groups = ["BM11", "BM15", "BR21", "BR25", "EB11", "EB19", "AH11"];
    let mut s = String::from(HEADER);
    s.push('\n');
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let g = groups[(x % 7) as usize];
        let h = x / 7 % 12;
        let level = ["3", "2", "1", "0"][(h % 4) as usize];
        let month = 1 + x / 97 % 12;
        let day = 1 + x / 13 % 20;
        let cost_fen = 100_000 + x / 31 % 8_000_000;
        let level = if i % 50 == 49 { "9" } else { level };
        s.push_str(&format!(
            "C{i:05},grouped,{g},H{h:03},{level},{},P{:03},2025-{month:02}-{day:02},2025-{month:02}-{:02},{}.{:02},{}.{:02},{},{},{}\n",
            if x.is_multiple_of(3) { "resident" } else { "employee" },
            x / 11 % 300,
            day + 5,
            cost_fen / 100,
            cost_fen % 100,
            cost_fen * 9 / 1000,
            cost_fen * 9 / 10 % 100,
            u8::from(x.is_multiple_of(17)),
            ["", "", "up", "down"][(x / 5 % 4) as usize],
            5,
        ));
    }
    s
}

fn run_price(policy: &Policy, input: &str, threads: usize, spill: SpillTo) -> (Vec<u8>, u64, u64) {
    let mut out = Vec::new();
    let config = PriceConfig {
        threads: Some(threads),
        spill,
    };
    let s = price(policy, input.as_bytes(), &mut out, &config, &no_progress).unwrap();
    (out, s.rows, s.rejected)
}

#[test]
fn price_on_bytes_is_the_same_for_any_spill_and_thread_count() {
    let policy = policy();
    // About 3.5 MB: several blocks of the reader, persons spread over all of them.
    let text = input(40_000);
    assert!(text.len() > 3 << 20);
    let (mem1, rows, rejected) = run_price(&policy, &text, 1, SpillTo::Memory);
    assert_eq!(rows, 40_000);
    assert_eq!(rejected, 800, "every 50th row has hospital_level 9");
    let out = String::from_utf8(mem1.clone()).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], PRICED_HEADER.join(","));
    assert_eq!(lines.len(), 40_001, "one output row per input row");
    // Row 50 (line 51 of the input) is rejected with its line number and field.
    assert!(lines[50].starts_with("C00049,drg,"), "{}", lines[50]);
    assert!(
        lines[50].contains("rejected,line 51: field `hospital_level`"),
        "{}",
        lines[50]
    );
    let (mem3, ..) = run_price(&policy, &text, 3, SpillTo::Memory);
    let (file2, ..) = run_price(&policy, &text, 2, SpillTo::TempFile(std::env::temp_dir()));
    let (file8, ..) = run_price(&policy, &text, 8, SpillTo::TempFile(std::env::temp_dir()));
    assert!(mem1 == mem3, "1 vs 3 threads");
    assert!(mem1 == file2, "memory vs file spill");
    assert!(mem1 == file8, "1 vs 8 threads");
}

#[test]
fn settle_and_report_read_what_price_wrote() {
    let policy = policy();
    let (priced, _, rejected) = run_price(&policy, &input(30_000), 0, SpillTo::Memory);
    let mut files = Vec::new();
    assert!(priced.len() > 4 << 20, "several blocks");
    for threads in [1, 2, 8] {
        let (settlement, summary) = settle_csv(
            &policy,
            &priced[..],
            &SettleConfig {
                threads: Some(threads),
            },
            &no_progress,
        )
        .unwrap();
        assert_eq!(summary.rows, 30_000);
        assert_eq!(summary.skipped, rejected);
        assert_eq!(summary.unreadable, 0);
        let cases: u64 = settlement.hospitals.iter().map(|h| h.totals.cases).sum();
        assert_eq!(cases, 30_000 - rejected);
        let mut f = Vec::new();
        write_hospitals(&mut f, &settlement).unwrap();
        files.push(f);
    }
    assert!(
        files[0] == files[1] && files[0] == files[2],
        "settlement depends on the thread count"
    );
    let r = report(
        &priced[..],
        Some(&files[0][..]),
        &ReportConfig::default(),
        &no_progress,
    )
    .unwrap();
    assert_eq!(r.unreadable, 0);
    let mut csv = Vec::new();
    r.write_csv(&mut csv).unwrap();
    let csv = String::from_utf8(csv).unwrap();
    let city = csv.lines().last().unwrap();
    assert!(
        city.starts_with(&format!("city,ALL,{},{rejected},", 30_000 - rejected)),
        "{city}"
    );
}

#[test]
fn a_file_without_a_group_column_is_a_typed_error() {
    let policy = policy();
    let mut out = Vec::new();
    let err = price(
        &policy,
        "case_id,status\nA,grouped\n".as_bytes(),
        &mut out,
        &PriceConfig::default(),
        &no_progress,
    )
    .unwrap_err();
    assert!(
        matches!(err, drgdip_pipeline::PipelineError::Input(_)),
        "{err}"
    );
    let err = settle_csv(
        &policy,
        "a,b\n1,2\n".as_bytes(),
        &SettleConfig::default(),
        &no_progress,
    )
    .unwrap_err();
    assert!(
        matches!(err, drgdip_pipeline::PipelineError::MissingColumn { ref name, .. } if name == "case_id"),
        "{err}"
    );
}

/// The priced columns report reads, one hand-made row per case.
const PRICED: &str = "case_id,method,group,hospital_id,payment_standard,outlier,status,grouping_status,weight,score,los,total_cost\n";

#[test]
fn report_ratios_round_half_away_from_zero_and_money_is_to_the_fen() {
    // cmi_drg = 1.00005 → 1.0001 (half-to-even gave 1.0000); payment margin rate =
    // (1.50 − 10000.00) / 10000.00 = −0.99985 → −0.9999 (half-to-even gave −0.9998).
    let input = format!("{PRICED}c1,drg,AA11,H1,1.50,none,ok,grouped,1.00005,,3,10000.00\n");
    let r = report(
        input.as_bytes(),
        None::<&[u8]>,
        &ReportConfig::default(),
        &no_progress,
    )
    .unwrap();
    let mut out = Vec::new();
    r.write_csv(&mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let row: Vec<&str> = lines.next().unwrap().split(',').collect();
    let get = |name: &str| row[header.iter().position(|h| *h == name).unwrap()];
    assert_eq!(get("cmi_drg"), "1.0001");
    assert_eq!(get("payment_margin_rate"), "-0.9999");
    assert_eq!(get("payment_margin"), "-9998.50");
    assert_eq!(get("payment_total"), "1.50");
}

#[test]
fn a_zero_cost_case_is_a_low_outlier_paid_nothing_with_its_cost_ratio() {
    let policy = policy();
    let input =
        format!("{HEADER}\nz1,grouped,BM11,H001,3,employee,P1,2025-03-01,2025-03-05,0,0,0,,4\n");
    let (out, rows, rejected) = run_price(&policy, &input, 1, SpillTo::Memory);
    assert_eq!(
        (rows, rejected),
        (1, 0),
        "{}",
        String::from_utf8_lossy(&out)
    );
    let text = String::from_utf8(out).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let row: Vec<&str> = lines.next().unwrap().split(',').collect();
    let get = |name: &str| row[header.iter().position(|h| *h == name).unwrap()];
    assert_eq!(get("outlier"), "low");
    assert_eq!(get("payment_standard"), "0.00");
    assert_eq!(get("fund_outlay"), "0.00");
    assert_eq!(get("patient_share"), "0.00");
    assert_eq!(get("cost_ratio"), "0");
}

/// An empty person, hospital or case id is named as empty (issue 9 §3), each row on
/// its line.
#[test]
fn empty_ids_are_rejected_naming_the_field() {
    let policy = policy();
    let input = format!(
        "{HEADER}\ne1,grouped,BM11,H001,3,employee,,2025-03-01,2025-03-05,100,90,0,,4\n\
         e2,grouped,BM11, ,3,employee,P2,2025-03-01,2025-03-05,100,90,0,,4\n\
         ,grouped,BM11,H001,3,employee,P3,2025-03-01,2025-03-05,100,90,0,,4\n"
    );
    let (out, rows, rejected) = run_price(&policy, &input, 1, SpillTo::Memory);
    let text = String::from_utf8(out).unwrap();
    assert_eq!((rows, rejected), (3, 3), "{text}");
    for (line, f) in [(2, "person_id"), (3, "hospital_id"), (4, "case_id")] {
        let msg = format!("rejected,line {line}: field `{f}` is empty");
        assert!(text.contains(&msg), "{msg}\n{text}");
    }
}

#[test]
fn absurd_amounts_are_rejected_where_they_enter_never_a_panic() {
    let policy = policy();
    let big = "9".repeat(28);
    let input = format!(
        "{HEADER}\nb1,grouped,BM11,H001,3,employee,P1,2025-03-01,2025-03-05,{big},1,0,,4\n\
         b2,grouped,BM11,H001,3,employee,P2,2025-03-01,2025-03-05,12.345,1,0,,4\n\
         b3,grouped,BM11,H001,3,employee,P3,2025-03-01,9999-12-31,100,1,0,,4\n"
    );
    let (out, _, rejected) = run_price(&policy, &input, 1, SpillTo::Memory);
    let text = String::from_utf8(out).unwrap();
    assert_eq!(rejected, 3, "{text}");
    assert!(text.contains("line 2: field `total_cost`"), "{text}");
    assert!(text.contains("more than 10000000000 yuan"), "{text}");
    assert!(
        text.contains("line 3: field `total_cost`: 12.345 has a fraction of a fen"),
        "{text}"
    );
    assert!(text.contains("year 9999 is outside 1900–2999"), "{text}");
    // A priced file with 28-digit amounts (as `price` once accepted): settle and report
    // name the row instead of overflowing.
    let mut priced = PRICED_HEADER.join(",");
    priced.push('\n');
    for i in 0..3 {
        let mut row = vec![""; PRICED_HEADER.len()];
        let id = format!("x{i}");
        row[0] = &id;
        row[1] = "drg";
        row[2] = "BM11";
        row[3] = "H001";
        row[4] = &big;
        row[5] = "0";
        row[6] = &big;
        row[8] = "none";
        row[9] = "ok";
        row[11] = "3";
        row[12] = "employee";
        row[13] = "P1";
        row[14] = "2025-03-05";
        row[16] = &big;
        row[18] = "grouped";
        row[19] = "1";
        row[27] = "1";
        priced.push_str(&row.join(","));
        priced.push('\n');
    }
    let (_, s) = settle_csv(
        &policy,
        priced.as_bytes(),
        &SettleConfig::default(),
        &no_progress,
    )
    .unwrap();
    assert_eq!(s.unreadable, 3);
    assert!(
        s.errors[0].message.contains("payment_standard"),
        "{:?}",
        s.errors
    );
    let r = report(
        priced.as_bytes(),
        None::<&[u8]>,
        &ReportConfig::default(),
        &no_progress,
    )
    .unwrap();
    assert_eq!(r.unreadable, 3);
}

#[test]
fn settle_counts_only_the_policy_year() {
    let policy = policy();
    let input = format!(
        "{HEADER}\ny1,grouped,BM11,H001,3,employee,P1,2025-03-01,2025-03-05,20000,18000,0,,4\n\
         y2,grouped,BM11,H001,3,employee,P2,2024-03-01,2024-03-05,20000,18000,0,,4\n"
    );
    let (priced, _, rejected) = run_price(&policy, &input, 1, SpillTo::Memory);
    assert_eq!(rejected, 0);
    let (settlement, s) =
        settle_csv(&policy, &priced[..], &SettleConfig::default(), &no_progress).unwrap();
    assert_eq!((s.rows, s.other_year, s.settled()), (2, 1, 1));
    let cases: u64 = settlement.hospitals.iter().map(|h| h.totals.cases).sum();
    assert_eq!(cases, 1);
}

/// A price run watching a cancel flag: never set, the output of `price`; set once the
/// first rows are read, the run stops (its reading pass checks per block) and says so.
#[test]
fn price_stops_when_cancelled() {
    use drgdip_pipeline::{PipelineError, Progress, price_cancellable};
    let policy = policy();
    let text = input(40_000);
    let config = PriceConfig {
        threads: Some(2),
        spill: SpillTo::Memory,
    };
    let (want, _, _) = run_price(&policy, &text, 2, SpillTo::Memory);
    let mut out = Vec::new();
    let never = drgdip_io::Cancel::new();
    price_cancellable(
        &policy,
        text.as_bytes(),
        &mut out,
        &config,
        &no_progress,
        &never,
    )
    .unwrap();
    assert_eq!(out, want);
    // About 17 MB: many blocks, so the flag set after the first comes well before
    // the end.
    let text = input(200_000);
    let cancel = drgdip_io::Cancel::new();
    let read = std::sync::atomic::AtomicU64::new(0);
    let progress = |p: Progress| {
        read.store(p.rows, std::sync::atomic::Ordering::Relaxed);
        cancel.cancel();
    };
    let mut out = Vec::new();
    let r = price_cancellable(
        &policy,
        text.as_bytes(),
        &mut out,
        &config,
        &progress,
        &cancel,
    );
    assert!(matches!(r, Err(PipelineError::Cancelled)), "{r:?}");
    // Stopped in the reading pass: nothing was written, and not every row was read.
    assert!(out.is_empty());
    assert!(read.load(std::sync::atomic::Ordering::Relaxed) < 200_000);
}
