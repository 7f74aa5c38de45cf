//! Fixtures shared by the payment tests: a policy loaded from TOML text in a fresh
//! folder (with a one-DRG weights file), and builders for claims and priced cases.
#![allow(dead_code)] // each test file uses some of these

use drgdip_payment::Policy;
use drgdip_payment::benefits::{Claim, ClaimKind, Referral};
use drgdip_payment::settle::PricedCase;
use drgdip_pricing::{Date, HospitalLevel, InsuranceType, Method, Outlier, PolicyError};
use rust_decimal::Decimal;

/// Loads `text` as a policy in its own temporary folder, beside `w.csv` (`AA11`, weight
/// 1) for `[drg] weights = "w.csv"`.
pub fn try_policy(text: &str) -> Result<Policy, PolicyError> {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("drgdip-paytest-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("w.csv"), "group,weight\nAA11,1\n").unwrap();
    Policy::from_str_in(text, &dir)
}

/// [`try_policy`] for a policy that must load.
pub fn policy(text: &str) -> Policy {
    try_policy(text).unwrap_or_else(|e| panic!("the test policy loads: {e}"))
}

/// What most test policies start with: a name, one DRG (`AA11`, weight 1, rate 10000)
/// and one level coefficient.
pub const HEAD: &str = r#"
[policy]
name = "test"
region = "T"

[drg]
weights = "w.csv"
base_rate = 10000

[coefficients]
levels = 1
"#;

/// [`policy`] of [`HEAD`] followed by `body`.
pub fn policy_with(body: &str) -> Policy {
    policy(&format!("{HEAD}{body}"))
}

/// A claim of `cost`, all covered, on one day (admission = discharge), no day surgery
/// nor referral.
#[allow(clippy::too_many_arguments)]
pub fn claim(
    id: &str,
    person: &str,
    date: &str,
    kind: ClaimKind,
    level: HospitalLevel,
    insurance: InsuranceType,
    total: Decimal,
    covered: Decimal,
) -> Claim {
    let day = Date::parse(date).unwrap_or_else(|| panic!("{date} is a date"));
    Claim {
        id: id.into(),
        person: person.into(),
        admit: day,
        discharge: day,
        kind,
        level,
        insurance,
        total_cost: total,
        covered_cost: covered,
        day_surgery: false,
        referral: Referral::None,
    }
}

/// A priced employee DRG case at a level-2 hospital discharged in March 2025: paid
/// its cost as the standard, no patient share, no outlier; tests change what they need
/// with struct update syntax.
pub fn priced<'a>(id: &'a str, hospital: &'a str, cost: Decimal) -> PricedCase<'a> {
    PricedCase {
        case_id: id,
        hospital_id: hospital,
        level: HospitalLevel::Second,
        method: Method::Drg,
        insurance: InsuranceType::Employee,
        year: 2025,
        month: 3,
        points: cost / Decimal::from(10_000),
        payment_standard: cost,
        patient_share: Decimal::ZERO,
        fund_outlay: cost,
        total_cost: cost,
        outlier: Outlier::None,
        cost_ratio: Decimal::ONE,
        negotiated_cost: Decimal::ZERO,
        negotiated_fund: Decimal::ZERO,
    }
}
