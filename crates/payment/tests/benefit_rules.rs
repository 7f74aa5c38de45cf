//! Benefit rules decided in issue 9: the annual deductible with referrals (credited
//! once), referral with day surgery (one order), a referral after a stay under the
//! other insurance type, and the non-standard referral (不按规范转诊) ratio cut.

mod common;

use common::policy_with;
use drgdip_payment::Policy;
use drgdip_payment::benefits::{Claim, ClaimKind, Referral, Share, apply_benefits};
use drgdip_pricing::{HospitalLevel, InsuranceType};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

const POLICY: &str = r#"

[benefits]
[benefits.inpatient]
deductible_basis = "admission"
day_surgery_deductible_factor = 0.5
referral_rules = true

[benefits.inpatient.employee]
deductible = { "3" = "1000.01", "2" = 600, "1" = 400, "0" = 200 }
ratio = { "3" = 0.85, "2" = 0.88, "1" = 0.90, "0" = 0.92 }

[benefits.inpatient.resident]
deductible = { "3" = 1200, "2" = 800, "1" = 500, "0" = 200 }
ratio = { "3" = 0.60, "2" = 0.70, "1" = 0.80, "0" = 0.90 }
"#;

fn stay(id: &str, date: &str, level: HospitalLevel, ins: InsuranceType, cost: Decimal) -> Claim {
    common::claim(id, "p", date, ClaimKind::Inpatient, level, ins, cost, cost)
}

fn run(p: &Policy, claims: &[Claim]) -> Vec<Share> {
    apply_benefits(&p.payment.benefits, claims)
        .into_iter()
        .map(Result::unwrap)
        .collect()
}

fn yearly() -> Policy {
    policy_with(&POLICY.replace(
        "deductible_basis = \"admission\"",
        "deductible_basis = \"year\"",
    ))
}

use HospitalLevel::{First, Second, Third};
use InsuranceType::{Employee, Resident};

/// Bug 1: a level-1 stay pays 400; an upward referral to a level-3 stay (deductible
/// 1000.01) then owes the difference 600.01, not 200.01 (the earlier deductible taken
/// off twice, once as the referral credit and once as the annual credit).
#[test]
fn annual_deductible_and_upward_referral_credit_the_earlier_stay_once() {
    let p = yearly();
    let mut up = stay("B", "2025-03-01", Third, Employee, dec!(5000));
    up.referral = Referral::Up;
    let s = run(
        &p,
        &[stay("A", "2025-02-01", First, Employee, dec!(3000)), up],
    );
    assert_eq!(s[0].deductible, dec!(400.00));
    assert_eq!(s[1].deductible, dec!(600.01));
    // The annual credit alone (no referral) gives the same here: 1000.01 − 400.
    let s = run(
        &p,
        &[
            stay("A", "2025-02-01", First, Employee, dec!(3000)),
            stay("B", "2025-03-01", Third, Employee, dec!(5000)),
        ],
    );
    assert_eq!(s[1].deductible, dec!(600.01));
}

/// With the annual basis the larger of the two credits counts: after two level-1 stays
/// and a level-2 stay (600 paid in all), an upward referral to level 3 owes 400.01.
#[test]
fn annual_basis_takes_the_larger_credit() {
    let p = yearly();
    let mut up = stay("D", "2025-04-01", Third, Employee, dec!(5000));
    up.referral = Referral::Up;
    let s = run(
        &p,
        &[
            stay("A", "2025-01-01", First, Employee, dec!(3000)),
            stay("B", "2025-02-01", Second, Employee, dec!(3000)),
            // A downward stay at level 1: its standard is 400 but it pays nothing.
            {
                let mut d = stay("C", "2025-03-01", First, Employee, dec!(3000));
                d.referral = Referral::Down;
                d
            },
            up,
        ],
    );
    let ded: Vec<Decimal> = s.iter().map(|x| x.deductible).collect();
    // 400; 600 − 400 paid; 0 (down); 1000.01 − max(paid 600, previous standard 400).
    assert_eq!(ded, [dec!(400), dec!(200), dec!(0), dec!(400.01)]);
}

/// Referral with day surgery: each stay's own standard is first its level's deductible
/// × the day-surgery factor; an upward referral then owes this stay's standard minus
/// the previous stay's standard. The order is the same whichever of the two is the
/// day surgery.
#[test]
fn referral_with_day_surgery_differences_the_stays_own_standards() {
    let p = policy_with(POLICY);
    // Level-1 ordinary stay (standard 400) → level-3 day surgery (standard 500.005 →
    // 500.01): owes 100.01.
    let mut up = stay("B", "2025-03-01", Third, Employee, dec!(5000));
    up.referral = Referral::Up;
    up.day_surgery = true;
    let s = run(
        &p,
        &[stay("A", "2025-02-01", First, Employee, dec!(3000)), up],
    );
    assert_eq!(s[1].deductible, dec!(100.01));
    // Level-1 day surgery (standard 200) → level-3 ordinary stay (1000.01): owes 800.01.
    let mut first = stay("A", "2025-02-01", First, Employee, dec!(3000));
    first.day_surgery = true;
    let mut up = stay("B", "2025-03-01", Third, Employee, dec!(5000));
    up.referral = Referral::Up;
    let s = run(&p, &[first, up]);
    assert_eq!(s[0].deductible, dec!(200));
    assert_eq!(s[1].deductible, dec!(800.01));
    // Both day surgery: 500.01 − 200 = 300.01.
    let mut first = stay("A", "2025-02-01", First, Employee, dec!(3000));
    first.day_surgery = true;
    let mut up = stay("B", "2025-03-01", Third, Employee, dec!(5000));
    up.referral = Referral::Up;
    up.day_surgery = true;
    let s = run(&p, &[first, up]);
    assert_eq!(s[1].deductible, dec!(300.01));
}

/// The employee and resident funds keep separate accumulators: a referral credits only
/// an earlier stay under the same insurance type, and the annual deductible and cap
/// count only that fund's stays.
#[test]
fn referral_after_a_stay_under_the_other_insurance_type_pays_the_full_deductible() {
    let p = policy_with(POLICY);
    let mut up = stay("B", "2025-03-01", Third, Resident, dec!(5000));
    up.referral = Referral::Up;
    let s = run(
        &p,
        &[stay("A", "2025-02-01", First, Employee, dec!(3000)), up],
    );
    assert_eq!(s[1].deductible, dec!(1200));
    let p = yearly();
    let s = run(
        &p,
        &[
            stay("A", "2025-02-01", Third, Employee, dec!(3000)),
            stay("B", "2025-03-01", Second, Resident, dec!(3000)),
            stay("C", "2025-04-01", Third, Employee, dec!(3000)),
        ],
    );
    let ded: Vec<Decimal> = s.iter().map(|x| x.deductible).collect();
    assert_eq!(ded, [dec!(1000.01), dec!(800), dec!(0)]);
}

/// Seed 001: 不按规范转诊 lowers the reimbursement ratio; the stay pays its full
/// deductible (no referral credit).
#[test]
fn nonstandard_referral_lowers_the_ratio() {
    let p = policy_with(&POLICY.replace(
        "referral_rules = true",
        "referral_rules = true\nnonstandard_referral_ratio_cut = 0.10",
    ));
    let mut c = stay("B", "2025-03-01", Second, Resident, dec!(10800));
    c.referral = Referral::parse("nonstandard").unwrap();
    let s = run(
        &p,
        &[
            stay("A", "2025-02-01", First, Resident, dec!(3000)),
            c.clone(),
        ],
    );
    // Full deductible 800; ratio 0.70 − 0.10 = 0.60: fund 10000 × 0.6 = 6000.
    assert_eq!(s[1].deductible, dec!(800));
    assert_eq!(s[1].fund, dec!(6000));
    assert_eq!(s[1].patient, dec!(4800));
    assert_eq!(Referral::parse("不按规范转诊"), Some(c.referral));
    // The cut never takes the ratio below zero.
    let p = policy_with(&POLICY.replace(
        "referral_rules = true",
        "referral_rules = true\nnonstandard_referral_ratio_cut = 0.95",
    ));
    let s = run(&p, std::slice::from_ref(&c));
    assert_eq!(s[0].fund, dec!(0));
    // Without the key the ratio is unchanged (only the referral credit is lost).
    let s = run(&policy_with(POLICY), &[c]);
    assert_eq!(s[0].fund, dec!(7000));
}
