//! Outpatient claims from a CSV (seed 003: 两病 deductible 30 yuan a year; seed 001:
//! resident ordinary outpatient cap 400 yuan a year), one row out per claim.

use drgdip_payment::Policy;
use drgdip_pipeline::outpatient::{OUTPATIENT_HEADER, price_outpatient};
use rust_decimal::Decimal;

const POLICY: &str = r#"
[policy]
name = "outpatient"
region = "T"

[drg]
weights = "w.csv"
base_rate = 10000

[coefficients]
levels = 1

[benefits]
no_deductible_at_primary_care = false
[benefits.inpatient.employee]
deductible = 1000
ratio = 0.9
[benefits.inpatient.resident]
deductible = 1000
ratio = 0.8

[benefits.outpatient.two_diseases]
deductible = 30
ratio = 0.70

[benefits.outpatient.ordinary]
deductible = 0
ratio = 0.5
annual_cap = 400
insurance = ["resident"]
"#;

fn policy() -> Policy {
    // One folder per call: tests run in parallel and would rewrite each other's file.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("drgdip-outpatient-{}-{call}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("w.csv"), "group,weight\nAA11,1\n").unwrap();
    Policy::from_str_in(POLICY, &dir).unwrap()
}

#[test]
fn outpatient_claims_in_date_order_with_annual_deductible_and_cap() {
    // Given out of date order on purpose; a BOM and an extra column.
    let input = "\u{feff}claim_id,person_id,scheme,hospital_level,insurance_type,visit_date,total_cost,covered_cost,note\n\
        A2,p1,two_diseases,1,resident,2025-03-01,100.00,100.00,x\n\
        A1,p1,two_diseases,0,resident,2025-01-05,110.00,100.00,\n\
        A3,p1,two_diseases,1,居民,2026-01-02,50,50,\n\
        B1,p2,ordinary,1,resident,2025-02-01,600,600,\n\
        B2,p2,ordinary,1,resident,2025-06-01,400,400,\n\
        C1,p3,ordinary,1,employee,2025-02-01,100,100,\n\
        D1,p4,dental,1,resident,2025-02-01,100,100,\n\
        E1,p5,ordinary,1,resident,2025-02-30,100,100,\n\
        F1,p6,ordinary,1,resident,2025-02-01,100,120,\n";
    let mut out = Vec::new();
    let s = price_outpatient(&policy(), input.as_bytes(), &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(rows[0], OUTPATIENT_HEADER);
    assert_eq!(rows.len(), 10, "{text}");
    let ids: Vec<&str> = rows[1..].iter().map(|r| r[0]).collect();
    assert_eq!(ids, ["A2", "A1", "A3", "B1", "B2", "C1", "D1", "E1", "F1"]);
    // uncovered, deductible, coinsurance, over_cap, patient, fund.
    for (id, expected, why) in [
        (
            "A1",
            ["10.00", "30.00", "21.00", "0.00", "61.00", "49.00"],
            "first in the year: 10 uncovered, deductible 30, fund round(70 × 0.7) = 49",
        ),
        (
            "A2",
            ["0.00", "0.00", "30.00", "0.00", "30.00", "70.00"],
            "later: the deductible already paid",
        ),
        (
            "A3",
            ["0.00", "30.00", "6.00", "0.00", "36.00", "14.00"],
            "next year: the deductible again",
        ),
        (
            "B1",
            ["0.00", "0.00", "300.00", "0.00", "300.00", "300.00"],
            "cap 400 a year: 300",
        ),
        (
            "B2",
            ["0.00", "0.00", "200.00", "100.00", "300.00", "100.00"],
            "then 200 cut to 100",
        ),
    ] {
        let r = rows.iter().find(|r| r[0] == id).unwrap();
        assert_eq!(r[7..13], expected, "{id}: {why}");
    }
    for (id, start) in [
        ("C1", "row 7: field `insurance_type`:"),
        ("D1", "row 8: field `scheme`:"),
        ("E1", "row 9: field `visit_date`:"),
        ("F1", "row 10: field `covered_cost`:"),
    ] {
        let r = rows.iter().find(|r| r[0] == id).unwrap();
        assert_eq!(r[13], "rejected", "{id}");
        assert!(
            r[7..13].iter().all(|m| m.is_empty()),
            "{id}: money left empty"
        );
        let msg = r[14..].join(",");
        assert!(msg.starts_with(start), "{id}: {msg}");
    }
    assert_eq!(s.claims, 9);
    assert_eq!(s.rejected, 4);
    assert_eq!(s.fund, Decimal::new(53300, 2));
    assert_eq!(s.patient, Decimal::new(72700, 2));
}

#[test]
fn a_missing_column_is_an_error_naming_it() {
    let input = "claim_id,person_id,scheme,hospital_level,insurance_type,total_cost,covered_cost\n";
    let e = price_outpatient(&policy(), input.as_bytes(), Vec::new()).unwrap_err();
    assert!(e.to_string().contains("no `visit_date` column"), "{e}");
}

/// Issue 10, finding 6: `1_000` and `1e5` are not amounts (`rust_decimal` alone reads
/// both), nor is an amount beyond 10¹⁰ yuan; each such claim is rejected by name.
#[test]
fn separators_exponents_and_huge_amounts_are_rejected() {
    let big = "9".repeat(28);
    let input = format!(
        "claim_id,person_id,scheme,hospital_level,insurance_type,visit_date,total_cost,covered_cost\n\
         S1,p1,ordinary,1,resident,2025-02-01,1_000,100\n\
         S2,p2,ordinary,1,resident,2025-02-01,1e5,100\n\
         S3,p3,ordinary,1,resident,2025-02-01,{big},{big}\n\
         S4,p4,ordinary,1,resident,2025-02-01,1000,100\n"
    );
    let mut out = Vec::new();
    let s = price_outpatient(&policy(), input.as_bytes(), &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!((s.claims, s.rejected), (4, 3), "{text}");
    for (id, why) in [
        ("S1", "field `total_cost`: `1_000` is not a number"),
        ("S2", "field `total_cost`: `1e5` is not a number"),
        ("S3", "is more than 10000000000 yuan"),
    ] {
        let row = text.lines().find(|l| l.starts_with(id)).unwrap();
        assert!(row.contains("rejected") && row.contains(why), "{row}");
    }
}
