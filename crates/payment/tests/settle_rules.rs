//! Settlement rules decided in issue 9: advances by year and month, a community
//! member's negative annual amount, minimum shares topped up from the lead first, a
//! community with no spending, a member's final payment from its allocation, and the
//! community budget as a resident-insurance budget.

mod common;

use std::collections::BTreeMap;

use common::{policy, policy_with};
use drgdip_payment::community::{CommunityTree, MemberKind};
use drgdip_payment::settle::{Ledger, PricedCase, settle};
use drgdip_pricing::InsuranceType;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

const POLICY: &str = r#"

[benefits.inpatient.employee]
deductible = 0
ratio = 0.9
[benefits.inpatient.resident]
deductible = 0
ratio = 0.8

[budget]
total = 1000000
[[budget.allocation]]
id = "C"
amount = 50000

[settlement]
advance_share = 0.9
[settlement.audit_deductions]
T = 500

[[community]]
id = "C"
lead = "L"
[community.min_share]
central_township = 0.3
[[community.member]]
hospital = "T"
kind = "central_township"
"#;

fn case<'a>(
    id: &'a str,
    hospital: &'a str,
    insurance: InsuranceType,
    year: u16,
    month: u8,
    fund: Decimal,
) -> PricedCase<'a> {
    PricedCase {
        insurance,
        year,
        month,
        ..common::priced(id, hospital, fund)
    }
}

use InsuranceType::{Employee, Resident};

/// Bug 3: January 2025 and January 2026 are two months. Each month's advance is
/// round(0.05 × 0.9) = 0.05, so 0.10 in all, not round(0.10 × 0.9) = 0.09.
#[test]
fn advances_are_grouped_by_year_and_month() {
    let p = policy_with(POLICY);
    let mut l = Ledger::new();
    l.add(&case("a", "H", Resident, 2025, 1, dec!(0.05)));
    l.add(&case("b", "H", Resident, 2026, 1, dec!(0.05)));
    let s = settle(&p, l).unwrap();
    let h = &s.hospitals[0];
    assert_eq!(h.advance_paid, dec!(0.10));
    assert_eq!(h.deposit_held, dec!(0.00));
}

/// Bug 5: a member whose audit deduction exceeds its fund due has a negative annual
/// amount; the community result shows it as spent, so the members' spending adds up to
/// the community's. It weighs nothing in the allocation.
#[test]
fn a_negative_annual_amount_is_shown_as_spent() {
    let p = policy_with(POLICY);
    let mut l = Ledger::new();
    l.add(&case("a", "L", Resident, 2025, 3, dec!(30000)));
    l.add(&case("b", "T", Resident, 2025, 3, dec!(200)));
    let s = settle(&p, l).unwrap();
    let c = &s.communities[0];
    let t = c.members.iter().find(|m| m.hospital == "T").unwrap();
    assert_eq!(t.spent, dec!(-300.00));
    let sum: Decimal = c.members.iter().map(|m| m.spent).sum();
    assert_eq!(sum, c.spent);
    assert_eq!(c.spent, dec!(29700.00));
    let alloc: Decimal = c.members.iter().map(|m| m.allocation).sum();
    assert_eq!(alloc, c.result.paid);
}

/// §3: a member is paid its allocation, not its own annual amount: its final payment is
/// the allocation minus the advances it received.
#[test]
fn a_members_final_payment_is_its_allocation_minus_advances() {
    let p = policy_with(POLICY);
    let mut l = Ledger::new();
    l.add(&case("a", "L", Resident, 2025, 3, dec!(30000)));
    l.add(&case("b", "T", Resident, 2025, 3, dec!(10500)));
    let s = settle(&p, l).unwrap();
    let c = &s.communities[0];
    for m in &c.members {
        let h = s
            .hospitals
            .iter()
            .find(|h| h.hospital_id == m.hospital)
            .unwrap();
        assert_eq!(
            h.final_payment,
            m.allocation - h.advance_paid,
            "{}",
            m.hospital
        );
    }
    // Spent 40000 of 50000: surplus 10000 → kept 5000, paid 45000; T's 10000 (after
    // the 500 audit deduction) is below 30% → 13500; the lead gets 31500.
    let t = s.hospitals.iter().find(|h| h.hospital_id == "T").unwrap();
    assert_eq!(t.final_payment, dec!(13500.00) - dec!(9450.00));
    let total_final: Decimal = s.hospitals.iter().map(|h| h.final_payment).sum();
    let total_adv: Decimal = s.hospitals.iter().map(|h| h.advance_paid).sum();
    assert_eq!(total_final + total_adv, c.result.paid);
}

/// §3: a community with no spending is paid nothing: no saving to reward, so nothing is
/// retained and the whole budget is carried.
#[test]
fn a_community_with_no_spending_is_paid_nothing() {
    let p = policy_with(&POLICY.replace("[settlement.audit_deductions]\nT = 500\n", ""));
    let mut l = Ledger::new();
    l.add(&case("x", "H", Resident, 2025, 3, dec!(1000)));
    let s = settle(&p, l).unwrap();
    let c = &s.communities[0];
    assert_eq!(c.spent, dec!(0.00));
    assert_eq!(c.result.surplus_or_deficit, dec!(50000.00));
    assert_eq!(c.result.retained, dec!(0.00));
    assert_eq!(c.result.carried, dec!(50000.00));
    assert_eq!(c.result.paid, dec!(0.00));
    assert!(c.members.iter().all(|m| m.allocation.is_zero()));
}

/// Seed 001: the community's packaged budget is a resident-insurance budget. A
/// member's employee cases are paid to it directly and do not count against it.
#[test]
fn employee_cases_do_not_count_against_the_community_budget() {
    let p = policy_with(&POLICY.replace("[settlement.audit_deductions]\nT = 500\n", ""));
    let mut l = Ledger::new();
    l.add(&case("a", "L", Resident, 2025, 3, dec!(30000)));
    l.add(&case("b", "T", Resident, 2025, 3, dec!(10000)));
    l.add(&case("c", "L", Employee, 2025, 4, dec!(20000)));
    let s = settle(&p, l).unwrap();
    let c = &s.communities[0];
    // Resident spending 40000 of 50000 as before; the employee 20000 is outside.
    assert_eq!(c.spent, dec!(40000.00));
    assert_eq!(c.result.paid, dec!(45000.00));
    let lead = s.hospitals.iter().find(|h| h.hospital_id == "L").unwrap();
    assert_eq!(lead.annual_amount, dec!(50000.00));
    assert_eq!(lead.outside_community, dec!(20000.00));
    // Lead: allocation 31500 + employee 20000 − advances (27000 + 18000).
    assert_eq!(
        lead.final_payment,
        dec!(31500.00) + dec!(20000.00) - dec!(45000.00)
    );
    let m = c.members.iter().find(|m| m.hospital == "L").unwrap();
    assert_eq!(m.spent, dec!(30000.00));
}

fn tree(min: &[(MemberKind, Decimal)]) -> CommunityTree {
    CommunityTree::build(
        "C1",
        "LEAD",
        &[
            ("T1".into(), MemberKind::CentralTownship, "LEAD".into()),
            ("T2".into(), MemberKind::GeneralTownship, "LEAD".into()),
            ("T3".into(), MemberKind::GeneralTownship, "LEAD".into()),
            ("V1".into(), MemberKind::Village, "T1".into()),
        ],
        min.iter().copied().collect(),
    )
    .unwrap()
}

fn alloc(
    t: &CommunityTree,
    total: Decimal,
    spent: &[(&str, Decimal)],
) -> BTreeMap<String, Decimal> {
    let spent: BTreeMap<String, Decimal> =
        spent.iter().map(|(h, d)| ((*h).to_owned(), *d)).collect();
    let a = t.allocate(total, &spent).unwrap();
    let sum: Decimal = a.iter().map(|m| m.allocation).sum();
    assert_eq!(sum, total.round_dp(2));
    a.into_iter().map(|m| (m.hospital, m.allocation)).collect()
}

/// Bug 2: the top-up of a kind below its floor comes from the lead first; the other
/// townships keep what their spending gives them while the lead can pay.
#[test]
fn the_lead_tops_up_a_kind_below_its_floor_first() {
    let t = tree(&[(MemberKind::CentralTownship, dec!(0.30))]);
    // Spending 500 : 100 : 300 : 100 (village 0): central township 10% < 30%.
    let a = alloc(
        &t,
        dec!(1000),
        &[
            ("LEAD", dec!(500)),
            ("T1", dec!(100)),
            ("T2", dec!(300)),
            ("T3", dec!(100)),
            ("V1", dec!(0)),
        ],
    );
    assert_eq!(a["T1"], dec!(300.00));
    assert_eq!(a["T2"], dec!(300.00));
    assert_eq!(a["T3"], dec!(100.00));
    assert_eq!(a["LEAD"], dec!(300.00));
}

/// Bug 2: when the lead cannot cover the top-up, the rest comes pro rata from the
/// members above their floors (here the general townships, floor 0.25 in all).
#[test]
fn past_the_lead_the_top_up_comes_pro_rata_from_members_above_their_floors() {
    let t = tree(&[
        (MemberKind::CentralTownship, dec!(0.30)),
        (MemberKind::GeneralTownship, dec!(0.25)),
    ]);
    // Spending 100 : 100 : 600 : 200: lead 100, central 100 (needs 300), general 800
    // (floor 250, 550 above it). Top-up 200: 100 from the lead, 100 from the general
    // townships, split 600:200 → T2 525, T3 175.
    let a = alloc(
        &t,
        dec!(1000),
        &[
            ("LEAD", dec!(100)),
            ("T1", dec!(100)),
            ("T2", dec!(600)),
            ("T3", dec!(200)),
        ],
    );
    assert_eq!(a["LEAD"], dec!(0.00));
    assert_eq!(a["T1"], dec!(300.00));
    assert_eq!(a["T2"], dec!(525.00));
    assert_eq!(a["T3"], dec!(175.00));
    assert_eq!(a["V1"], dec!(0.00));
}

/// Village clinics are paid as spent when the floors leave room, and the floors still
/// hold.
#[test]
fn villages_are_paid_as_spent_and_floors_hold() {
    let t = tree(&[
        (MemberKind::CentralTownship, dec!(0.30)),
        (MemberKind::GeneralTownship, dec!(0.25)),
    ]);
    let a = alloc(
        &t,
        dec!(1000.01),
        &[
            ("LEAD", dec!(800)),
            ("T1", dec!(100)),
            ("T2", dec!(30)),
            ("T3", dec!(10)),
            ("V1", dec!(60)),
        ],
    );
    assert_eq!(a["V1"], dec!(60.00));
    // Exact targets: central 300.003, general 250.0025 split 3:1 (187.501875 and
    // 62.500625), the lead 940.01 × 800/940 − 410.004 = 390.0045; the one fen left
    // after truncation goes to the largest remainder (the lead's .45 fen).
    assert_eq!(a["T1"], dec!(300.00));
    assert_eq!(a["T2"], dec!(187.50));
    assert_eq!(a["T3"], dec!(62.50));
    assert_eq!(a["LEAD"], dec!(390.01));
}

/// Seed 001: township and village institutions selling drugs at zero markup (药品零差率)
/// are paid the fund's share of their compliant costs in full, outside the total
/// budget: not DRG/DIP amounts, not counted against the community budget, and their
/// cases do not move the floating DRG rate.
#[test]
fn zero_markup_institutions_are_paid_in_full_outside_the_budget() {
    let text = format!("{}{POLICY}", common::HEAD)
        .replace("[settlement.audit_deductions]\nT = 500\n", "")
        .replace(
            "base_rate = 10000",
            "base_rate = 10000\nrate_method = \"floating\"",
        )
        .replace(
            "advance_share = 0.9",
            "advance_share = 0.9\nzero_markup = [\"T\"]",
        );
    let p = policy(&text);
    let base = || {
        let mut l = Ledger::new();
        l.add(&case("a", "L", Resident, 2025, 3, dec!(30000)));
        l
    };
    let mut with_t = base();
    let mut t = case("b", "T", Resident, 2025, 3, dec!(800));
    t.total_cost = dec!(1000);
    t.patient_share = dec!(150);
    t.points = dec!(0.5);
    with_t.add(&t);
    let s = settle(&p, with_t).unwrap();
    let alone = settle(&p, base()).unwrap();
    // The floating rate is the same with or without T's case.
    assert_eq!(s.city.drg_rate, alone.city.drg_rate);
    let th = s.hospitals.iter().find(|h| h.hospital_id == "T").unwrap();
    assert_eq!(th.item_fund, dec!(850.00));
    assert_eq!(th.fund_due, dec!(850.00));
    assert_eq!(th.annual_amount, dec!(850.00));
    assert_eq!(th.outside_community, dec!(850.00));
    assert_eq!(th.final_payment, dec!(850.00) - dec!(720.00));
    let c = &s.communities[0];
    assert_eq!(c.spent, dec!(30000.00));
    let tm = c.members.iter().find(|m| m.hospital == "T").unwrap();
    assert_eq!(tm.spent, dec!(0.00));
    assert_eq!(tm.allocation, dec!(0.00));
}
