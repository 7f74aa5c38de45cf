//! Year-end settlement: per-hospital totals of priced cases, final DRG rates and DIP
//! settlement point values, advances and quality deposits, assessment, audit
//! deductions, special-case review, surplus retention / deficit sharing and the
//! medical communities' internal allocation.
//!
//! Feed priced cases to a [`Ledger`] (one per thread if you like, then
//! [`Ledger::merge`]; sums of decimals are exact, so the result does not depend on the
//! split), then call [`settle`].

use std::collections::BTreeMap;

use drgdip_pricing::money::{round_qty, round_yuan};
use drgdip_pricing::policy::{DipBudget, PointValueMethod, RateMethod};
use drgdip_pricing::special::{ReviewCandidate, select_special_cases};
use drgdip_pricing::{HospitalLevel, InsuranceType, Method, Outlier};
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;

use crate::budget::Budget;
use crate::community::MemberAllocation;
use crate::policy::{Policy, RetentionScope};
use crate::retention::{UnitResult, settle_unit};

/// One priced case as settlement needs it.
#[derive(Debug, Clone, Copy)]
pub struct PricedCase<'a> {
    /// Case id.
    pub case_id: &'a str,
    /// Hospital id.
    pub hospital_id: &'a str,
    /// Hospital level.
    pub level: HospitalLevel,
    /// DRG or DIP.
    pub method: Method,
    /// Insurance type.
    pub insurance: InsuranceType,
    /// Year of discharge (monthly advances are per year and month).
    pub year: u16,
    /// Month of discharge, 1..=12 (monthly advances).
    pub month: u8,
    /// Case points (DRG weight units or DIP points) after coefficients and outliers.
    pub points: Decimal,
    /// Payment standard, yuan.
    pub payment_standard: Decimal,
    /// Patient share, yuan.
    pub patient_share: Decimal,
    /// Fund outlay = max(0, payment standard − patient share), yuan.
    pub fund_outlay: Decimal,
    /// Total cost, yuan.
    pub total_cost: Decimal,
    /// Outlier classification.
    pub outlier: Outlier,
    /// Cost / standard.
    pub cost_ratio: Decimal,
    /// Cost of negotiated drugs paid separately (单独支付的谈判药品), yuan: part of
    /// `total_cost` but outside the DRG/DIP payment and the hospital's total.
    pub negotiated_cost: Decimal,
    /// The part of `fund_outlay` that pays those drugs, paid as is outside the
    /// hospital's total (0 ≤ it ≤ `fund_outlay`).
    pub negotiated_fund: Decimal,
}

/// Sums over a set of cases (one hospital, or one method × insurance type).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sums {
    /// Number of cases.
    pub cases: u64,
    /// Σ points.
    pub points: Decimal,
    /// Σ payment standard.
    pub payment: Decimal,
    /// Σ patient share.
    pub patient: Decimal,
    /// Σ fund outlay.
    pub fund: Decimal,
    /// Σ total cost under the DRG/DIP payment (negotiated drugs left out).
    pub cost: Decimal,
    /// Σ negotiated drug cost (outside the DRG/DIP payment).
    pub negotiated_cost: Decimal,
    /// Σ fund outlay for negotiated drugs, paid as is outside the total.
    pub negotiated_fund: Decimal,
}

impl Sums {
    fn merge(&mut self, o: &Sums) {
        self.cases += o.cases;
        self.points += o.points;
        self.payment += o.payment;
        self.patient += o.patient;
        self.fund += o.fund;
        self.cost += o.cost;
        self.negotiated_cost += o.negotiated_cost;
        self.negotiated_fund += o.negotiated_fund;
    }
}

/// Adds per method × insurance type sums.
fn merge_kinds(dst: &mut [[Sums; 2]; 2], src: &[[Sums; 2]; 2]) {
    for (d, s) in dst.iter_mut().zip(src) {
        for (a, b) in d.iter_mut().zip(s) {
            a.merge(b);
        }
    }
}

/// Running totals of one hospital.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HospitalLedger {
    /// Highest level seen on its cases.
    pub level: Option<HospitalLevel>,
    /// All cases.
    pub all: Sums,
    /// Per method (0 DRG, 1 DIP) × insurance type.
    pub by_kind: [[Sums; 2]; 2],
    /// Fund outlay per discharge (year, month).
    pub monthly_fund: BTreeMap<(u16, u8), Decimal>,
    /// Outlier counts: high (incl. review), low, ungrouped/ambiguous.
    pub outliers: [u64; 3],
    /// Review candidates per method (DRG high, DIP review).
    pub candidates: [Vec<ReviewCandidate>; 2],
}

/// 10ⁿ for n = 0..=8.
const POW10: [i128; 9] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
];

/// An exact sum of decimals, kept as a whole number of 10⁻ᴰ units (`D` ≤ 8: fen for
/// money, 10⁻⁸ for points) so that adding a term is an integer addition. Its value is
/// that of adding the terms one by one as decimals, as long as that sum is exact (which
/// bounded case fields guarantee); its scale is the largest scale of a term, whatever
/// the order and split of the terms. A term with more than `D` decimals, or one that
/// would overflow the units, is summed as a `Decimal` on the side.
#[derive(Debug, Clone, Copy, Default)]
struct ExactSum<const D: u32> {
    /// Σ terms × 10ᴰ of the terms with at most `D` decimals.
    units: i128,
    /// The largest scale of a term (0 when there is none).
    scale: u32,
    /// Σ of the other terms.
    rest: Decimal,
}

impl<const D: u32> ExactSum<D> {
    #[inline]
    fn add(&mut self, d: Decimal) {
        let s = d.scale();
        self.scale = self.scale.max(s);
        // |mantissa| < 2⁹⁶ and 10ᴰ < 2²⁷: the product fits an i128.
        let units = (s <= D)
            .then(|| {
                self.units
                    .checked_add(d.mantissa() * POW10[(D - s) as usize])
            })
            .flatten();
        match units {
            Some(u) => self.units = u,
            None => self.rest += d,
        }
    }

    #[inline]
    fn sub(&mut self, d: Decimal) {
        self.add(-d);
    }

    fn merge(&mut self, o: &Self) {
        self.scale = self.scale.max(o.scale);
        match self.units.checked_add(o.units) {
            Some(u) => self.units = u,
            None => {
                self.rest += o.value_of_units();
            }
        }
        self.rest += o.rest;
    }

    /// The units as a decimal of scale `min(D, self.scale)` (exact: every term of them
    /// has at most that many decimals).
    fn value_of_units(&self) -> Decimal {
        let mut dp = D.min(self.scale);
        let mut m = self.units / POW10[(D - dp) as usize];
        loop {
            match Decimal::try_from_i128_with_scale(m, dp) {
                Ok(v) => return v,
                // Beyond 96 bits (never for bounded case fields): drop decimals, as
                // `Decimal` addition itself does.
                Err(_) if dp > 0 => {
                    let half = if m < 0 { -5 } else { 5 };
                    m = (m + half) / 10;
                    dp -= 1;
                }
                Err(_) if m < 0 => return Decimal::MIN,
                Err(_) => return Decimal::MAX,
            }
        }
    }

    fn value(&self) -> Decimal {
        let mut v = self.value_of_units() + self.rest;
        // `Decimal` addition keeps the scale of the other term when one is zero.
        if v.scale() < self.scale {
            v.rescale(self.scale);
        }
        v
    }
}

/// Running sums of one method × insurance type of a hospital.
#[derive(Debug, Clone, Default)]
struct KindTally {
    cases: u64,
    points: ExactSum<8>,
    payment: ExactSum<2>,
    patient: ExactSum<2>,
    fund: ExactSum<2>,
    cost: ExactSum<2>,
    negotiated_cost: ExactSum<2>,
    negotiated_fund: ExactSum<2>,
}

impl KindTally {
    #[inline]
    fn add(&mut self, c: &PricedCase<'_>) {
        self.cases += 1;
        self.points.add(c.points);
        self.payment.add(c.payment_standard);
        self.patient.add(c.patient_share);
        self.fund.add(c.fund_outlay);
        self.fund.sub(c.negotiated_fund);
        self.cost.add(c.total_cost);
        self.cost.sub(c.negotiated_cost);
        self.negotiated_cost.add(c.negotiated_cost);
        self.negotiated_fund.add(c.negotiated_fund);
    }

    fn merge(&mut self, o: &Self) {
        self.cases += o.cases;
        self.points.merge(&o.points);
        self.payment.merge(&o.payment);
        self.patient.merge(&o.patient);
        self.fund.merge(&o.fund);
        self.cost.merge(&o.cost);
        self.negotiated_cost.merge(&o.negotiated_cost);
        self.negotiated_fund.merge(&o.negotiated_fund);
    }

    fn sums(&self) -> Sums {
        Sums {
            cases: self.cases,
            points: self.points.value(),
            payment: self.payment.value(),
            patient: self.patient.value(),
            fund: self.fund.value(),
            cost: self.cost.value(),
            negotiated_cost: self.negotiated_cost.value(),
            negotiated_fund: self.negotiated_fund.value(),
        }
    }
}

/// Running totals of one hospital, as [`Ledger`] keeps them.
#[derive(Debug, Clone, Default)]
struct Tally {
    level: Option<HospitalLevel>,
    by_kind: [[KindTally; 2]; 2],
    monthly_fund: Vec<((u16, u8), ExactSum<2>)>,
    outliers: [u64; 3],
    candidates: [Vec<ReviewCandidate>; 2],
}

impl Tally {
    fn month(&mut self, key: (u16, u8)) -> &mut ExactSum<2> {
        let at = match self.monthly_fund.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                self.monthly_fund.push((key, ExactSum::default()));
                self.monthly_fund.len() - 1
            }
        };
        &mut self.monthly_fund[at].1
    }

    fn into_ledger(self) -> HospitalLedger {
        let mut all = KindTally::default();
        for k in self.by_kind.iter().flatten() {
            all.merge(k);
        }
        HospitalLedger {
            level: self.level,
            all: all.sums(),
            by_kind: self.by_kind.map(|t| t.map(|k| k.sums())),
            monthly_fund: self
                .monthly_fund
                .into_iter()
                .map(|(k, s)| (k, s.value()))
                .collect(),
            outliers: self.outliers,
            candidates: self.candidates,
        }
    }
}

/// Per-hospital running totals of priced cases.
///
/// Amounts are summed exactly in whole fen (points in 10⁻⁸) and turned into decimals
/// once per hospital by [`Ledger::into_hospitals`]: the same values as adding the cases'
/// decimals one by one, each written with the largest scale of its terms, whatever the
/// order and split of the cases.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    hospitals: FxHashMap<String, Tally>,
}

fn method_idx(m: Method) -> usize {
    match m {
        Method::Drg => 0,
        Method::Dip => 1,
    }
}

impl Ledger {
    /// An empty ledger.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one priced case.
    pub fn add(&mut self, c: &PricedCase<'_>) {
        let h = match self.hospitals.get_mut(c.hospital_id) {
            Some(h) => h,
            None => self.hospitals.entry(c.hospital_id.to_owned()).or_default(),
        };
        h.level = h.level.max(Some(c.level));
        h.by_kind[method_idx(c.method)][c.insurance.index()].add(c);
        let month = h.month((c.year, c.month));
        month.add(c.fund_outlay);
        month.sub(c.negotiated_fund);
        match c.outlier {
            Outlier::High | Outlier::Review => h.outliers[0] += 1,
            Outlier::Low => h.outliers[1] += 1,
            Outlier::Ungrouped | Outlier::Ambiguous => h.outliers[2] += 1,
            Outlier::None => {}
        }
        let candidate = match c.method {
            Method::Drg => c.outlier == Outlier::High,
            Method::Dip => c.outlier == Outlier::Review,
        };
        if candidate {
            h.candidates[method_idx(c.method)].push(ReviewCandidate {
                case_id: c.case_id.to_owned(),
                cost_ratio: c.cost_ratio,
                total_cost: c.total_cost - c.negotiated_cost,
                payment_standard: c.payment_standard,
            });
        }
    }

    /// Merges another ledger into this one (review candidates: this ledger's first).
    pub fn merge(&mut self, other: Ledger) {
        for (id, o) in other.hospitals {
            let h = self.hospitals.entry(id).or_default();
            h.level = h.level.max(o.level);
            for (d, s) in h
                .by_kind
                .iter_mut()
                .flatten()
                .zip(o.by_kind.iter().flatten())
            {
                d.merge(s);
            }
            for (k, b) in &o.monthly_fund {
                h.month(*k).merge(b);
            }
            for (a, b) in h.outliers.iter_mut().zip(o.outliers) {
                *a += b;
            }
            for (a, b) in h.candidates.iter_mut().zip(o.candidates) {
                a.extend(b);
            }
        }
    }

    /// Number of hospitals seen.
    #[must_use]
    pub fn len(&self) -> usize {
        self.hospitals.len()
    }

    /// Whether no case was added.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.hospitals.is_empty()
    }

    /// The totals per hospital, by hospital id.
    #[must_use]
    pub fn into_hospitals(self) -> BTreeMap<String, HospitalLedger> {
        self.hospitals
            .into_iter()
            .map(|(id, t)| (id, t.into_ledger()))
            .collect()
    }
}

/// A hospital's settlement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HospitalSettlement {
    /// Hospital id.
    pub hospital_id: String,
    /// Level.
    pub level: Option<HospitalLevel>,
    /// Community id, if a member of one.
    pub community: Option<String>,
    /// Σ over its priced cases.
    pub totals: Sums,
    /// DRG cases.
    pub drg_cases: u64,
    /// DIP cases.
    pub dip_cases: u64,
    /// Σ DRG case points (weight units).
    pub drg_points: Decimal,
    /// Σ DIP case points.
    pub dip_points: Decimal,
    /// Σ total cost − patient shares: what the fund would pay by items.
    pub item_fund: Decimal,
    /// Payment at the final rate / point value, before special-case review, yuan.
    pub repriced_payment: Decimal,
    /// Special cases approved (paid by items).
    pub special_cases: u64,
    /// Extra paid for approved special cases (Σ cost − standard).
    pub special_adjustment: Decimal,
    /// Fund amount due for the year before assessment.
    pub fund_due: Decimal,
    /// Assessment coefficient.
    pub assessment_coef: Decimal,
    /// round(fund due × assessment coefficient).
    pub assessed: Decimal,
    /// Audit deductions.
    pub audit_deduction: Decimal,
    /// Annual amount = assessed − audit deductions.
    pub annual_amount: Decimal,
    /// Community members: the part of the annual amount from employee cases, paid to
    /// the member directly (the community's packaged budget is a resident-insurance
    /// budget); the rest counts against the community budget. 0 for other hospitals.
    pub outside_community: Decimal,
    /// Monthly advances paid (Σ round(month fund × advance share)).
    pub advance_paid: Decimal,
    /// Quality deposits held (Σ month fund − advance).
    pub deposit_held: Decimal,
    /// Still to pay (negative = to recover): annual amount − advances; for a
    /// community member its allocation + `outside_community` − advances.
    pub final_payment: Decimal,
    /// Surplus retention / deficit sharing of a standalone hospital (None for
    /// community members: see the community result).
    pub unit: Option<UnitResult>,
    /// Outlier counts: high (incl. review), low, ungrouped/ambiguous.
    pub outliers: [u64; 3],
}

/// A community's settlement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommunitySettlement {
    /// Community id.
    pub id: String,
    /// Budget allocation.
    pub budget: Decimal,
    /// Σ members' annual amounts from resident cases (may include negative ones).
    pub spent: Decimal,
    /// Surplus/deficit result.
    pub result: UnitResult,
    /// Allocation among members (tree order).
    pub members: Vec<MemberAllocation>,
}

/// City-wide figures of the settlement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CityFigures {
    /// Final DRG rate per insurance type (None without a `[drg]` section).
    pub drg_rate: Option<[Decimal; 2]>,
    /// DIP fund payment ratio per insurance type (Σ fund by items / Σ cost).
    pub dip_fund_ratio: Option<[Decimal; 2]>,
    /// DIP point value per insurance type (settlement or fixed).
    pub dip_point_value: Option<[Decimal; 2]>,
    /// DIP budget used per insurance type (both equal to the pool when pooled; zero
    /// when there were no DIP cases of the type).
    pub dip_budget: Option<[Decimal; 2]>,
    /// Settlement point value: Σ of the hospitals' DIP amounts per insurance type
    /// (both equal to the pooled sum when pooled), each hospital's amount being
    /// round(its points × point value × fund payment ratio).
    pub dip_distributed: Option<[Decimal; 2]>,
    /// Settlement point value: Σ DIP budgets − Σ hospitals' DIP amounts, the money
    /// the rounding of the point value and ratio (4 decimals) leaves undistributed
    /// (negative when it distributes more than the budget).
    pub dip_rounding: Option<Decimal>,
    /// Σ over all hospitals.
    pub totals: Sums,
    /// Σ annual amounts.
    pub annual_total: Decimal,
}

/// The whole settlement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    /// Hospitals by id.
    pub hospitals: Vec<HospitalSettlement>,
    /// Communities in policy order.
    pub communities: Vec<CommunitySettlement>,
    /// The budget split, if the policy has one.
    pub budget: Option<Budget>,
    /// City-wide figures.
    pub city: CityFigures,
}

/// Why settlement failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettleError {
    /// A community's minimum shares cannot be met.
    #[error("{0}")]
    Community(String),
}

const RATE_DP: u32 = 4;

/// Settles the year for every hospital of `ledger` under `policy`.
pub fn settle(policy: &Policy, ledger: Ledger) -> Result<Settlement, SettleError> {
    let mut ledger_hospitals = ledger.into_hospitals();
    let pricing = &policy.pricing;
    let pay = &policy.payment;
    let st = &pay.settlement;
    let mut city = Sums::default();
    // Rates and point values come from the cases under the budget: zero-markup
    // institutions are paid by items outside it.
    let mut kind_totals: [[Sums; 2]; 2] = Default::default();
    for (id, h) in &ledger_hospitals {
        city.merge(&h.all);
        if !st.zero_markup.contains(id) {
            merge_kinds(&mut kind_totals, &h.by_kind);
        }
    }
    // Final DRG rate per insurance type.
    let drg_rate = pricing.drg.as_ref().map(|drg| {
        let mut r = drg.base_rate;
        for ins in InsuranceType::ALL {
            let t = &kind_totals[0][ins.index()];
            let floating = if t.points.is_zero() {
                drg.base_rate[ins.index()]
            } else {
                t.cost / t.points
            };
            r[ins.index()] = round_qty(
                match drg.rate_method {
                    RateMethod::Fixed => drg.base_rate[ins.index()],
                    RateMethod::Floating => floating,
                    RateMethod::Elastic { fixed_share } => {
                        fixed_share * drg.base_rate[ins.index()]
                            + (Decimal::ONE - fixed_share) * floating
                    }
                },
                RATE_DP,
            );
        }
        r
    });
    // DIP fund payment ratio, budget and point value.
    let mut dip_fund_ratio = None;
    let mut dip_point_value = None;
    let mut dip_budget = None;
    let mut dip_distributed = None;
    let mut dip_rounding = None;
    // DIP fund due per hospital and insurance type (settlement method).
    let mut dip_due: BTreeMap<String, [Decimal; 2]> = BTreeMap::new();
    if let Some(dip) = &pricing.dip {
        let ratio_of = |s: &Sums| {
            if s.cost.is_zero() {
                Decimal::ZERO
            } else {
                round_qty((s.cost - s.patient) / s.cost, RATE_DP)
            }
        };
        let per = [ratio_of(&kind_totals[1][0]), ratio_of(&kind_totals[1][1])];
        let mut pooled = kind_totals[1][0].clone();
        pooled.merge(&kind_totals[1][1]);
        match dip.point_value_method {
            PointValueMethod::Fixed => {
                dip_fund_ratio = Some(per);
                dip_point_value = Some(dip.point_value);
            }
            PointValueMethod::Settlement => {
                let budgets: Vec<(Decimal, Vec<usize>)> = match dip.fund_budget {
                    DipBudget::Remainder => vec![(
                        pay.budget.as_ref().map_or(Decimal::ZERO, |b| b.remainder),
                        vec![0, 1],
                    )],
                    DipBudget::Pooled(a) => vec![(round_yuan(a), vec![0, 1])],
                    DipBudget::PerType(a) => {
                        vec![(round_yuan(a[0]), vec![0]), (round_yuan(a[1]), vec![1])]
                    }
                };
                let mut pv = [Decimal::ZERO; 2];
                let mut ratios = per;
                let mut used = [Decimal::ZERO; 2];
                let mut distributed = [Decimal::ZERO; 2];
                let mut rounding = Decimal::ZERO;
                for (amount, types) in budgets {
                    let mut s = Sums::default();
                    for t in &types {
                        s.merge(&kind_totals[1][*t]);
                    }
                    if s.points.is_zero() {
                        // No DIP cases of these types this year: nothing to divide; the
                        // provisional point value stands and the budget is not used.
                        for t in &types {
                            pv[*t] = dip.point_value[*t];
                        }
                        continue;
                    }
                    let ratio = ratio_of(&s);
                    let value = if ratio.is_zero() {
                        Decimal::ZERO
                    } else {
                        round_qty(amount / ratio / s.points, RATE_DP)
                    };
                    for t in &types {
                        pv[*t] = value;
                        ratios[*t] = ratio;
                        used[*t] = amount;
                    }
                    // The hospital's DIP amount is computed once, from its total
                    // points and the published point value and ratio:
                    // round(Σ points × point value × ratio). What the rounding of the
                    // point value leaves of the budget is shown, not spread.
                    let mut paid = Decimal::ZERO;
                    for (id, h) in &ledger_hospitals {
                        if st.zero_markup.contains(id) {
                            continue;
                        }
                        let pts: Decimal = types.iter().map(|t| h.by_kind[1][*t].points).sum();
                        let part = round_yuan(pts * value * ratio);
                        paid += part;
                        // A pooled amount is split between the types by points.
                        let due = dip_due.entry(id.clone()).or_default();
                        let mut left = part;
                        for (j, t) in types.iter().enumerate() {
                            let share = if j + 1 == types.len() || pts.is_zero() {
                                left
                            } else {
                                round_yuan(part * h.by_kind[1][*t].points / pts)
                            };
                            due[*t] += share;
                            left -= share;
                        }
                    }
                    for t in &types {
                        distributed[*t] = paid;
                    }
                    rounding += round_yuan(amount) - paid;
                }
                dip_fund_ratio = Some(ratios);
                dip_point_value = Some(pv);
                dip_budget = Some(used);
                dip_distributed = Some(distributed);
                dip_rounding = Some(rounding);
            }
        }
    }
    let membership: BTreeMap<&str, &str> = pay
        .communities
        .iter()
        .flat_map(|c| c.hospitals().into_iter().map(move |h| (h, c.id.as_str())))
        .collect();
    let mut hospitals = Vec::with_capacity(ledger_hospitals.len());
    for (id, h) in &mut ledger_hospitals {
        // DRG: reprice at the final rate when it is not fixed.
        let mut repriced = Decimal::ZERO;
        let mut drg_delta = Decimal::ZERO;
        // Fund due per insurance type (before special cases), for the community part.
        let mut by_type = [Decimal::ZERO; 2];
        if let (Some(drg), Some(rate)) = (&pricing.drg, &drg_rate) {
            for ins in InsuranceType::ALL {
                let s = &h.by_kind[0][ins.index()];
                let p = if drg.rate_method == RateMethod::Fixed {
                    s.payment
                } else {
                    round_yuan(s.points * rate[ins.index()])
                };
                repriced += p;
                drg_delta += p - s.payment;
                by_type[ins.index()] += s.fund + p - s.payment;
            }
        }
        let drg_fund: Decimal = h.by_kind[0][0].fund + h.by_kind[0][1].fund + drg_delta;
        let dip_by_type = match pricing.dip.as_ref().map(|d| d.point_value_method) {
            Some(PointValueMethod::Settlement) => dip_due.get(id).copied().unwrap_or_default(),
            _ => [h.by_kind[1][0].fund, h.by_kind[1][1].fund],
        };
        let dip_fund = dip_by_type[0] + dip_by_type[1];
        for t in 0..2 {
            by_type[t] += dip_by_type[t];
        }
        if let Some(dip) = &pricing.dip {
            match dip.point_value_method {
                PointValueMethod::Fixed => {
                    repriced += h.by_kind[1][0].payment + h.by_kind[1][1].payment;
                }
                PointValueMethod::Settlement => {
                    // Payment at the settlement point value (fund + patient view).
                    let pv = dip_point_value.expect("set above");
                    for ins in InsuranceType::ALL {
                        repriced += round_yuan(h.by_kind[1][ins.index()].points * pv[ins.index()]);
                    }
                }
            }
        }
        // Special-case review within quota: approved cases are paid by items.
        let mut special_cases = 0u64;
        let mut special_adjustment = Decimal::ZERO;
        for (m, quota) in [
            (0usize, pricing.outliers.special_review.drg_quota),
            (1usize, pricing.outliers.special_review.dip_quota),
        ] {
            let discharges = h.by_kind[m][0].cases + h.by_kind[m][1].cases;
            let n = select_special_cases(&mut h.candidates[m], discharges, quota);
            for c in &h.candidates[m][..n] {
                special_cases += 1;
                special_adjustment += (c.total_cost - c.payment_standard).max(Decimal::ZERO);
            }
        }
        let item_fund = h.all.cost - h.all.patient;
        let in_full = st.zero_markup.contains(id);
        let fund_due = if in_full {
            // Paid the fund's share of its compliant costs in full (by items).
            round_yuan(item_fund)
        } else {
            round_yuan(drg_fund + dip_fund + special_adjustment)
        };
        let assessment_coef = st
            .assessment
            .get(id)
            .copied()
            .unwrap_or(st.assessment_default);
        let assessed = round_yuan(fund_due * assessment_coef);
        let audit_deduction = round_yuan(st.audit_deductions.get(id).copied().unwrap_or_default());
        let annual_amount = assessed - audit_deduction;
        let mut advance_paid = round_yuan(Decimal::ZERO);
        for m in h.monthly_fund.values() {
            advance_paid += round_yuan(*m * st.advance_share);
        }
        let deposit_held = h.all.fund - advance_paid;
        let community = membership.get(id.as_str()).map(|c| (*c).to_owned());
        // A member's employee part of the annual amount is paid outside the community
        // budget: round(annual × employee fund due / fund due); the rest counts against it.
        let outside_community = if community.is_none() {
            round_yuan(Decimal::ZERO)
        } else if in_full {
            annual_amount
        } else {
            let due = by_type[0] + by_type[1];
            if due.is_zero() {
                round_yuan(Decimal::ZERO)
            } else {
                round_yuan(annual_amount * by_type[InsuranceType::Employee.index()] / due)
            }
        };
        let unit = if community.is_some() {
            None
        } else {
            Some(match st.retention_scope {
                RetentionScope::All => settle_unit(
                    annual_amount,
                    item_fund,
                    &st.surplus_bands,
                    &st.deficit_bands,
                ),
                RetentionScope::Communities => {
                    let diff = annual_amount - item_fund;
                    let zero = round_yuan(Decimal::ZERO);
                    UnitResult {
                        surplus_or_deficit: diff,
                        retained: diff.max(zero),
                        carried: zero,
                        fund_share: zero,
                        unit_share: (-diff).max(zero),
                        paid: annual_amount,
                    }
                }
            })
        };
        hospitals.push(HospitalSettlement {
            hospital_id: id.clone(),
            level: h.level,
            community,
            totals: h.all.clone(),
            drg_cases: h.by_kind[0][0].cases + h.by_kind[0][1].cases,
            dip_cases: h.by_kind[1][0].cases + h.by_kind[1][1].cases,
            drg_points: h.by_kind[0][0].points + h.by_kind[0][1].points,
            dip_points: h.by_kind[1][0].points + h.by_kind[1][1].points,
            item_fund,
            repriced_payment: repriced,
            special_cases,
            special_adjustment,
            fund_due,
            assessment_coef,
            assessed,
            audit_deduction,
            annual_amount,
            outside_community,
            advance_paid,
            deposit_held,
            final_payment: annual_amount - advance_paid,
            unit,
            outliers: h.outliers,
        });
    }
    // Communities: budget vs members' annual amounts, then the internal allocation.
    let mut communities = Vec::new();
    for c in &pay.communities {
        let budget = pay
            .budget
            .as_ref()
            .and_then(|b| b.allocation(&c.id))
            .unwrap_or_default();
        let spent_by: BTreeMap<String, Decimal> = hospitals
            .iter()
            .filter(|h| h.community.as_deref() == Some(c.id.as_str()))
            .map(|h| (h.hospital_id.clone(), h.annual_amount - h.outside_community))
            .collect();
        let spent: Decimal = round_yuan(spent_by.values().copied().sum());
        let (result, members) = if spent_by.values().any(|s| *s > Decimal::ZERO) {
            let result = settle_unit(budget, spent, &st.surplus_bands, &st.deficit_bands);
            let members = c
                .allocate_among(result.paid, &spent_by, &st.zero_markup)
                .map_err(SettleError::Community)?;
            (result, members)
        } else {
            // No spending: no saving to reward. Nothing is retained, the budget is
            // carried; members are paid their own (zero or negative) amounts.
            let zero = round_yuan(Decimal::ZERO);
            let diff = round_yuan(budget) - spent;
            let result = UnitResult {
                surplus_or_deficit: diff,
                retained: zero,
                carried: diff,
                fund_share: zero,
                unit_share: zero,
                paid: spent,
            };
            let members = c
                .members()
                .into_iter()
                .map(|(hospital, kind, parent)| {
                    let own = spent_by.get(&hospital).copied().unwrap_or(zero);
                    MemberAllocation {
                        hospital,
                        parent,
                        kind,
                        spent: own,
                        allocation: own,
                    }
                })
                .collect();
            (result, members)
        };
        // A member is paid its allocation (plus its employee part), not its own
        // annual amount.
        for m in &members {
            if let Some(h) = hospitals.iter_mut().find(|h| h.hospital_id == m.hospital) {
                h.final_payment = m.allocation + h.outside_community - h.advance_paid;
            }
        }
        communities.push(CommunitySettlement {
            id: c.id.clone(),
            budget,
            spent,
            result,
            members,
        });
    }
    let annual_total = hospitals.iter().map(|h| h.annual_amount).sum();
    Ok(Settlement {
        hospitals,
        communities,
        budget: pay.budget.clone(),
        city: CityFigures {
            drg_rate,
            dip_fund_ratio,
            dip_point_value,
            dip_budget,
            dip_distributed,
            dip_rounding,
            totals: city,
            annual_total,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Adds a case to per-hospital totals the plain way: one decimal addition per term.
    fn add_plainly(h: &mut HospitalLedger, c: &PricedCase<'_>) {
        h.level = h.level.max(Some(c.level));
        for s in [
            &mut h.all,
            &mut h.by_kind[method_idx(c.method)][c.insurance.index()],
        ] {
            s.cases += 1;
            s.points += c.points;
            s.payment += c.payment_standard;
            s.patient += c.patient_share;
            s.fund += c.fund_outlay - c.negotiated_fund;
            s.cost += c.total_cost - c.negotiated_cost;
            s.negotiated_cost += c.negotiated_cost;
            s.negotiated_fund += c.negotiated_fund;
        }
        *h.monthly_fund.entry((c.year, c.month)).or_default() += c.fund_outlay - c.negotiated_fund;
    }

    /// The ledger's whole-unit sums give the values that adding the terms one by one
    /// as decimals gives, for terms of 0 to 12 decimals, negative points and any split
    /// of the cases into merged ledgers; each with the largest scale of its terms.
    #[test]
    fn ledger_sums_equal_plain_decimal_sums() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let ids: Vec<String> = (0..2000).map(|i| format!("c{i}")).collect();
        let hospitals = ["H1", "H2", "H3"];
        let cases: Vec<PricedCase<'_>> = ids
            .iter()
            .map(|id| {
                // Money of 0, 1 or 2 decimals, points of up to 12 (beyond the 8 kept
                // in whole units), sometimes negative.
                let money = |v: u64, dp: u32| Decimal::new(v as i64, dp);
                let (fund, negotiated) = (next(10_000_000), next(3));
                let pdp = [0, 2, 4, 4, 4, 9, 12][next(7) as usize];
                let points = Decimal::new(next(2_000_000) as i64 - 100_000, pdp);
                PricedCase {
                    case_id: id,
                    hospital_id: hospitals[next(3) as usize],
                    level: HospitalLevel::parse(["1", "2", "3"][next(3) as usize]).unwrap(),
                    method: if next(2) == 0 {
                        Method::Drg
                    } else {
                        Method::Dip
                    },
                    insurance: InsuranceType::ALL[next(2) as usize],
                    year: 2025 + next(2) as u16,
                    month: 1 + next(12) as u8,
                    points,
                    payment_standard: money(next(10_000_000), next(3) as u32),
                    patient_share: money(next(1_000_000), next(3) as u32),
                    fund_outlay: money(fund, 2),
                    total_cost: money(next(10_000_000) + 100, next(3) as u32),
                    outlier: Outlier::None,
                    cost_ratio: Decimal::ONE,
                    negotiated_cost: money(negotiated, 1),
                    negotiated_fund: if negotiated == 0 {
                        Decimal::ZERO
                    } else {
                        money(fund.min(negotiated), 2)
                    },
                }
            })
            .collect();
        let mut plain: BTreeMap<String, HospitalLedger> = BTreeMap::new();
        for c in &cases {
            add_plainly(plain.entry(c.hospital_id.to_owned()).or_default(), c);
        }
        for block in [1, 7, 500, cases.len()] {
            let mut ledger = Ledger::new();
            for chunk in cases.chunks(block) {
                let mut part = Ledger::new();
                for c in chunk {
                    part.add(c);
                }
                ledger.merge(part);
            }
            assert_eq!(ledger.len(), 3);
            let got = ledger.into_hospitals();
            // `Decimal` equality compares values.
            assert_eq!(got, plain, "blocks of {block}");
            for h in got.values() {
                assert_eq!(h.all.points.scale(), 12, "blocks of {block}");
                assert_eq!(h.all.fund.scale(), 2, "blocks of {block}");
            }
        }
    }

    #[test]
    fn exact_sums_keep_scale_and_overflow_gracefully() {
        let mut s = ExactSum::<2>::default();
        assert_eq!(format!("{:?}", s.value()), format!("{:?}", Decimal::ZERO));
        s.add(Decimal::new(15, 1));
        s.add(Decimal::new(2, 0));
        assert_eq!(s.value().to_string(), "3.5");
        s.add(Decimal::new(1, 3));
        assert_eq!(s.value().to_string(), "3.501");
        s.sub(Decimal::new(1, 3));
        assert_eq!(s.value().to_string(), "3.500");
        let mut big = ExactSum::<8>::default();
        for _ in 0..4 {
            big.add(Decimal::MAX / Decimal::new(8, 0));
        }
        let mut plain = Decimal::ZERO;
        for _ in 0..4 {
            plain += Decimal::MAX / Decimal::new(8, 0);
        }
        assert_eq!(big.value(), plain);
    }
}
