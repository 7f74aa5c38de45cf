//! Patient cost sharing: deductibles, reimbursement ratios and annual caps, with
//! accumulators per insured person per year processed in date order.
//!
//! For a claim with total cost *T* and policy-covered cost *C* (政策范围内):
//!
//! - `uncovered` = T − C, paid by the patient;
//! - `deductible` = min(D, C) where D is the deductible still due (see below);
//! - `fund` = round((C − deductible) × ratio), cut to what is left of the annual cap;
//! - `coinsurance` = C − deductible − round((C − deductible) × ratio);
//! - `over_cap` = the part of the fund's share above the annual cap, paid by the patient;
//! - `patient` = uncovered + deductible + coinsurance + over_cap, and
//!   `fund = T − patient` exactly.
//!
//! Inpatient deductible D: the level's deductible for the insurance type; zero at
//! primary care when `no_deductible_at_primary_care`; × `day_surgery_deductible_factor`
//! for day surgery; for an upward referral only the difference between this level's
//! deductible and that of the person's previous stay this year; none for a downward
//! referral; with `deductible_basis = "year"` minus what the person already paid this
//! year. Outpatient schemes have an annual deductible and cap.
//!
//! Claims are processed per person in order of discharge date, then admission date,
//! then claim id, whatever order they are given in; accumulators restart each calendar
//! year (of the discharge date).

use std::collections::BTreeMap;

use drgdip_pricing::money::round_yuan;
use drgdip_pricing::{Date, HospitalLevel, InsuranceType};
use rayon::prelude::*;
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;

use crate::policy::{BenefitPolicy, DeductibleBasis, base_deductible};

/// Referral flag of an admission (applied when `referral_rules` is on).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Referral {
    /// Not referred.
    #[default]
    None,
    /// Referred upward (上转) from a lower-level hospital.
    Up,
    /// Referred downward (下转) from a higher-level hospital.
    Down,
    /// Referred outside the standard route (不按规范转诊): full deductible, lowered
    /// reimbursement ratio.
    NonStandard,
}

impl Referral {
    /// Parses empty, `up`/`上转`, `down`/`下转`, `nonstandard`/`不按规范转诊`.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "" | "none" | "0" => Some(Self::None),
            "up" | "上转" => Some(Self::Up),
            "down" | "下转" => Some(Self::Down),
            "nonstandard" | "不按规范转诊" => Some(Self::NonStandard),
            _ => None,
        }
    }
}

/// Kind of claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimKind {
    /// An inpatient stay (including day surgery).
    Inpatient,
    /// An outpatient claim under the named scheme of `[benefits.outpatient]`.
    Outpatient(String),
}

/// One claim for the benefit engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// Claim (case) id; breaks ties between claims on the same dates.
    pub id: String,
    /// Insured person's id.
    pub person: String,
    /// Admission (or visit) date.
    pub admit: Date,
    /// Discharge (or settlement) date; its year picks the accumulator year.
    pub discharge: Date,
    /// Inpatient or an outpatient scheme.
    pub kind: ClaimKind,
    /// Level of the treating hospital.
    pub level: HospitalLevel,
    /// Insurance type.
    pub insurance: InsuranceType,
    /// Total cost, yuan.
    pub total_cost: Decimal,
    /// Policy-covered cost, yuan (≤ total).
    pub covered_cost: Decimal,
    /// Day surgery (日间手术).
    pub day_surgery: bool,
    /// Referral.
    pub referral: Referral,
}

/// The patient's and the fund's shares of one claim's item charges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    /// Cost outside the policy range.
    pub uncovered: Decimal,
    /// Deductible paid on this claim.
    pub deductible: Decimal,
    /// Patient's co-payment on covered cost above the deductible.
    pub coinsurance: Decimal,
    /// Covered cost the fund would have paid but for the annual cap.
    pub over_cap: Decimal,
    /// Total paid by the patient.
    pub patient: Decimal,
    /// Paid by the fund on the item charges (`total − patient`).
    pub fund: Decimal,
}

/// Why a claim could not be processed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    /// Costs are negative or covered cost exceeds total cost; fix the claim.
    #[error("covered cost {covered} must be between 0 and total cost {total}")]
    Costs {
        /// Covered cost.
        covered: Decimal,
        /// Total cost.
        total: Decimal,
    },
    /// The outpatient scheme is not in `[benefits.outpatient]`.
    #[error("outpatient scheme `{0}` is not in the policy's [benefits.outpatient]")]
    UnknownScheme(String),
    /// The scheme does not cover this insurance type.
    #[error("outpatient scheme `{scheme}` does not cover {insurance} insurance")]
    NotCovered {
        /// Scheme name.
        scheme: String,
        /// Insurance type.
        insurance: InsuranceType,
    },
}

/// A person's running totals for one calendar year, kept apart per insurance type
/// (the employee and resident funds are separate pools): deductibles paid, fund paid
/// against the caps, and the deductible standard of the last inpatient stay (for
/// referrals). Feed it the person's claims of that year in date order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonYear {
    year: u16,
    inpatient_deductible: [Decimal; 2],
    inpatient_fund: [Decimal; 2],
    last_inpatient_standard: [Option<Decimal>; 2],
    outpatient_deductible: [BTreeMap<String, Decimal>; 2],
    outpatient_fund: [BTreeMap<String, Decimal>; 2],
}

/// The facts of one claim the benefit rules look at (no ids, so callers can keep
/// compact records).
#[derive(Debug, Clone, Copy)]
pub struct ClaimFacts<'a> {
    /// Inpatient or an outpatient scheme.
    pub kind: &'a ClaimKind,
    /// Level of the treating hospital.
    pub level: HospitalLevel,
    /// Insurance type.
    pub insurance: InsuranceType,
    /// Total cost, yuan.
    pub total_cost: Decimal,
    /// Policy-covered cost, yuan.
    pub covered_cost: Decimal,
    /// Day surgery.
    pub day_surgery: bool,
    /// Referral.
    pub referral: Referral,
}

impl PersonYear {
    /// Fresh totals for `year`.
    #[must_use]
    pub fn new(year: u16) -> Self {
        Self {
            year,
            ..Self::default()
        }
    }

    /// The accumulator's year.
    #[must_use]
    pub fn year(&self) -> u16 {
        self.year
    }

    /// Computes one claim's shares and updates the totals (unless the claim fails).
    pub fn apply(
        &mut self,
        policy: &BenefitPolicy,
        c: &ClaimFacts<'_>,
    ) -> Result<Share, ClaimError> {
        claim_share(policy, c, self)
    }
}

impl Claim {
    /// The claim's facts for [`PersonYear::apply`].
    #[must_use]
    pub fn facts(&self) -> ClaimFacts<'_> {
        ClaimFacts {
            kind: &self.kind,
            level: self.level,
            insurance: self.insurance,
            total_cost: self.total_cost,
            covered_cost: self.covered_cost,
            day_surgery: self.day_surgery,
            referral: self.referral,
        }
    }
}

/// The order in which claims are processed: grouped by person (persons in order of
/// first appearance), and within a person by discharge date, admission date, claim id.
/// Only the order *within* a person affects results.
#[must_use]
pub fn processing_order(claims: &[Claim]) -> Vec<usize> {
    order_keys(claims)
        .into_iter()
        .map(|(_, i)| i as usize)
        .collect()
}

/// `(person number, claim index)` in processing order.
fn order_keys(claims: &[Claim]) -> Vec<(u32, u32)> {
    // Intern persons to small numbers and pack (person, discharge, admission, index)
    // into one integer, so the sort compares integers, not strings.
    let mut ids: FxHashMap<&str, u32> = FxHashMap::default();
    ids.reserve(claims.len() / 2);
    let mut keys: Vec<u128> = Vec::with_capacity(claims.len());
    for (i, c) in claims.iter().enumerate() {
        let next = u32::try_from(ids.len()).expect("fewer than 4 billion persons");
        let p = *ids.entry(c.person.as_str()).or_insert(next);
        let i = u32::try_from(i).expect("fewer than 4 billion claims");
        keys.push(
            (u128::from(p) << 72)
                | (u128::from(c.discharge.key()) << 52)
                | (u128::from(c.admit.key()) << 32)
                | u128::from(i),
        );
    }
    keys.par_sort_unstable();
    let mut out: Vec<(u32, u32)> = keys.iter().map(|k| ((k >> 72) as u32, *k as u32)).collect();
    // Claims of one person on the same dates: order by claim id, not input order.
    let mut start = 0;
    while start < keys.len() {
        let mut end = start + 1;
        while end < keys.len() && keys[end] >> 32 == keys[start] >> 32 {
            end += 1;
        }
        if end - start > 1 {
            out[start..end].sort_by(|a, b| {
                claims[a.1 as usize]
                    .id
                    .cmp(&claims[b.1 as usize].id)
                    .then(a.1.cmp(&b.1))
            });
        }
        start = end;
    }
    out
}

/// Computes every claim's shares; results are in the input order. A claim that fails
/// does not touch the accumulators. Persons are independent, so they are worked on in
/// parallel (rayon); the result does not depend on the thread count or input order.
#[must_use]
pub fn apply_benefits(policy: &BenefitPolicy, claims: &[Claim]) -> Vec<Result<Share, ClaimError>> {
    let order = order_keys(claims);
    // Cut the order into pieces at person boundaries.
    let step = (order.len() / (8 * rayon::current_num_threads().max(1))).max(1024);
    let mut cuts = vec![0usize];
    let mut at = step;
    while at < order.len() {
        while at < order.len() && order[at].0 == order[at - 1].0 {
            at += 1;
        }
        if at < order.len() {
            cuts.push(at);
        }
        at += step;
    }
    cuts.push(order.len());
    let pieces: Vec<Vec<(u32, Result<Share, ClaimError>)>> = cuts
        .par_windows(2)
        .map(|w| {
            let mut out = Vec::with_capacity(w[1] - w[0]);
            let mut acc = PersonYear::default();
            let mut current = u32::MAX;
            for &(person, i) in &order[w[0]..w[1]] {
                let c = &claims[i as usize];
                if current != person || acc.year != c.discharge.year {
                    acc = PersonYear::new(c.discharge.year);
                    current = person;
                }
                out.push((i, acc.apply(policy, &c.facts())));
            }
            out
        })
        .collect();
    let mut out: Vec<Option<Result<Share, ClaimError>>> = vec![None; claims.len()];
    for piece in pieces {
        for (i, r) in piece {
            out[i as usize] = Some(r);
        }
    }
    out.into_iter()
        .map(|r| r.expect("every claim processed"))
        .collect()
}

fn claim_share(
    policy: &BenefitPolicy,
    c: &ClaimFacts<'_>,
    acc: &mut PersonYear,
) -> Result<Share, ClaimError> {
    let total = round_yuan(c.total_cost);
    let covered = round_yuan(c.covered_cost);
    if covered < Decimal::ZERO || covered > total {
        return Err(ClaimError::Costs { covered, total });
    }
    let zero = round_yuan(Decimal::ZERO);
    let t = c.insurance.index();
    let mut inpatient_standard = None;
    let (deductible_due, ratio, cap_left) = match c.kind {
        ClaimKind::Inpatient => {
            let rule = &policy.inpatient.by_type[t];
            let inp = &policy.inpatient;
            let mut standard = base_deductible(policy, c.insurance, c.level);
            if c.day_surgery {
                standard *= inp.day_surgery_deductible_factor;
            }
            let standard = round_yuan(standard);
            inpatient_standard = Some(standard);
            let referral = if inp.referral_rules {
                c.referral
            } else {
                Referral::None
            };
            let mut credit = match referral {
                Referral::Up => acc.last_inpatient_standard[t].unwrap_or_default(),
                Referral::None | Referral::Down | Referral::NonStandard => Decimal::ZERO,
            };
            if inp.deductible_basis == DeductibleBasis::Year {
                credit = credit.max(acc.inpatient_deductible[t]);
            }
            let due = if referral == Referral::Down {
                zero
            } else {
                (standard - credit).max(zero)
            };
            let mut ratio = rule.ratio[c.level.index()];
            if referral == Referral::NonStandard {
                ratio = (ratio - inp.nonstandard_referral_ratio_cut).max(Decimal::ZERO);
            }
            let cap_left = rule
                .annual_cap
                .map(|cap| (cap - acc.inpatient_fund[t]).max(Decimal::ZERO));
            (due, ratio, cap_left)
        }
        ClaimKind::Outpatient(name) => {
            let rule = policy
                .outpatient
                .get(name)
                .ok_or_else(|| ClaimError::UnknownScheme(name.clone()))?;
            if !rule.insurance.contains(&c.insurance) {
                return Err(ClaimError::NotCovered {
                    scheme: name.clone(),
                    insurance: c.insurance,
                });
            }
            let paid = acc.outpatient_deductible[t]
                .get(name)
                .copied()
                .unwrap_or_default();
            let mut d = (rule.deductible - paid).max(Decimal::ZERO);
            if policy.no_deductible_at_primary_care && c.level == HospitalLevel::PrimaryCare {
                d = Decimal::ZERO;
            }
            let used = acc.outpatient_fund[t]
                .get(name)
                .copied()
                .unwrap_or_default();
            let cap_left = rule.annual_cap.map(|cap| (cap - used).max(Decimal::ZERO));
            (round_yuan(d), rule.ratio, cap_left)
        }
    };
    let deductible = deductible_due.min(covered);
    let eligible = covered - deductible;
    let fund_raw = round_yuan(eligible * ratio);
    let coinsurance = eligible - fund_raw;
    let fund = match cap_left {
        Some(left) => fund_raw.min(round_yuan(left)),
        None => fund_raw,
    };
    let over_cap = fund_raw - fund;
    let uncovered = total - covered;
    let patient = uncovered + deductible + coinsurance + over_cap;
    match c.kind {
        ClaimKind::Inpatient => {
            acc.inpatient_deductible[t] += deductible;
            acc.inpatient_fund[t] += fund;
            acc.last_inpatient_standard[t] = inpatient_standard;
        }
        ClaimKind::Outpatient(name) => {
            *acc.outpatient_deductible[t]
                .entry(name.clone())
                .or_default() += deductible;
            *acc.outpatient_fund[t].entry(name.clone()).or_default() += fund;
        }
    }
    Ok(Share {
        uncovered: uncovered + zero,
        deductible,
        coinsurance,
        over_cap,
        patient,
        fund: total - patient,
    })
}
