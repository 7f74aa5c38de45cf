//! Patient shares worked by hand for each benefit rule, accumulators across a year in
//! date order, and independence from input order.

mod common;

use common::{claim, policy_with};
use drgdip_payment::benefits::{Claim, ClaimError, ClaimKind, Referral, Share, apply_benefits};
use drgdip_pricing::{HospitalLevel, InsuranceType};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

const POLICY: &str = r#"

[benefits]
no_deductible_at_primary_care = true

[benefits.inpatient]
deductible_basis = "admission"
day_surgery_deductible_factor = 0.5
referral_rules = true

[benefits.inpatient.employee]
deductible = { "3" = 1000, "2" = 600, "1" = 300, "0" = 200 }
ratio = { "3" = 0.85, "2" = 0.88, "1" = 0.90, "0" = 0.92 }
annual_cap = 100000

[benefits.inpatient.resident]
deductible = { "3" = 1200, "2" = 800, "1" = 400, "0" = 200 }
ratio = { "3" = 0.60, "2" = 0.70, "1" = 0.80, "0" = 0.90 }
annual_cap = 20000

[benefits.outpatient.two_diseases]
deductible = 30
ratio = 0.70

[benefits.outpatient.ordinary]
deductible = 0
ratio = 0.5
annual_cap = 400
insurance = ["resident"]
"#;

fn patient(shares: &[Result<Share, ClaimError>]) -> Vec<Decimal> {
    shares.iter().map(|s| s.as_ref().unwrap().patient).collect()
}

use HospitalLevel::{First, PrimaryCare, Second, Third};
use InsuranceType::{Employee, Resident};

#[test]
fn inpatient_deductible_ratio_and_uncovered_cost() {
    let p = policy_with(POLICY);
    let c = claim(
        "A",
        "p1",
        "2025-03-01",
        ClaimKind::Inpatient,
        Third,
        Employee,
        dec!(20000),
        dec!(18000),
    );
    let s = apply_benefits(&p.payment.benefits, &[c]).remove(0).unwrap();
    assert_eq!(s.uncovered, dec!(2000));
    assert_eq!(s.deductible, dec!(1000));
    assert_eq!(s.coinsurance, dec!(2550)); // 17000 × 15%
    assert_eq!(s.over_cap, dec!(0));
    assert_eq!(s.patient, dec!(5550));
    assert_eq!(s.fund, dec!(14450));
    assert_eq!(s.patient + s.fund, dec!(20000));
}

#[test]
fn day_surgery_pays_half_the_deductible() {
    let p = policy_with(POLICY);
    let mut c = claim(
        "B",
        "p1",
        "2025-03-01",
        ClaimKind::Inpatient,
        Third,
        Employee,
        dec!(8000),
        dec!(8000),
    );
    c.day_surgery = true;
    let s = apply_benefits(&p.payment.benefits, &[c]).remove(0).unwrap();
    assert_eq!(s.deductible, dec!(500));
    assert_eq!(s.patient, dec!(1625)); // 500 + 7500 × 15%
}

#[test]
fn no_deductible_at_primary_care_unless_switched_off() {
    let p = policy_with(POLICY);
    let c = claim(
        "C",
        "p1",
        "2025-03-01",
        ClaimKind::Inpatient,
        PrimaryCare,
        Employee,
        dec!(3000),
        dec!(2500),
    );
    let s = apply_benefits(&p.payment.benefits, std::slice::from_ref(&c))
        .remove(0)
        .unwrap();
    assert_eq!(s.deductible, dec!(0));
    assert_eq!(s.patient, dec!(700)); // 500 uncovered + 2500 × 8%
    let p2 = policy_with(&POLICY.replace(
        "no_deductible_at_primary_care = true",
        "no_deductible_at_primary_care = false",
    ));
    let s = apply_benefits(&p2.payment.benefits, &[c])
        .remove(0)
        .unwrap();
    assert_eq!(s.deductible, dec!(200));
    assert_eq!(s.patient, dec!(884)); // 500 + 200 + 2300 × 8%
}

#[test]
fn referrals_accumulators_and_cap_across_a_year_in_date_order() {
    let p = policy_with(POLICY);
    let mut up = claim(
        "D2",
        "r1",
        "2025-02-01",
        ClaimKind::Inpatient,
        Third,
        Resident,
        dec!(10000),
        dec!(10000),
    );
    up.referral = Referral::Up;
    let mut down = claim(
        "D3",
        "r1",
        "2025-03-01",
        ClaimKind::Inpatient,
        Second,
        Resident,
        dec!(4000),
        dec!(4000),
    );
    down.referral = Referral::Down;
    let claims = vec![
        // Given out of order on purpose.
        claim(
            "D5",
            "r1",
            "2025-05-01",
            ClaimKind::Inpatient,
            First,
            Resident,
            dec!(1000),
            dec!(1000),
        ),
        down,
        claim(
            "D1",
            "r1",
            "2025-01-10",
            ClaimKind::Inpatient,
            Second,
            Resident,
            dec!(5000),
            dec!(5000),
        ),
        claim(
            "D4",
            "r1",
            "2025-04-01",
            ClaimKind::Inpatient,
            Third,
            Resident,
            dec!(20000),
            dec!(20000),
        ),
        up,
        claim(
            "D6",
            "r1",
            "2026-01-05",
            ClaimKind::Inpatient,
            Second,
            Resident,
            dec!(1000),
            dec!(1000),
        ),
    ];
    let shares = apply_benefits(&p.payment.benefits, &claims);
    let by_id = |id: &str| -> Share {
        let i = claims.iter().position(|c| c.id == id).unwrap();
        shares[i].clone().unwrap()
    };
    // D1: level 2 deductible 800, fund 4200 × 70% = 2940.
    assert_eq!(by_id("D1").patient, dec!(2060));
    assert_eq!(by_id("D1").fund, dec!(2940));
    // D2: upward referral from level 2: only 1200 − 800 = 400; fund 9600 × 60% = 5760.
    assert_eq!(by_id("D2").deductible, dec!(400));
    assert_eq!(by_id("D2").patient, dec!(4240));
    // D3: downward referral, no deductible; fund 2800.
    assert_eq!(by_id("D3").deductible, dec!(0));
    assert_eq!(by_id("D3").patient, dec!(1200));
    // D4: cap 20000, fund so far 2940 + 5760 + 2800 = 11500, 8500 left.
    let d4 = by_id("D4");
    assert_eq!(d4.deductible, dec!(1200));
    assert_eq!(d4.fund, dec!(8500)); // 18800 × 60% = 11280, cut to 8500
    assert_eq!(d4.over_cap, dec!(2780));
    assert_eq!(d4.patient, dec!(11500));
    // D5: cap exhausted: patient pays everything.
    assert_eq!(by_id("D5").fund, dec!(0));
    assert_eq!(by_id("D5").patient, dec!(1000));
    // D6: new year, accumulators reset.
    assert_eq!(by_id("D6").patient, dec!(860));
    assert_eq!(by_id("D6").fund, dec!(140));
}

#[test]
fn upward_referral_without_earlier_stay_pays_full_deductible() {
    let p = policy_with(POLICY);
    let mut c = claim(
        "U",
        "x",
        "2025-06-01",
        ClaimKind::Inpatient,
        Third,
        Employee,
        dec!(2000),
        dec!(2000),
    );
    c.referral = Referral::Up;
    assert_eq!(
        apply_benefits(&p.payment.benefits, &[c])
            .remove(0)
            .unwrap()
            .deductible,
        dec!(1000)
    );
}

#[test]
fn annual_deductible_basis() {
    let p = policy_with(&POLICY.replace(
        "deductible_basis = \"admission\"",
        "deductible_basis = \"year\"",
    ));
    let claims = vec![
        claim(
            "Y1",
            "e",
            "2025-01-01",
            ClaimKind::Inpatient,
            Second,
            Employee,
            dec!(5000),
            dec!(5000),
        ),
        claim(
            "Y2",
            "e",
            "2025-02-01",
            ClaimKind::Inpatient,
            Third,
            Employee,
            dec!(5000),
            dec!(5000),
        ),
        claim(
            "Y3",
            "e",
            "2025-03-01",
            ClaimKind::Inpatient,
            Third,
            Employee,
            dec!(5000),
            dec!(5000),
        ),
    ];
    let s = apply_benefits(&p.payment.benefits, &claims);
    let ded: Vec<Decimal> = s.iter().map(|x| x.as_ref().unwrap().deductible).collect();
    assert_eq!(ded, vec![dec!(600), dec!(400), dec!(0)]);
}

#[test]
fn two_diseases_outpatient_30_yuan_a_year() {
    let p = policy_with(POLICY);
    let td = || ClaimKind::Outpatient("two_diseases".into());
    let claims = vec![
        claim(
            "O1",
            "h",
            "2025-01-20",
            td(),
            Second,
            Employee,
            dec!(20),
            dec!(20),
        ),
        claim(
            "O2",
            "h",
            "2025-02-20",
            td(),
            Second,
            Employee,
            dec!(50),
            dec!(50),
        ),
        claim(
            "O3",
            "h",
            "2025-03-20",
            td(),
            Second,
            Employee,
            dec!(100),
            dec!(100),
        ),
        claim(
            "O4",
            "h",
            "2026-01-02",
            td(),
            Second,
            Employee,
            dec!(100),
            dec!(100),
        ),
    ];
    let s = apply_benefits(&p.payment.benefits, &claims);
    // O1: 20 toward the 30 deductible. O2: 10 more, then 40 × 30% = 12. O3: 30%.
    // O4: new year, 30 again + 70 × 30% = 21.
    assert_eq!(patient(&s), vec![dec!(20), dec!(22), dec!(30), dec!(51)]);
    assert_eq!(s[1].as_ref().unwrap().deductible, dec!(10));
}

#[test]
fn ordinary_outpatient_cap_and_coverage() {
    let p = policy_with(POLICY);
    let ord = || ClaimKind::Outpatient("ordinary".into());
    let claims = vec![
        claim(
            "Q1",
            "r",
            "2025-01-01",
            ord(),
            First,
            Resident,
            dec!(500),
            dec!(500),
        ),
        claim(
            "Q2",
            "r",
            "2025-02-01",
            ord(),
            First,
            Resident,
            dec!(500),
            dec!(500),
        ),
        claim(
            "Q3",
            "e",
            "2025-02-01",
            ord(),
            First,
            Employee,
            dec!(500),
            dec!(500),
        ),
        claim(
            "Q4",
            "e",
            "2025-02-01",
            ClaimKind::Outpatient("dental".into()),
            First,
            Employee,
            dec!(5),
            dec!(5),
        ),
        claim(
            "Q5",
            "e",
            "2025-02-02",
            ClaimKind::Inpatient,
            First,
            Employee,
            dec!(5),
            dec!(6),
        ),
    ];
    let s = apply_benefits(&p.payment.benefits, &claims);
    assert_eq!(s[0].as_ref().unwrap().fund, dec!(250));
    assert_eq!(s[1].as_ref().unwrap().fund, dec!(150)); // 400 cap − 250
    assert_eq!(s[1].as_ref().unwrap().over_cap, dec!(100));
    assert!(matches!(s[2], Err(ClaimError::NotCovered { .. })));
    assert!(matches!(s[3], Err(ClaimError::UnknownScheme(_))));
    assert!(matches!(s[4], Err(ClaimError::Costs { .. })));
}

#[test]
fn rounding_at_the_claim_boundary_keeps_parts_adding_up() {
    let p = policy_with(POLICY);
    let c = claim(
        "R",
        "z",
        "2025-01-01",
        ClaimKind::Inpatient,
        Second,
        Employee,
        dec!(1234.57),
        dec!(1111.11),
    );
    let s = apply_benefits(&p.payment.benefits, &[c]).remove(0).unwrap();
    // eligible 511.11 × 88% = 449.7768 → 449.78; coinsurance 61.33.
    assert_eq!(s.fund, dec!(449.78));
    assert_eq!(s.coinsurance, dec!(61.33));
    assert_eq!(
        s.uncovered + s.deductible + s.coinsurance + s.over_cap,
        s.patient
    );
    assert_eq!(s.patient + s.fund, dec!(1234.57));
}

/// A tiny deterministic generator (xorshift) so the test needs no dependencies.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn any_input_order_gives_the_same_shares() {
    let p = policy_with(POLICY);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let levels = [PrimaryCare, First, Second, Third];
    let mut claims = Vec::new();
    for i in 0..3000 {
        let person = format!("P{}", rng.below(150));
        let month = 1 + rng.below(12);
        let day = 1 + rng.below(28);
        let year = 2024 + rng.below(2);
        let date = format!("{year}-{month:02}-{day:02}");
        let total = Decimal::new(i64::try_from(1000 + rng.below(5_000_000)).unwrap(), 2);
        let covered = total * Decimal::new(i64::try_from(50 + rng.below(51)).unwrap(), 2);
        let kind = if rng.below(5) == 0 {
            ClaimKind::Outpatient("two_diseases".into())
        } else {
            ClaimKind::Inpatient
        };
        let mut c = claim(
            &format!("C{i:05}"),
            &person,
            &date,
            kind,
            levels[usize::try_from(rng.below(4)).unwrap()],
            if rng.below(2) == 0 {
                Employee
            } else {
                Resident
            },
            total,
            covered.round_dp(2),
        );
        c.day_surgery = rng.below(10) == 0;
        c.referral = [Referral::None, Referral::None, Referral::Up, Referral::Down]
            [usize::try_from(rng.below(4)).unwrap()];
        claims.push(c);
    }
    let base = apply_benefits(&p.payment.benefits, &claims);
    let key = |cs: &[Claim], rs: &[Result<Share, ClaimError>]| {
        let mut v: Vec<(String, Share)> = cs
            .iter()
            .zip(rs)
            .map(|(c, r)| (c.id.clone(), r.clone().unwrap()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    let expected = key(&claims, &base);
    // The caps bind for somebody, so the order really matters inside a person.
    assert!(expected.iter().any(|(_, s)| s.over_cap > Decimal::ZERO));
    for round in 0..4 {
        let mut shuffled = claims.clone();
        for i in (1..shuffled.len()).rev() {
            let j = usize::try_from(rng.below(u64::try_from(i).unwrap() + 1)).unwrap();
            shuffled.swap(i, j);
        }
        if round == 0 {
            shuffled.reverse();
        }
        let threads = [1, 2, 3, 4][round];
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let got = pool.install(|| apply_benefits(&p.payment.benefits, &shuffled));
        assert_eq!(
            key(&shuffled, &got),
            expected,
            "round {round}, {threads} threads"
        );
    }
}
