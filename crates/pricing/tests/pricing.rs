//! Pricing against small hand-written policies: primary-care same price, coefficients,
//! outlier rules worked by hand, unknown groups, and policy validation errors.

use std::path::PathBuf;

use drgdip_pricing::policy::{RateMethod, pricing_from_str};
use drgdip_pricing::{
    CaseInput, GroupStatus, HospitalLevel, InsuranceType, Method, Outlier, PolicyError, PriceError,
    Pricer,
};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

fn fixture_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("drgdip-pricing-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("weights.csv"),
        "group,weight,mean_cost,mean_los,cases,cv,name\n\
         AA11,2.0,20000,9.5,100,0.4,big\n\
         PC19,0.5,5000,5,300,0.3,primary\n\
         HW31,6.0,60000,,20,1.2,heavy\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("scores.csv"),
        "dip_code,score\nJ18.9:conservative,800\nK80.1:51.23,1500\n",
    )
    .unwrap();
    dir
}

const POLICY: &str = r#"
[policy]
name = "test"
region = "T"
year = 2025

[drg]
weights = "weights.csv"
rate_method = "fixed"
base_rate = { employee = 10000, resident = "8000.00" }

[dip]
point_value_method = "fixed"
point_value = { employee = 10, resident = 8 }
scores = "scores.csv"

[coefficients]
levels = { "3" = 1.2, "2" = 1.0, "1" = 0.9, "0" = 0.8 }
[coefficients.hospitals]
H-SPECIAL = 1.5

[primary_care]
coefficient = 0.95
drg = ["PC19"]
dip = ["J18.9:conservative"]

[outliers.drg]
rule = "ratio-by-level"
high_ratio = { "3" = 3, "2" = 2, "1" = 2, "0" = 2, primary_care = 2.5 }
low_ratio = 0.4
high_pay_share = 0.9
low_pay_share = 1

[outliers.dip]
rule = "low-high-review"
low_threshold = 0.5
high_threshold = 2
review_threshold = 5

[outliers.ungrouped]
rule = "cost-share"
factor = 0.7

[outliers.ambiguous]
rule = "reject"
"#;

fn pricer(name: &str, text: &str) -> Pricer {
    Pricer::new(pricing_from_str(text, &fixture_dir(name)).unwrap())
}

fn drg<'a>(
    group: &'a str,
    hospital: &'a str,
    level: HospitalLevel,
    cost: Decimal,
) -> CaseInput<'a> {
    CaseInput {
        method: Method::Drg,
        status: GroupStatus::Grouped,
        group,
        score: None,
        aux_coef: None,
        hospital_id: hospital,
        level,
        insurance: InsuranceType::Employee,
        total_cost: cost,
        primary_care: false,
    }
}

#[test]
fn non_primary_group_pays_weight_times_rate_times_level_coefficient() {
    let p = pricer("basic", POLICY);
    let c = p
        .price(&drg("AA11", "H1", HospitalLevel::Third, dec!(20000)))
        .unwrap();
    // 2.0 × 10000 × 1.2
    assert_eq!(c.payment_standard, dec!(24000.00));
    assert_eq!(c.coefficient, dec!(1.2));
    assert_eq!(c.outlier, Outlier::None);
    assert!(!c.primary_care);
    let c2 = p
        .price(&drg("AA11", "H2", HospitalLevel::Second, dec!(20000)))
        .unwrap();
    assert_eq!(c2.payment_standard, dec!(20000.00));
    assert_ne!(c.payment_standard, c2.payment_standard);
    // Per-hospital coefficient overrides the level's.
    let c3 = p
        .price(&drg(
            "AA11",
            "H-SPECIAL",
            HospitalLevel::Second,
            dec!(20000),
        ))
        .unwrap();
    assert_eq!(c3.payment_standard, dec!(30000.00));
    // Resident rate differs.
    let mut r = drg("AA11", "H1", HospitalLevel::Third, dec!(20000));
    r.insurance = InsuranceType::Resident;
    assert_eq!(p.price(&r).unwrap().payment_standard, dec!(19200.00));
}

#[test]
fn primary_care_group_has_one_price_in_every_hospital_and_level() {
    let p = pricer("primary", POLICY);
    let mut prices = Vec::new();
    for (h, level) in [
        ("H1", HospitalLevel::Third),
        ("H2", HospitalLevel::Second),
        ("H3", HospitalLevel::First),
        ("H4", HospitalLevel::PrimaryCare),
        ("H-SPECIAL", HospitalLevel::Third),
    ] {
        // Normal, high (> 2.5 × standard) and low (< 0.4 ×) costs: the same case gets
        // the same payment whatever the level, outliers included.
        for cost in [dec!(4000), dec!(20000), dec!(1000)] {
            let c = p.price(&drg("PC19", h, level, cost)).unwrap();
            assert!(c.primary_care);
            assert_eq!(c.coefficient, dec!(0.95));
            prices.push((cost, c.payment_standard));
        }
    }
    for (cost, pay) in &prices {
        let first = prices.iter().find(|(c, _)| c == cost).unwrap().1;
        assert_eq!(*pay, first, "cost {cost}");
    }
    // 0.5 × 10000 × 0.95 = 4750
    assert_eq!(prices[0].1, dec!(4750.00));

    // DIP primary-care type: same points and money everywhere.
    let dip = |h: &'static str, level| CaseInput {
        method: Method::Dip,
        status: GroupStatus::Grouped,
        group: "J18.9:conservative",
        score: Some(dec!(123)), // ignored: the scores table is authoritative
        aux_coef: Some(dec!(1.1)),
        hospital_id: h,
        level,
        insurance: InsuranceType::Resident,
        total_cost: dec!(7000),
        primary_care: false,
    };
    let a = p.price(&dip("H1", HospitalLevel::Third)).unwrap();
    let b = p.price(&dip("H4", HospitalLevel::PrimaryCare)).unwrap();
    assert_eq!(a.payment_standard, b.payment_standard);
    // 800 × 1.1 × 0.95 × 8 = 6688.00
    assert_eq!(a.payment_standard, dec!(6688.00));
    assert_eq!(a.points, dec!(836.0000));

    // A type the policy does not list, flagged primary care by the grouper (the
    // `primary_care` column of `dip group`, per case under the national rules): no
    // hospital coefficient either.
    let flagged = |h: &'static str, level, primary_care| CaseInput {
        group: "K80.1:51.23",
        score: None,
        aux_coef: None,
        total_cost: dec!(12000),
        primary_care,
        ..dip(h, level)
    };
    let a = p.price(&flagged("H1", HospitalLevel::Third, true)).unwrap();
    let b = p
        .price(&flagged("H4", HospitalLevel::PrimaryCare, true))
        .unwrap();
    assert!(a.primary_care && b.primary_care);
    assert_eq!((a.coefficient, b.coefficient), (dec!(0.95), dec!(0.95)));
    // 1500 × 0.95 × 8 = 11400.00 at every level.
    assert_eq!(
        (a.payment_standard, b.payment_standard),
        (dec!(11400.00), dec!(11400.00))
    );
    let c = p
        .price(&flagged("H1", HospitalLevel::Third, false))
        .unwrap();
    assert!(!c.primary_care);
    assert_ne!(c.coefficient, dec!(0.95));
}

#[test]
fn drg_high_and_low_ratio_cases_follow_the_rule() {
    let p = pricer("drg-outliers", POLICY);
    // Standard at level 3: 24000; high threshold 3 × 24000 = 72000.
    let c = p
        .price(&drg("AA11", "H1", HospitalLevel::Third, dec!(82000)))
        .unwrap();
    assert_eq!(c.outlier, Outlier::High);
    // 24000 + (82000 − 72000) × 0.9 = 33000
    assert_eq!(c.payment_standard, dec!(33000.00));
    assert_eq!(c.outlier_factor, dec!(1.375));
    assert_eq!(c.points, dec!(3.3)); // 2.0 × 1.2 × 1.375
    // Exactly at the threshold is not an outlier.
    let c = p
        .price(&drg("AA11", "H1", HospitalLevel::Third, dec!(72000)))
        .unwrap();
    assert_eq!(c.outlier, Outlier::None);
    // Level 2 threshold is 2 ×: 40001 > 40000 → high.
    let c = p
        .price(&drg("AA11", "H2", HospitalLevel::Second, dec!(40001)))
        .unwrap();
    assert_eq!(c.outlier, Outlier::High);
    assert_eq!(c.payment_standard, dec!(20000.90));
    // Low: < 0.4 × 24000 = 9600 → paid cost × 1.
    let c = p
        .price(&drg("AA11", "H1", HospitalLevel::Third, dec!(9599.99)))
        .unwrap();
    assert_eq!(c.outlier, Outlier::Low);
    assert_eq!(c.payment_standard, dec!(9599.99));
}

#[test]
fn drg_ratio_by_weight_bands() {
    let text = POLICY.replace(
        "rule = \"ratio-by-level\"\nhigh_ratio = { \"3\" = 3, \"2\" = 2, \"1\" = 2, \"0\" = 2, primary_care = 2.5 }",
        "rule = \"ratio-by-weight\"\nweight_bands = [ { min_weight = 5, high_ratio = 1.5 }, { min_weight = 0, high_ratio = 3 } ]",
    );
    let p = pricer("bands", &text);
    // HW31 weight 6 → band 1.5; standard at level 2 = 60000; 1.5× = 90000.
    let c = p
        .price(&drg("HW31", "H2", HospitalLevel::Second, dec!(100000)))
        .unwrap();
    assert_eq!(c.outlier, Outlier::High);
    assert_eq!(c.payment_standard, dec!(69000.00)); // 60000 + 10000 × 0.9
    // AA11 weight 2 → band 3 × 20000 = 60000; 50000 is within the standard band.
    let c = p
        .price(&drg("AA11", "H2", HospitalLevel::Second, dec!(50000)))
        .unwrap();
    assert_eq!(c.outlier, Outlier::None);
}

#[test]
fn dip_low_high_and_review_cases() {
    let p = pricer("dip-outliers", POLICY);
    let case = |cost| CaseInput {
        method: Method::Dip,
        status: GroupStatus::Grouped,
        group: "K80.1:51.23",
        score: None,
        aux_coef: None,
        hospital_id: "H2",
        level: HospitalLevel::Second,
        insurance: InsuranceType::Employee,
        total_cost: cost,
        primary_care: false,
    };
    // Standard: 1500 × 1.0 × 10 = 15000.
    let normal = p.price(&case(dec!(15000))).unwrap();
    assert_eq!(normal.payment_standard, dec!(15000.00));
    let low = p.price(&case(dec!(6000))).unwrap(); // 0.4 < 0.5
    assert_eq!(low.outlier, Outlier::Low);
    assert_eq!(low.payment_standard, dec!(6000.00));
    assert_eq!(low.points, dec!(600));
    let high = p.price(&case(dec!(45000))).unwrap(); // ratio 3 → factor 2
    assert_eq!(high.outlier, Outlier::High);
    assert_eq!(high.outlier_factor, dec!(2));
    assert_eq!(high.payment_standard, dec!(30000.00));
    let review = p.price(&case(dec!(90000))).unwrap(); // ratio 6 → factor 5, review
    assert_eq!(review.outlier, Outlier::Review);
    assert_eq!(review.payment_standard, dec!(75000.00));
    let edge = p.price(&case(dec!(30000))).unwrap(); // exactly 2× → normal
    assert_eq!(edge.outlier, Outlier::None);
}

#[test]
fn ungrouped_ambiguous_and_invalid_cases() {
    let p = pricer("ungrouped", POLICY);
    let mut c = drg("0000", "H1", HospitalLevel::Third, dec!(10000.01));
    c.status = GroupStatus::Ungrouped;
    let u = p.price(&c).unwrap();
    assert_eq!(u.outlier, Outlier::Ungrouped);
    assert_eq!(u.payment_standard, dec!(7000.01)); // 7000.007 → 7000.01
    c.status = GroupStatus::Ambiguous;
    assert_eq!(
        p.price(&c).unwrap_err(),
        PriceError::RejectedByPolicy("ambiguous")
    );
    c.status = GroupStatus::Invalid;
    assert!(matches!(p.price(&c), Err(PriceError::NotGrouped(_))));
}

#[test]
fn unknown_group_is_a_clear_error_not_a_zero() {
    let p = pricer("unknown", POLICY);
    let err = p
        .price(&drg("ZZ99", "H1", HospitalLevel::Third, dec!(100)))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "drg group `ZZ99` is not in the policy (DRG weights file)"
    );
    let mut d = drg("X99.9:none", "H1", HospitalLevel::Third, dec!(100));
    d.method = Method::Dip;
    assert!(matches!(
        p.price(&d),
        Err(PriceError::UnknownGroup { method: "dip", .. })
    ));
}

#[test]
fn dip_without_scores_table_uses_the_case_score() {
    let text = POLICY
        .replace("scores = \"scores.csv\"\n", "")
        .replace("dip = [\"J18.9:conservative\"]", "dip = []");
    let p = pricer("no-scores", &text);
    let c = CaseInput {
        method: Method::Dip,
        status: GroupStatus::Composite,
        group: "A09-1",
        score: Some(dec!(512.5)),
        aux_coef: Some(dec!(1.2)),
        hospital_id: "H3",
        level: HospitalLevel::First,
        insurance: InsuranceType::Employee,
        total_cost: dec!(5000),
        primary_care: false,
    };
    let r = p.price(&c).unwrap();
    // 512.5 × 1.2 × 0.9 × 10 = 5535
    assert_eq!(r.payment_standard, dec!(5535.00));
    let mut none = c;
    none.score = None;
    assert_eq!(p.price(&none).unwrap_err(), PriceError::NoScore);
}

fn load_err(name: &str, text: &str) -> PolicyError {
    pricing_from_str(text, &fixture_dir(name)).unwrap_err()
}

#[test]
fn bad_policy_values_are_rejected_naming_the_key() {
    let e = load_err(
        "bad-rate",
        &POLICY.replace("resident = \"8000.00\"", "resident = \"eight\""),
    );
    assert!(e.to_string().contains("`drg.base_rate.resident`"), "{e}");
    assert!(e.to_string().contains("\"eight\""), "{e}");

    let e = load_err(
        "neg-coef",
        &POLICY.replace("\"1\" = 0.9, \"0\" = 0.8 }", "\"1\" = -0.9, \"0\" = 0.8 }"),
    );
    assert!(e.to_string().contains("`coefficients.levels.1`"), "{e}");
    assert!(e.to_string().contains("-0.9"), "{e}");

    let e = load_err("missing-level", &POLICY.replace(", \"0\" = 0.8 }", " }"));
    assert!(
        e.to_string().contains("`coefficients.levels.0` is missing"),
        "{e}"
    );

    let e = load_err(
        "rule",
        &POLICY.replace("\"low-high-review\"", "\"lowhigh\""),
    );
    assert!(e.to_string().contains("`outliers.dip.rule`"), "{e}");

    let e = load_err(
        "typo",
        &POLICY.replace("low_ratio = 0.4", "low_ratoi = 0.4"),
    );
    assert!(
        matches!(e, PolicyError::UnknownKey { ref key } if key == "outliers.drg.low_ratoi"),
        "{e}"
    );

    let e = load_err("ratio", &POLICY.replace("factor = 0.7", "factor = 1.7"));
    assert!(e.to_string().contains("`outliers.ungrouped.factor`"), "{e}");
    assert!(e.to_string().contains("1.7"), "{e}");

    let e = load_err(
        "pc-unknown",
        &POLICY.replace("drg = [\"PC19\"]", "drg = [\"PC19\", \"NOPE\"]"),
    );
    assert!(e.to_string().contains("`primary_care.drg[1]`"), "{e}");

    let e = load_err("section", &format!("{POLICY}\n[benfits]\nx = 1\n"));
    assert!(e.to_string().contains("`benfits`"), "{e}");

    let e = load_err(
        "elastic",
        &POLICY.replace("rate_method = \"fixed\"", "rate_method = \"elastic\""),
    );
    assert!(
        e.to_string()
            .contains("`drg.elastic_fixed_share` is missing"),
        "{e}"
    );
}

#[test]
fn weights_file_errors_name_file_line_and_field() {
    let dir = fixture_dir("bad-weights");
    std::fs::write(dir.join("bad.csv"), "group,weight\nAA11,1\nBB11,x\n").unwrap();
    let e = pricing_from_str(&POLICY.replace("weights.csv", "bad.csv"), &dir).unwrap_err();
    let s = e.to_string();
    assert!(s.contains("bad.csv, line 3, field `weight`"), "{s}");
}

#[test]
fn elastic_and_floating_methods_load() {
    let p = pricing_from_str(
        &POLICY.replace(
            "rate_method = \"fixed\"",
            "rate_method = \"elastic\"\nelastic_fixed_share = 0.6",
        ),
        &fixture_dir("elastic-ok"),
    )
    .unwrap();
    assert_eq!(
        p.drg.unwrap().rate_method,
        RateMethod::Elastic {
            fixed_share: dec!(0.6)
        }
    );
}

#[test]
fn primary_care_drgs_from_a_file_like_chs_drg_30s_primary_groups() {
    let dir = fixture_dir("primary-file");
    std::fs::write(
        dir.join("primary-groups.csv"),
        "drg,name,kind\nHW31,重,medical\n",
    )
    .unwrap();
    let text = POLICY.replace(
        "drg = [\"PC19\"]",
        "drg = [\"PC19\"]\ndrg_file = \"primary-groups.csv\"",
    );
    let p = pricing_from_str(&text, &dir).unwrap();
    let want: Vec<&str> = vec!["HW31", "PC19"];
    assert_eq!(
        p.primary_care
            .drg
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        want
    );
    let pricer = Pricer::new(p);
    assert!(pricer.is_primary_care(Method::Drg, "HW31"));
    assert!(!pricer.is_primary_care(Method::Drg, "AA11"));

    // A DRG the weights file lacks names the file and line; so does an empty code.
    std::fs::write(
        dir.join("primary-groups.csv"),
        "drg,name,kind\nHW31,重,medical\nBR29,其他脑缺血性疾病,medical\n",
    )
    .unwrap();
    let s = pricing_from_str(&text, &dir).unwrap_err().to_string();
    assert!(
        s.contains("primary-groups.csv line 3") && s.contains("BR29"),
        "{s}"
    );
    std::fs::write(dir.join("primary-groups.csv"), "drg,name\n,x\n").unwrap();
    let s = pricing_from_str(&text, &dir).unwrap_err().to_string();
    assert!(s.contains("primary-groups.csv, line 2, field `drg`"), "{s}");
    std::fs::write(dir.join("primary-groups.csv"), "code_x,name\nHW31,x\n").unwrap();
    let s = pricing_from_str(&text, &dir).unwrap_err().to_string();
    assert!(s.contains("no `drg` column"), "{s}");
}
