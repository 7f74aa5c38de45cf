//! The pipelines' warnings: a low grouping rate (price, settle, report) and a
//! settlement whose cases cover a small part of the budget it divides.

use drgdip_payment::Policy;
use drgdip_pipeline::settle::{SettleConfig, settle_csv, write_hospitals};
use drgdip_pipeline::{PriceConfig, ReportConfig, SpillTo, no_progress, price, report};

const HEADER: &str = "case_id,status,drg,hospital_id,hospital_level,insurance_type,person_id,admit_date,discharge_date,total_cost,covered_cost,los";

/// `n` grouped rows in two demo DRGs, of which every `every`-th is ungroupable (0 = none).
fn grouped(n: usize, every: usize) -> String {
    let mut s = format!("{HEADER}\n");
    for i in 0..n {
        let (status, drg) = if every > 0 && i % every == 0 {
            ("ungroupable", "0000")
        } else {
            ("grouped", ["BR25", "FR25"][i % 2])
        };
        let cost = 8000 + (i * 37) % 5000;
        s.push_str(&format!(
            "C{i:04},{status},{drg},H{:03},{},employee,P{i:04},2025-03-01,2025-03-08,{cost}.00,{}.00,7\n",
            i % 4,
            ["3", "2", "1", "0"][i % 4],
            cost * 9 / 10
        ));
    }
    s
}

fn demo_policy() -> Policy {
    Policy::load("../../data/demo-policy.toml".as_ref()).expect("the demo policy loads")
}

/// The demo policy with `[budget] total` replaced (a copy beside copies of its tables).
fn policy_with_budget(total: &str) -> (tempfile::TempDir, Policy) {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = std::fs::read_to_string("../../data/demo-policy.toml").expect("policy");
    let old = text
        .lines()
        .find(|l| l.starts_with("total = "))
        .expect("the demo policy has a [budget] total");
    std::fs::write(
        dir.path().join("policy.toml"),
        text.replace(old, &format!("total = \"{total}\"")),
    )
    .expect("write");
    for f in ["demo-weights.csv", "demo-scores.csv"] {
        std::fs::copy(format!("../../data/{f}"), dir.path().join(f)).expect("copy");
    }
    let p = Policy::load(&dir.path().join("policy.toml")).expect("loads");
    (dir, p)
}

fn run_price(policy: &Policy, input: &str) -> (Vec<u8>, Vec<String>) {
    let mut out = Vec::new();
    let config = PriceConfig {
        threads: Some(2),
        spill: SpillTo::Memory,
    };
    let s = price(policy, input.as_bytes(), &mut out, &config, &no_progress).expect("prices");
    (out, s.warnings())
}

#[test]
fn price_settle_and_report_warn_when_more_than_a_fifth_is_not_grouped() {
    let (policy_dir, policy) = policy_with_budget("1000.00");
    let _keep = policy_dir;
    // 1 in 4 ungroupable: 25% > 20%.
    let (priced, warnings) = run_price(&policy, &grouped(400, 4));
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("100 of 400 cases (25.0%) were not grouped"),
        "{warnings:?}"
    );
    let (settlement, summary) =
        settle_csv(&policy, &priced[..], &SettleConfig::default(), &no_progress).expect("settles");
    assert_eq!(summary.not_grouped, 100);
    let w = summary.warnings(&settlement);
    // The budget (1000 yuan) is covered: only the grouping warning.
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("100 of 400 cases (25.0%)"), "{w:?}");
    let mut hospitals = Vec::new();
    write_hospitals(&mut hospitals, &settlement).expect("writes");
    let r = report(
        &priced[..],
        Some(&hospitals[..]),
        &ReportConfig::default(),
        &no_progress,
    )
    .expect("reports");
    let w = r.warnings();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("100 of 400 cases (25.0%)"), "{w:?}");
}

#[test]
fn no_grouping_warning_at_one_fifth_or_less() {
    let (_dir, policy) = policy_with_budget("1000.00");
    // 1 in 5 ungroupable: exactly 20%, not above.
    let (priced, warnings) = run_price(&policy, &grouped(400, 5));
    assert!(warnings.is_empty(), "{warnings:?}");
    let (settlement, summary) =
        settle_csv(&policy, &priced[..], &SettleConfig::default(), &no_progress).expect("settles");
    assert_eq!(summary.not_grouped, 80);
    assert!(summary.warnings(&settlement).is_empty());
    let r = report(
        &priced[..],
        None::<&[u8]>,
        &ReportConfig::default(),
        &no_progress,
    )
    .expect("reports");
    assert!(r.warnings().is_empty());
}

#[test]
fn settle_warns_when_the_cases_cover_a_small_part_of_the_budget() {
    // The demo policy divides a city's budget (1.8 billion yuan); 400 cases spend a
    // few million of it.
    let policy = demo_policy();
    let (priced, _) = run_price(&policy, &grouped(400, 0));
    let (settlement, summary) =
        settle_csv(&policy, &priced[..], &SettleConfig::default(), &no_progress).expect("settles");
    let w = summary.warnings(&settlement);
    assert_eq!(w.len(), 1, "{w:?}");
    let budget = settlement.budget.as_ref().expect("a budget").remainder;
    let fund = settlement.city.totals.fund;
    assert!(fund * rust_decimal::Decimal::TWO < budget);
    assert!(
        w[0].contains(&format!("fund outlay ({} yuan) is only", fund.round_dp(2)))
            && w[0].contains(&format!(
                "(the [budget] remainder: {} yuan)",
                budget.round_dp(2)
            )),
        "{w:?}"
    );
    // A budget the same cases spend more than half of: no warning.
    let half = (fund * rust_decimal::Decimal::new(15, 1)).round_dp(2);
    // Reserves take 1% and 3%, the county allocation 10%: the remainder is ~86% of
    // the total, so a total of 1.5 × the outlay leaves a remainder the cases cover.
    let (_dir, policy) = policy_with_budget(&half.to_string());
    let (priced, _) = run_price(&policy, &grouped(400, 0));
    let (settlement, summary) =
        settle_csv(&policy, &priced[..], &SettleConfig::default(), &no_progress).expect("settles");
    assert!(
        summary.warnings(&settlement).is_empty(),
        "{:?}",
        summary.warnings(&settlement)
    );
}
