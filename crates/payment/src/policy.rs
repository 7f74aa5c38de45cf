//! The payment sections of a policy file (`[benefits]`, `[budget]`, `[settlement]`,
//! `[[community]]`) and the whole-file [`Policy`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use drgdip_pricing::policy::{
    DipBudget, PointValueMethod, PricingPolicy, per_level, read_policy_table,
};
use drgdip_pricing::toml_reader::{Section, show};
use drgdip_pricing::{HospitalLevel, InsuranceType, PolicyError};
use rust_decimal::Decimal;
use toml::{Table, Value};

use crate::budget::{Budget, BudgetLine, split_budget};
use crate::community::{CommunityTree, MemberKind};

const ZERO: Decimal = Decimal::ZERO;
const ONE: Decimal = Decimal::ONE;

/// How the inpatient deductible accumulates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeductibleBasis {
    /// Each admission pays its level's deductible (referral rules aside).
    Admission,
    /// The deductible is annual: an admission pays what is left of its level's
    /// deductible after what the person already paid this year.
    Year,
}

/// Inpatient benefit parameters of one insurance type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InpatientRule {
    /// Deductible (起付线) per hospital level, yuan.
    pub deductible: [Decimal; 4],
    /// Reimbursement ratio per level, 0..=1.
    pub ratio: [Decimal; 4],
    /// Most the fund pays for a person's stays in a year (None = no cap).
    pub annual_cap: Option<Decimal>,
}

/// Inpatient benefits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InpatientBenefits {
    /// Deductible basis.
    pub deductible_basis: DeductibleBasis,
    /// Day surgery pays this share of the deductible (seed: 0.5).
    pub day_surgery_deductible_factor: Decimal,
    /// Whether the referral rules apply (upward credit, downward none, non-standard
    /// ratio cut).
    pub referral_rules: bool,
    /// A non-standard referral (不按规范转诊) lowers the level's ratio by this much
    /// (a fraction, not below 0); default 0.
    pub nonstandard_referral_ratio_cut: Decimal,
    /// Rules per insurance type, indexed by [`InsuranceType::index`].
    pub by_type: [InpatientRule; 2],
}

/// An outpatient benefit scheme (e.g. `two_diseases` for hypertension/diabetes drugs,
/// `ordinary` for resident ordinary outpatient care). Deductible and cap are annual.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutpatientRule {
    /// Annual deductible, yuan.
    pub deductible: Decimal,
    /// Reimbursement ratio.
    pub ratio: Decimal,
    /// Annual cap on the fund's payment.
    pub annual_cap: Option<Decimal>,
    /// Insurance types the scheme covers.
    pub insurance: BTreeSet<InsuranceType>,
}

/// `[benefits]`: patient cost sharing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BenefitPolicy {
    /// No deductible at primary-care (基层) institutions, inpatient and outpatient.
    pub no_deductible_at_primary_care: bool,
    /// Inpatient rules.
    pub inpatient: InpatientBenefits,
    /// Outpatient schemes by name.
    pub outpatient: BTreeMap<String, OutpatientRule>,
}

/// One retention or sharing band: the slice of the surplus (or deficit) between the
/// previous band's `up_to` and this one's, as shares of the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Band {
    /// Upper end as a share of the budget (None = no upper end; only the last band).
    pub up_to: Option<Decimal>,
    /// Share of the slice kept by the hospital/community (surplus bands) or borne by
    /// the fund (deficit bands).
    pub share: Decimal,
}

/// Which settlement units surplus bands apply to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetentionScope {
    /// Only county medical communities (bundled budgets). Standalone hospitals keep
    /// their DRG/DIP surplus and bear their deficit in full.
    Communities,
    /// Communities and standalone hospitals (budget = the hospital's annual amount).
    All,
}

/// `[settlement]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettlementPolicy {
    /// Share of each month's amount advanced (the rest is the quality deposit).
    pub advance_share: Decimal,
    /// Assessment coefficient of hospitals not listed.
    pub assessment_default: Decimal,
    /// Assessment coefficient per hospital.
    pub assessment: BTreeMap<String, Decimal>,
    /// Audit deductions per hospital, yuan.
    pub audit_deductions: BTreeMap<String, Decimal>,
    /// Surplus retention bands (share = kept).
    pub surplus_bands: Vec<Band>,
    /// Deficit sharing bands (share = borne by the fund).
    pub deficit_bands: Vec<Band>,
    /// Scope of the bands.
    pub retention_scope: RetentionScope,
    /// Township and village institutions selling drugs at zero markup (药品零差率):
    /// paid the fund's share of their compliant costs in full, outside the total
    /// budget (seed 001).
    pub zero_markup: BTreeSet<String>,
}

/// The payment sections, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct PaymentPolicy {
    /// `[benefits]`.
    pub benefits: BenefitPolicy,
    /// `[budget]`, split into its lines.
    pub budget: Option<Budget>,
    /// `[settlement]`.
    pub settlement: SettlementPolicy,
    /// `[[community]]` trees.
    pub communities: Vec<CommunityTree>,
}

/// A whole policy file: pricing and payment.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Pricing sections.
    pub pricing: PricingPolicy,
    /// Payment sections.
    pub payment: PaymentPolicy,
}

impl Policy {
    /// Loads and validates the policy file at `path` (files it names are relative to
    /// its folder).
    pub fn load(path: &Path) -> Result<Self, PolicyError> {
        let table = read_policy_table(path)?;
        Self::from_table(&table, path.parent().unwrap_or(Path::new(".")))
    }

    /// Builds the policy from TOML text; relative paths start at `base`.
    pub fn from_str_in(text: &str, base: &Path) -> Result<Self, PolicyError> {
        let table = drgdip_pricing::policy::parse_policy_table(text, &base.join("<policy>"))?;
        Self::from_table(&table, base)
    }

    /// Builds the policy from a parsed file.
    pub fn from_table(table: &Table, base: &Path) -> Result<Self, PolicyError> {
        let pricing = PricingPolicy::from_table(table, base)?;
        let payment = PaymentPolicy::from_table(table)?;
        if let Some(dip) = &pricing.dip
            && dip.point_value_method == PointValueMethod::Settlement
            && dip.fund_budget == DipBudget::Remainder
            && payment.budget.is_none()
        {
            return Err(PolicyError::Missing {
                key: "budget".into(),
                what: "dip.fund_budget = \"remainder\" (the default) takes the DIP budget \
                       from [budget]; add [budget] or give dip.fund_budget as an amount"
                    .into(),
            });
        }
        for (i, c) in payment.communities.iter().enumerate() {
            let has = payment
                .budget
                .as_ref()
                .is_some_and(|b| b.allocations.iter().any(|a| a.id == c.id));
            if !has {
                return Err(PolicyError::Invalid {
                    key: format!("community[{i}].id"),
                    value: format!("\"{}\"", c.id),
                    reason: "no [[budget.allocation]] with this id gives the community its budget"
                        .into(),
                });
            }
        }
        Ok(Self { pricing, payment })
    }
}

impl PaymentPolicy {
    /// Reads the payment sections of a parsed policy file.
    pub fn from_table(table: &Table) -> Result<Self, PolicyError> {
        let root = Section::new("", table);
        let benefits = read_benefits(&root.req_table(
            "benefits",
            "the [benefits] section (deductibles, ratios, caps)",
        )?)?;
        let budget = root.table("budget")?.map(|s| read_budget(&s)).transpose()?;
        let settlement = match root.table("settlement")? {
            Some(s) => read_settlement(&s)?,
            None => SettlementPolicy {
                advance_share: Decimal::new(9, 1),
                assessment_default: ONE,
                assessment: BTreeMap::new(),
                audit_deductions: BTreeMap::new(),
                surplus_bands: default_surplus_bands(),
                deficit_bands: vec![Band {
                    up_to: None,
                    share: ZERO,
                }],
                retention_scope: RetentionScope::Communities,
                zero_markup: BTreeSet::new(),
            },
        };
        let communities = read_communities(&root)?;
        Ok(Self {
            benefits,
            budget,
            settlement,
            communities,
        })
    }
}

/// The seed's bands: ≤ 5% kept in full; 5–10% 70% kept; 10–15% 30% kept; above all
/// carried forward.
#[must_use]
pub fn default_surplus_bands() -> Vec<Band> {
    vec![
        Band {
            up_to: Some(Decimal::new(5, 2)),
            share: ONE,
        },
        Band {
            up_to: Some(Decimal::new(10, 2)),
            share: Decimal::new(7, 1),
        },
        Band {
            up_to: Some(Decimal::new(15, 2)),
            share: Decimal::new(3, 1),
        },
        Band {
            up_to: None,
            share: ZERO,
        },
    ]
}

fn read_inpatient_rule(s: &Section<'_>) -> Result<InpatientRule, PolicyError> {
    let (deductible, _) = per_level(s, "deductible", ZERO, false, None, &[])?
        .ok_or_else(|| s.missing("deductible", "the deductible per level"))?;
    let (ratio, _) = per_level(s, "ratio", ZERO, false, Some(ONE), &[])?
        .ok_or_else(|| s.missing("ratio", "the reimbursement ratio per level (0..1)"))?;
    let annual_cap = s.decimal_in("annual_cap", ZERO, true, None)?;
    s.finish()?;
    Ok(InpatientRule {
        deductible,
        ratio,
        annual_cap,
    })
}

fn read_benefits(s: &Section<'_>) -> Result<BenefitPolicy, PolicyError> {
    let no_deductible_at_primary_care =
        s.boolean("no_deductible_at_primary_care")?.unwrap_or(false);
    let inp = s.req_table("inpatient", "inpatient rules per insurance type")?;
    let basis = inp.string("deductible_basis")?.unwrap_or("admission");
    let deductible_basis = match basis {
        "admission" => DeductibleBasis::Admission,
        "year" => DeductibleBasis::Year,
        other => {
            return Err(inp.invalid(
                "deductible_basis",
                &Value::String(other.to_owned()),
                "expected \"admission\" or \"year\"",
            ));
        }
    };
    let day_surgery_deductible_factor = inp
        .decimal_in("day_surgery_deductible_factor", ZERO, false, Some(ONE))?
        .unwrap_or(ONE);
    let referral_rules = inp.boolean("referral_rules")?.unwrap_or(true);
    let nonstandard_referral_ratio_cut = inp
        .decimal_in("nonstandard_referral_ratio_cut", ZERO, false, Some(ONE))?
        .unwrap_or(ZERO);
    let emp = read_inpatient_rule(&inp.req_table("employee", "employee inpatient rules")?)?;
    let res = read_inpatient_rule(&inp.req_table("resident", "resident inpatient rules")?)?;
    inp.finish()?;
    let mut outpatient = BTreeMap::new();
    if let Some(out) = s.table("outpatient")? {
        for name in out.keys() {
            let o = out.req_table(name, "an outpatient scheme")?;
            let deductible = o
                .decimal_in("deductible", ZERO, false, None)?
                .unwrap_or(ZERO);
            let ratio = o
                .decimal_in("ratio", ZERO, false, Some(ONE))?
                .ok_or_else(|| o.missing("ratio", "the reimbursement ratio (0..1)"))?;
            let annual_cap = o.decimal_in("annual_cap", ZERO, true, None)?;
            let mut insurance = BTreeSet::new();
            match o.strings("insurance")? {
                None => insurance.extend(InsuranceType::ALL),
                Some(list) => {
                    for (i, t) in list.iter().enumerate() {
                        let ty = InsuranceType::parse(t).ok_or_else(|| PolicyError::Invalid {
                            key: format!("{}[{i}]", o.key("insurance")),
                            value: format!("\"{t}\""),
                            reason: "expected \"employee\" or \"resident\"".into(),
                        })?;
                        insurance.insert(ty);
                    }
                }
            }
            o.finish()?;
            outpatient.insert(
                name.to_owned(),
                OutpatientRule {
                    deductible,
                    ratio,
                    annual_cap,
                    insurance,
                },
            );
        }
        out.finish()?;
    }
    s.finish()?;
    Ok(BenefitPolicy {
        no_deductible_at_primary_care,
        inpatient: InpatientBenefits {
            deductible_basis,
            day_surgery_deductible_factor,
            referral_rules,
            nonstandard_referral_ratio_cut,
            by_type: [emp, res],
        },
        outpatient,
    })
}

fn read_budget(s: &Section<'_>) -> Result<Budget, PolicyError> {
    let total = s
        .decimal_in("total", ZERO, true, None)?
        .ok_or_else(|| s.missing("total", "the pooled fund for the year, yuan"))?;
    let risk = s
        .decimal_in("risk_reserve_rate", ZERO, false, Some(ONE))?
        .unwrap_or(Decimal::new(1, 2));
    let city = s
        .decimal_in("city_reserve_rate", ZERO, false, Some(ONE))?
        .unwrap_or(Decimal::new(3, 2));
    let mut lines = Vec::new();
    if let Some(v) = s.raw("allocation") {
        let Value::Array(items) = v else {
            return Err(s.invalid("allocation", v, "expected [[budget.allocation]] tables"));
        };
        let mut seen = BTreeSet::new();
        for (i, item) in items.iter().enumerate() {
            let path = format!("{}[{i}]", s.key("allocation"));
            let Value::Table(t) = item else {
                return Err(PolicyError::Invalid {
                    key: path,
                    value: show(item),
                    reason: "expected a table { id = .., share = .. }".into(),
                });
            };
            let a = Section::new(&path, t);
            let id = a.req_string("id", "the allocation's id (a county or community)")?;
            if !seen.insert(id.to_owned()) {
                return Err(a.invalid("id", &Value::String(id.into()), "duplicate allocation id"));
            }
            let share = a.decimal_in("share", ZERO, false, Some(ONE))?;
            let amount = a.decimal_in("amount", ZERO, false, None)?;
            let line = match (share, amount) {
                (Some(sh), None) => BudgetLine::Share(sh),
                (None, Some(am)) => BudgetLine::Amount(am),
                _ => {
                    return Err(a.missing(
                        "share",
                        "exactly one of `share` (of the pool after reserves) or `amount`",
                    ));
                }
            };
            a.finish()?;
            lines.push((id.to_owned(), line));
        }
    }
    s.finish()?;
    split_budget(total, risk, city, &lines).map_err(|reason| PolicyError::Invalid {
        key: s.key("allocation"),
        value: format!("{} lines", lines.len()),
        reason,
    })
}

fn read_bands(
    s: &Section<'_>,
    key: &str,
    share_key: &str,
) -> Result<Option<Vec<Band>>, PolicyError> {
    let Some(v) = s.raw(key) else {
        return Ok(None);
    };
    let Value::Array(items) = v else {
        return Err(s.invalid(key, v, "expected an array of tables"));
    };
    let mut bands = Vec::new();
    let mut prev = ZERO;
    for (i, item) in items.iter().enumerate() {
        let path = format!("{}[{i}]", s.key(key));
        let Value::Table(t) = item else {
            return Err(PolicyError::Invalid {
                key: path,
                value: show(item),
                reason: format!("expected a table {{ up_to = .., {share_key} = .. }}"),
            });
        };
        let b = Section::new(&path, t);
        let up_to = b.decimal_in("up_to", prev, true, None)?;
        let share = b
            .decimal_in(share_key, ZERO, false, Some(ONE))?
            .ok_or_else(|| b.missing(share_key, "the band's share (0..1)"))?;
        b.finish()?;
        let last = i + 1 == items.len();
        match (up_to, last) {
            (None, false) => {
                return Err(b.missing(
                    "up_to",
                    "the band's upper end (only the last band may omit it)",
                ));
            }
            (Some(u), _) => prev = u,
            (None, true) => {}
        }
        bands.push(Band { up_to, share });
    }
    if bands.is_empty() {
        return Err(s.invalid(key, v, "at least one band is needed"));
    }
    Ok(Some(bands))
}

fn read_decimal_map(
    s: &Section<'_>,
    key: &str,
    min: Decimal,
    min_exclusive: bool,
) -> Result<BTreeMap<String, Decimal>, PolicyError> {
    let mut out = BTreeMap::new();
    if let Some(t) = s.table(key)? {
        for id in t.keys() {
            out.insert(
                id.to_owned(),
                t.decimal_in(id, min, min_exclusive, None)?
                    .expect("key exists"),
            );
        }
        t.finish()?;
    }
    Ok(out)
}

fn read_settlement(s: &Section<'_>) -> Result<SettlementPolicy, PolicyError> {
    let advance_share = s
        .decimal_in("advance_share", ZERO, false, Some(ONE))?
        .unwrap_or(Decimal::new(9, 1));
    let assessment_default = s
        .decimal_in("assessment_default", ZERO, false, None)?
        .unwrap_or(ONE);
    let assessment = read_decimal_map(s, "assessment", ZERO, false)?;
    let audit_deductions = read_decimal_map(s, "audit_deductions", ZERO, false)?;
    let surplus_bands =
        read_bands(s, "surplus_bands", "kept")?.unwrap_or_else(default_surplus_bands);
    let deficit_bands = read_bands(s, "deficit_bands", "fund_share")?.unwrap_or_else(|| {
        vec![Band {
            up_to: None,
            share: ZERO,
        }]
    });
    let scope = s.string("retention_scope")?.unwrap_or("communities");
    let retention_scope = match scope {
        "communities" => RetentionScope::Communities,
        "all" => RetentionScope::All,
        other => {
            return Err(s.invalid(
                "retention_scope",
                &Value::String(other.into()),
                "expected \"communities\" or \"all\"",
            ));
        }
    };
    let zero_markup: BTreeSet<String> = s
        .strings("zero_markup")?
        .unwrap_or_default()
        .into_iter()
        .map(|h| h.trim().to_owned())
        .collect();
    s.finish()?;
    Ok(SettlementPolicy {
        advance_share,
        assessment_default,
        assessment,
        audit_deductions,
        surplus_bands,
        deficit_bands,
        retention_scope,
        zero_markup,
    })
}

fn read_communities(root: &Section<'_>) -> Result<Vec<CommunityTree>, PolicyError> {
    let Some(v) = root.raw("community") else {
        return Ok(Vec::new());
    };
    let Value::Array(items) = v else {
        return Err(root.invalid("community", v, "expected [[community]] tables"));
    };
    let mut out = Vec::new();
    let mut all_hospitals = BTreeSet::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("community[{i}]");
        let Value::Table(t) = item else {
            return Err(PolicyError::Invalid {
                key: path,
                value: show(item),
                reason: "expected a table".into(),
            });
        };
        let c = Section::new(&path, t);
        let id = c.req_string("id", "the community's id (matches a budget allocation)")?;
        let lead = c.req_string("lead", "the lead hospital's id")?;
        let mut min_share = BTreeMap::new();
        if let Some(m) = c.table("min_share")? {
            for k in m.keys() {
                let kind = MemberKind::parse(k)
                    .filter(|k| *k != MemberKind::Lead)
                    .ok_or_else(|| PolicyError::Invalid {
                        key: m.key(k),
                        value: show(m.raw(k).expect("present")),
                        reason: "member kinds are central_township, general_township, village"
                            .into(),
                    })?;
                let d = m.decimal_in(k, ZERO, false, Some(ONE))?.expect("present");
                min_share.insert(kind, d);
            }
            m.finish()?;
        }
        let mut members = Vec::new();
        if let Some(mv) = c.raw("member") {
            let Value::Array(ms) = mv else {
                return Err(c.invalid("member", mv, "expected [[community.member]] tables"));
            };
            for (j, m) in ms.iter().enumerate() {
                let mpath = format!("{path}.member[{j}]");
                let Value::Table(mt) = m else {
                    return Err(PolicyError::Invalid {
                        key: mpath,
                        value: show(m),
                        reason: "expected a table { hospital = .., kind = .. }".into(),
                    });
                };
                let ms = Section::new(&mpath, mt);
                let hospital = ms.req_string("hospital", "the member hospital's id")?;
                let kind_s =
                    ms.req_string("kind", "central_township, general_township or village")?;
                let kind = MemberKind::parse(kind_s)
                    .filter(|k| *k != MemberKind::Lead)
                    .ok_or_else(|| {
                        ms.invalid(
                            "kind",
                            &Value::String(kind_s.into()),
                            "expected central_township, general_township or village",
                        )
                    })?;
                let parent = ms.string("parent")?.unwrap_or(lead);
                ms.finish()?;
                members.push((hospital.to_owned(), kind, parent.to_owned()));
            }
        }
        c.finish()?;
        let tree = CommunityTree::build(id, lead, &members, min_share).map_err(|reason| {
            PolicyError::Invalid {
                key: format!("{path}.member"),
                value: format!("{} members", members.len()),
                reason,
            }
        })?;
        for h in tree.hospitals() {
            if !all_hospitals.insert(h.to_owned()) {
                return Err(PolicyError::Invalid {
                    key: format!("{path}.member"),
                    value: format!("\"{h}\""),
                    reason: "hospital belongs to more than one community".into(),
                });
            }
        }
        out.push(tree);
    }
    Ok(out)
}

/// A level's inpatient deductible for `ins` after the primary-care rule.
#[must_use]
pub fn base_deductible(b: &BenefitPolicy, ins: InsuranceType, level: HospitalLevel) -> Decimal {
    if b.no_deductible_at_primary_care && level == HospitalLevel::PrimaryCare {
        ZERO
    } else {
        b.inpatient.by_type[ins.index()].deductible[level.index()]
    }
}
