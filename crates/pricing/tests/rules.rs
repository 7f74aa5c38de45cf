//! Pricing rules decided in issue 9: a DIP auxiliary coefficient must be positive,
//! every DIP payment is its points × the point value (4-decimal points, 6-decimal
//! factor),
//! and each outlier rule says which keys it takes.

use std::path::PathBuf;

use drgdip_pricing::policy::pricing_from_str;
use drgdip_pricing::{
    CaseInput, GroupStatus, HospitalLevel, InsuranceType, Method, Outlier, PriceError, Pricer,
};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("drgdip-prules-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("w.csv"), "group,weight\nAA11,2.0\n").unwrap();
    std::fs::write(
        d.join("s.csv"),
        "dip_code,score\nK80.1:51.23,1234.5678\nJ18.9:-,800\n",
    )
    .unwrap();
    d
}

const POLICY: &str = r#"
[policy]
name = "rules"
region = "T"

[drg]
weights = "w.csv"
base_rate = 10000

[dip]
point_value = "12.3457"
scores = "s.csv"

[coefficients]
levels = { "3" = 1.1, "2" = 0.95, "1" = 0.9, "0" = 0.8 }

[outliers.dip]
rule = "low-high-review"

[outliers.ungrouped]
rule = "cost-share"
factor = 0.7
"#;

fn pricer(name: &str, text: &str) -> Pricer {
    Pricer::new(pricing_from_str(text, &dir(name)).unwrap())
}

fn dip(group: &str, aux: Option<Decimal>, cost: Decimal) -> CaseInput<'_> {
    CaseInput {
        method: Method::Dip,
        status: GroupStatus::Grouped,
        group,
        score: None,
        aux_coef: aux,
        primary_care: false,
        hospital_id: "H",
        level: HospitalLevel::Second,
        insurance: InsuranceType::Resident,
        total_cost: cost,
    }
}

/// Bug 7: an `aux_coef` of 0 or below is an error naming the value, not silently 1.
#[test]
fn non_positive_aux_coef_is_rejected() {
    let p = pricer("aux", POLICY);
    for bad in [dec!(0), dec!(-1.05)] {
        let e = p.price(&dip("J18.9:-", Some(bad), dec!(9000))).unwrap_err();
        assert_eq!(e, PriceError::AuxCoef(bad.to_string()));
        assert!(e.to_string().contains("must be positive"), "{e}");
    }
    // Absent means 1; a positive value multiplies the score.
    let one = p.price(&dip("J18.9:-", None, dec!(9000))).unwrap();
    let aux = p
        .price(&dip("J18.9:-", Some(dec!(1.25)), dec!(9000)))
        .unwrap();
    assert_eq!(one.points, dec!(760.0000)); // 800 × 0.95
    assert_eq!(aux.points, dec!(950.0000)); // 800 × 1.25 × 0.95
}

fn half_up(d: Decimal, dp: u32) -> Decimal {
    d.round_dp_with_strategy(dp, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
}

fn points_times_value(p: &Pricer, c: &CaseInput<'_>) {
    let r = p.price(c).unwrap();
    let pv = dec!(12.3457);
    assert!(r.points.scale() <= 4, "{}", r.points);
    assert!(r.outlier_factor.scale() <= 6);
    assert_eq!(
        r.payment_standard,
        half_up(r.points * pv, 2),
        "payment = points × point value, cost {}",
        c.total_cost
    );
    if r.outlier != Outlier::Ungrouped {
        // points = standard points × the shown factor, to 4 decimals.
        let p0 = half_up(r.base * r.coefficient, 4);
        assert_eq!(r.points, half_up(p0 * r.outlier_factor, 4));
        assert_eq!(r.standard, half_up(p0 * pv, 2));
    }
}

/// §3: the DIP payment of every case (normal, low, high, review, ungrouped) equals its
/// case points × the point value, rounded to the fen, with points = standard points
/// (4 decimals) × the shown 6-decimal factor.
#[test]
fn dip_payment_is_points_times_point_value() {
    let p = pricer("pv", POLICY);
    // Standard points 1234.5678 × 0.95 = 1172.83941 → 1172.8394; standard
    // 1172.8394 × 12.3457 = 14479.5233… → 14479.52.
    let normal = p.price(&dip("K80.1:51.23", None, dec!(14000))).unwrap();
    assert_eq!(normal.points, dec!(1172.8394));
    assert_eq!(normal.standard, dec!(14479.52));
    assert_eq!(normal.payment_standard, dec!(14479.52));
    // High: cost 40000.07 → factor (40000.07 / 14479.52 − 2) + 1 = 1.7625273… →
    // 1.762527 (DIP factors are kept to 6 decimals).
    let high = p.price(&dip("K80.1:51.23", None, dec!(40000.07))).unwrap();
    assert_eq!(high.outlier, Outlier::High);
    assert_eq!(high.outlier_factor, dec!(1.762527));
    assert_eq!(high.points, dec!(2067.1611)); // 1172.8394 × 1.762527 = 2067.16110…
    assert_eq!(high.payment_standard, dec!(25520.55)); // 2067.1611 × 12.3457 = 25520.5507…
    for cost in [
        dec!(0.01),
        dec!(3333.33),
        dec!(7239.71),
        dec!(14000),
        dec!(28958.87),
        dec!(28958.86),
        dec!(40000.07),
        dec!(72397.16),
        dec!(99999.99),
        dec!(123456.78),
    ] {
        points_times_value(&p, &dip("K80.1:51.23", None, cost));
        points_times_value(&p, &dip("K80.1:51.23", Some(dec!(1.0731)), cost));
    }
    let mut u = dip("", None, dec!(10000.01));
    u.status = GroupStatus::Ungrouped;
    points_times_value(&p, &u);
}

/// Bug 10: each rule says which keys it takes. A key of another rule beside
/// `rule = "none"` (or beside any rule that does not use it) is refused with a message
/// naming the rule and its keys, not called a typo; keys of no rule stay typos.
#[test]
fn each_rule_names_the_keys_it_takes() {
    let err = |text: &str| {
        pricing_from_str(text, &dir("keys"))
            .unwrap_err()
            .to_string()
    };
    let e = err(&POLICY.replace(
        "[outliers.dip]\nrule = \"low-high-review\"",
        "[outliers.drg]\nrule = \"none\"\nlow_ratio = 0.4\n\n[outliers.dip]\nrule = \"low-high-review\"",
    ));
    assert_eq!(
        e,
        "policy key `outliers.drg.low_ratio` has invalid value 0.4: not used by rule = \"none\", \
         which takes no other keys"
    );
    let e = err(&POLICY.replace(
        "rule = \"low-high-review\"",
        "rule = \"none\"\nhigh_threshold = 3",
    ));
    assert!(
        e.contains("`outliers.dip.high_threshold`") && e.contains("rule = \"none\""),
        "{e}"
    );
    let e = err(&POLICY.replace(
        "[outliers.dip]\nrule = \"low-high-review\"",
        "[outliers.drg]\nrule = \"ratio-by-level\"\nhigh_ratio = 3\nweight_bands = []\n\n\
         [outliers.dip]\nrule = \"low-high-review\"",
    ));
    assert!(
        e.contains("`outliers.drg.weight_bands`")
            && e.contains("not used by rule = \"ratio-by-level\", which takes high_ratio, low_ratio, high_pay_share, low_pay_share"),
        "{e}"
    );
    let e = err(&POLICY.replace(
        "rule = \"cost-share\"\nfactor = 0.7",
        "rule = \"reject\"\nfactor = 0.7",
    ));
    assert!(
        e.contains("`outliers.ungrouped.factor`") && e.contains("rule = \"reject\""),
        "{e}"
    );
    // A key no rule defines is still a typo.
    let e = err(&POLICY.replace(
        "rule = \"low-high-review\"",
        "rule = \"low-high-review\"\nhigh_treshold = 3",
    ));
    assert_eq!(
        e,
        "policy key `outliers.dip.high_treshold` is not part of the policy format (typo?)"
    );
}

/// Seed 001: negotiated drugs paid separately are outside the comparison with the
/// standard and paid as is.
#[test]
fn negotiated_drugs_are_outside_the_comparison_and_paid_as_is() {
    let text = POLICY.replace(
        "[outliers.dip]",
        "[outliers.drg]\nrule = \"ratio-by-level\"\nhigh_ratio = 2\nlow_ratio = 0.5\n\n[outliers.dip]",
    );
    let p = pricer("negotiated", &text);
    let case = |cost| CaseInput {
        method: Method::Drg,
        status: GroupStatus::Grouped,
        group: "AA11",
        score: None,
        aux_coef: None,
        primary_care: false,
        hospital_id: "H",
        level: HospitalLevel::Second,
        insurance: InsuranceType::Employee,
        total_cost: cost,
    };
    // Standard 2 × 0.95 × 10000 = 19000; cost 45000 of which 10000 negotiated drugs:
    // the comparison sees 35000 (< 2 × 19000), a normal case, paid 19000 + 10000.
    let r = p
        .price_with_negotiated(&case(dec!(45000)), dec!(10000))
        .unwrap();
    assert_eq!(r.outlier, Outlier::None);
    assert_eq!(r.payment_standard, dec!(19000.00));
    assert_eq!(r.negotiated, dec!(10000.00));
    assert_eq!(r.cost_ratio, dec!(1.8421)); // 35000 / 19000
    // Without the split the same case is a high outlier.
    assert_eq!(p.price(&case(dec!(45000))).unwrap().outlier, Outlier::High);
    // Low side: 14000 with 6000 negotiated compares 8000 < 9500: paid by items 8000.
    let r = p
        .price_with_negotiated(&case(dec!(14000)), dec!(6000))
        .unwrap();
    assert_eq!(r.outlier, Outlier::Low);
    assert_eq!(r.payment_standard, dec!(8000.00));
    assert_eq!(r.negotiated, dec!(6000.00));
    assert!(matches!(
        p.price_with_negotiated(&case(dec!(100)), dec!(100.01)),
        Err(PriceError::Negotiated { .. })
    ));
}
