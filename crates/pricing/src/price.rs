//! Pricing one case: group → weight or score → coefficient → rate or point value →
//! outlier adjustment → payment standard, with every step kept in the breakdown.

use rust_decimal::Decimal;
use rustc_hash::{FxHashMap, FxHashSet};

use crate::codes::{HospitalLevel, InsuranceType, Method};
use crate::error::PriceError;
use crate::money::{ratio, round_qty, round_yuan};
use crate::policy::{DipOutlierRule, DrgOutlierRule, PricingPolicy, UngroupedRule};

/// Grouping status of a case as written by `drgdip group` / `drgdip dip group`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GroupStatus {
    /// Grouped into a DRG or a core DIP type.
    Grouped,
    /// DIP composite (综合) type.
    Composite,
    /// DRG `ungroupable` (0000) or DIP `ungrouped`.
    Ungrouped,
    /// DRG ambiguous case (歧义病案).
    Ambiguous,
    /// Rejected by the grouper's validation.
    Invalid,
}

impl GroupStatus {
    /// Parses the status words of both groupers.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "grouped" => Some(Self::Grouped),
            "composite" => Some(Self::Composite),
            "ungroupable" | "ungrouped" => Some(Self::Ungrouped),
            "ambiguous" => Some(Self::Ambiguous),
            "invalid" => Some(Self::Invalid),
            _ => None,
        }
    }

    /// The status word.
    #[must_use]
    pub fn key(self) -> &'static str {
        match self {
            Self::Grouped => "grouped",
            Self::Composite => "composite",
            Self::Ungrouped => "ungrouped",
            Self::Ambiguous => "ambiguous",
            Self::Invalid => "invalid",
        }
    }
}

/// What pricing needs to know about one case.
#[derive(Debug, Clone, Copy)]
pub struct CaseInput<'a> {
    /// DRG or DIP.
    pub method: Method,
    /// Grouping status.
    pub status: GroupStatus,
    /// DRG code or DIP type code.
    pub group: &'a str,
    /// DIP score from the grouper (used when the policy has no scores table).
    pub score: Option<Decimal>,
    /// DIP auxiliary sub-type coefficient (1 when absent).
    pub aux_coef: Option<Decimal>,
    /// Hospital id.
    pub hospital_id: &'a str,
    /// Hospital level.
    pub level: HospitalLevel,
    /// Insurance type.
    pub insurance: InsuranceType,
    /// Total cost of the stay, yuan.
    pub total_cost: Decimal,
    /// The grouper flagged the case as primary care (DIP: the `primary_care` column of
    /// `drgdip dip group`, decided per case from `六、基层病种` under national rules): it is
    /// paid with no hospital coefficient, as the groups listed in `[primary_care]` are.
    pub primary_care: bool,
}

/// Outlier classification of a priced case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outlier {
    /// Paid the standard.
    None,
    /// High-ratio / high-cost case.
    High,
    /// Low-ratio / low-cost case.
    Low,
    /// DIP case above the review threshold: paid as high-cost, flagged for review.
    Review,
    /// Ungrouped case paid by the ungrouped rule.
    Ungrouped,
    /// Ambiguous case paid by the ambiguous rule.
    Ambiguous,
}

impl Outlier {
    /// The word written in outputs.
    #[must_use]
    pub fn key(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::High => "high",
            Self::Low => "low",
            Self::Review => "review",
            Self::Ungrouped => "ungrouped",
            Self::Ambiguous => "ambiguous",
        }
    }

    /// Parses an output word back.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "none" | "" => Some(Self::None),
            "high" => Some(Self::High),
            "low" => Some(Self::Low),
            "review" => Some(Self::Review),
            "ungrouped" => Some(Self::Ungrouped),
            "ambiguous" => Some(Self::Ambiguous),
            _ => None,
        }
    }
}

/// A priced case with its breakdown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Priced {
    /// DRG or DIP.
    pub method: Method,
    /// Whether the group is a primary-care group (no hospital coefficient).
    pub primary_care: bool,
    /// DRG weight, or DIP score × auxiliary coefficient; zero for ungrouped cases.
    pub base: Decimal,
    /// Hospital coefficient applied (or the primary-care coefficient; 1 for ungrouped).
    pub coefficient: Decimal,
    /// DIP auxiliary coefficient applied (1 for DRG).
    pub aux_coef: Decimal,
    /// Rate (DRG, yuan per weight) or point value (DIP, yuan per point) used.
    pub rate: Decimal,
    /// The group's standard for this case before outlier rules: base × coefficient ×
    /// rate, rounded to the fen.
    pub standard: Decimal,
    /// Outlier classification.
    pub outlier: Outlier,
    /// Outlier factor (1 for normal cases): DRG payment / standard, 4 decimals; DIP
    /// the factor of the outlier rule, 6 decimals (half away from zero).
    pub outlier_factor: Decimal,
    /// Cost / standard, 4 decimals (zero when there is no standard).
    pub cost_ratio: Decimal,
    /// Case points: base × coefficient × the outlier factor above (DRG in weight
    /// units, DIP in points), 4 decimals; a DIP case's payment is exactly these points
    /// × the point value, rounded to the fen. Settlement prices these at the final
    /// rate / point value.
    pub points: Decimal,
    /// The payment standard of the case, yuan to the fen.
    pub payment_standard: Decimal,
    /// Negotiated drugs paid separately (单独支付的谈判药品), yuan: outside the DRG/DIP
    /// payment and the comparison with the standard, paid as is. The case is paid
    /// `payment_standard + negotiated`.
    pub negotiated: Decimal,
}

/// The compiled pricing engine for one policy. Immutable and `Send + Sync`.
#[derive(Debug, Clone)]
pub struct Pricer {
    policy: PricingPolicy,
    /// Hash indexes of the policy's tables for the hot path (never iterated).
    drg_weights: FxHashMap<Box<str>, Decimal>,
    dip_scores: Option<FxHashMap<Box<str>, Decimal>>,
    primary_drg: FxHashSet<Box<str>>,
    primary_dip: FxHashSet<Box<str>>,
}

const FACTOR_DP: u32 = 4;
/// DIP outlier factors carry 6 decimals, so that points × point value follows the
/// cost closely (the payment error is at most standard × 5·10⁻⁷).
const DIP_FACTOR_DP: u32 = 6;

impl Pricer {
    /// Wraps a validated policy.
    #[must_use]
    pub fn new(policy: PricingPolicy) -> Self {
        let index = |m: &std::collections::BTreeMap<String, crate::policy::GroupStats>| {
            m.iter()
                .map(|(k, v)| (k.as_str().into(), v.weight))
                .collect::<FxHashMap<Box<str>, Decimal>>()
        };
        let set = |s: &std::collections::BTreeSet<String>| {
            s.iter()
                .map(|k| k.as_str().into())
                .collect::<FxHashSet<Box<str>>>()
        };
        Self {
            drg_weights: policy
                .drg
                .as_ref()
                .map(|d| index(&d.weights))
                .unwrap_or_default(),
            dip_scores: policy
                .dip
                .as_ref()
                .and_then(|d| d.scores.as_ref())
                .map(index),
            primary_drg: set(&policy.primary_care.drg),
            primary_dip: set(&policy.primary_care.dip),
            policy,
        }
    }

    /// The policy this pricer applies.
    #[must_use]
    pub fn policy(&self) -> &PricingPolicy {
        &self.policy
    }

    /// Whether `group` is a primary-care group of `method` in this policy.
    #[must_use]
    pub fn is_primary_care(&self, method: Method, group: &str) -> bool {
        match method {
            Method::Drg => self.primary_drg.contains(group),
            Method::Dip => self.primary_dip.contains(group),
        }
    }

    /// Prices a case whose `total_cost` includes `negotiated` yuan of negotiated drugs
    /// paid separately (单独支付的谈判药品, seed 001): the group payment and every
    /// outlier test use the cost without them (`total_cost − negotiated`), and they are
    /// paid as is beside the payment standard ([`Priced::negotiated`]).
    pub fn price_with_negotiated(
        &self,
        case: &CaseInput<'_>,
        negotiated: Decimal,
    ) -> Result<Priced, PriceError> {
        if negotiated < Decimal::ZERO || negotiated > case.total_cost {
            return Err(PriceError::Negotiated {
                negotiated: negotiated.to_string(),
                total: case.total_cost.to_string(),
            });
        }
        let mut rest = *case;
        rest.total_cost = case.total_cost - negotiated;
        let mut p = self.price(&rest)?;
        p.negotiated = round_yuan(negotiated);
        Ok(p)
    }

    /// Prices one case. Never returns a zero payment: a case that cannot be priced is
    /// an error naming why.
    pub fn price(&self, case: &CaseInput<'_>) -> Result<Priced, PriceError> {
        let rate = match case.method {
            Method::Drg => {
                self.policy
                    .drg
                    .as_ref()
                    .ok_or(PriceError::MethodNotInPolicy("drg"))?
                    .base_rate[case.insurance.index()]
            }
            Method::Dip => {
                self.policy
                    .dip
                    .as_ref()
                    .ok_or(PriceError::MethodNotInPolicy("dip"))?
                    .point_value[case.insurance.index()]
            }
        };
        match case.status {
            GroupStatus::Invalid => return Err(PriceError::NotGrouped("invalid".into())),
            GroupStatus::Ungrouped => {
                return self.price_ungrouped(case, rate, self.policy.outliers.ungrouped, false);
            }
            GroupStatus::Ambiguous => {
                return self.price_ungrouped(case, rate, self.policy.outliers.ambiguous, true);
            }
            GroupStatus::Grouped | GroupStatus::Composite => {}
        }
        let primary_care = case.primary_care || self.is_primary_care(case.method, case.group);
        let coefficient = if primary_care {
            self.policy.primary_care.coefficient
        } else {
            self.policy.coefficients.of(case.hospital_id, case.level)
        };
        let (base, weight, aux_coef) =
            match case.method {
                Method::Drg => {
                    let w = *self.drg_weights.get(case.group).ok_or_else(|| {
                        PriceError::UnknownGroup {
                            method: "drg",
                            group: case.group.to_owned(),
                            table: "DRG weights file",
                        }
                    })?;
                    (w, w, Decimal::ONE)
                }
                Method::Dip => {
                    let score = match &self.dip_scores {
                        Some(table) => {
                            *table
                                .get(case.group)
                                .ok_or_else(|| PriceError::UnknownGroup {
                                    method: "dip",
                                    group: case.group.to_owned(),
                                    table: "DIP scores file",
                                })?
                        }
                        None => match case.score {
                            Some(s) if s > Decimal::ZERO => s,
                            _ => return Err(PriceError::NoScore),
                        },
                    };
                    let aux = match case.aux_coef {
                        None => Decimal::ONE,
                        Some(a) if a > Decimal::ZERO => a,
                        Some(a) => return Err(PriceError::AuxCoef(a.to_string())),
                    };
                    (score * aux, score, aux)
                }
            };
        if case.method == Method::Dip {
            return self.price_dip(case, primary_care, base, coefficient, aux_coef, rate);
        }
        let standard = round_yuan(base * coefficient * rate);
        if standard <= Decimal::ZERO {
            return Err(PriceError::NonPositive(standard.to_string()));
        }
        let (outlier, payment) = self.drg_outlier(weight, case.level, primary_care, standard, case);
        let payment = round_yuan(payment);
        if payment < Decimal::ZERO {
            return Err(PriceError::NonPositive(payment.to_string()));
        }
        let factor = if payment == standard {
            Decimal::ONE
        } else {
            ratio(payment, standard, FACTOR_DP)
        };
        Ok(Priced {
            method: case.method,
            primary_care,
            base,
            coefficient,
            aux_coef,
            rate,
            standard,
            outlier,
            outlier_factor: factor,
            cost_ratio: ratio(case.total_cost, standard, FACTOR_DP),
            points: round_qty(base * coefficient * factor, FACTOR_DP),
            payment_standard: payment,
            negotiated: Decimal::ZERO,
        })
    }

    /// DIP: every amount is points × point value. Standard points = score × aux ×
    /// coefficient (4 decimals); standard = standard points × point value (to the fen);
    /// the outlier factor (6 decimals) comes from cost / standard; case points =
    /// standard points × factor (4 decimals); payment = case points × point value.
    fn price_dip(
        &self,
        case: &CaseInput<'_>,
        primary_care: bool,
        base: Decimal,
        coefficient: Decimal,
        aux_coef: Decimal,
        value: Decimal,
    ) -> Result<Priced, PriceError> {
        let standard_points = round_qty(base * coefficient, FACTOR_DP);
        let standard = round_yuan(standard_points * value);
        if standard <= Decimal::ZERO {
            return Err(PriceError::NonPositive(standard.to_string()));
        }
        let (outlier, factor) = self.dip_outlier(standard, case.total_cost);
        let points = round_qty(standard_points * factor, FACTOR_DP);
        let payment = round_yuan(points * value);
        if payment < Decimal::ZERO {
            return Err(PriceError::NonPositive(payment.to_string()));
        }
        Ok(Priced {
            method: case.method,
            primary_care,
            base,
            coefficient,
            aux_coef,
            rate: value,
            standard,
            outlier,
            outlier_factor: factor,
            cost_ratio: ratio(case.total_cost, standard, FACTOR_DP),
            points,
            payment_standard: payment,
            negotiated: Decimal::ZERO,
        })
    }

    fn drg_outlier(
        &self,
        weight: Decimal,
        level: HospitalLevel,
        primary_care: bool,
        standard: Decimal,
        case: &CaseInput<'_>,
    ) -> (Outlier, Decimal) {
        let (high, low, pay) = match &self.policy.outliers.drg {
            DrgOutlierRule::None => return (Outlier::None, standard),
            DrgOutlierRule::RatioByLevel {
                high,
                high_primary_care,
                low,
                pay,
            } => {
                let h = if primary_care {
                    *high_primary_care
                } else {
                    high[level.index()]
                };
                (h, *low, *pay)
            }
            DrgOutlierRule::RatioByWeight { bands, low, pay } => {
                let h = bands
                    .iter()
                    .find(|(min, _)| *min <= weight)
                    .map_or(bands[bands.len() - 1].1, |b| b.1);
                (h, *low, *pay)
            }
        };
        let cost = case.total_cost;
        let threshold = high * standard;
        if cost > threshold {
            (
                Outlier::High,
                standard + (cost - threshold) * pay.high_share,
            )
        } else if cost < low * standard {
            (Outlier::Low, cost * pay.low_share)
        } else {
            (Outlier::None, standard)
        }
    }

    /// The DIP outlier class and factor (6 decimals): low (cost < low × standard) →
    /// cost / standard; high (cost > high × standard) → (cost / standard − high) + 1, at
    /// most `max_factor`; review above `review` × standard (paid as high).
    fn dip_outlier(&self, standard: Decimal, cost: Decimal) -> (Outlier, Decimal) {
        match self.policy.outliers.dip {
            DipOutlierRule::None => (Outlier::None, Decimal::ONE),
            DipOutlierRule::LowHighReview {
                low,
                high,
                review,
                max_factor,
            } => {
                if cost < low * standard {
                    (
                        Outlier::Low,
                        ratio(cost.max(Decimal::ZERO), standard, DIP_FACTOR_DP),
                    )
                } else if cost > high * standard {
                    let mut factor = cost / standard - high + Decimal::ONE;
                    if let Some(cap) = max_factor {
                        factor = factor.min(cap);
                    }
                    let kind = if cost > review * standard {
                        Outlier::Review
                    } else {
                        Outlier::High
                    };
                    (kind, round_qty(factor, DIP_FACTOR_DP))
                } else {
                    (Outlier::None, Decimal::ONE)
                }
            }
        }
    }

    fn price_ungrouped(
        &self,
        case: &CaseInput<'_>,
        rate: Decimal,
        rule: UngroupedRule,
        ambiguous: bool,
    ) -> Result<Priced, PriceError> {
        let word = if ambiguous { "ambiguous" } else { "ungrouped" };
        let UngroupedRule::CostShare { factor } = rule else {
            return Err(PriceError::RejectedByPolicy(word));
        };
        let mut payment = round_yuan(case.total_cost * factor);
        let points = round_qty(payment / rate, FACTOR_DP);
        if case.method == Method::Dip {
            // Every DIP amount is points × point value.
            payment = round_yuan(points * rate);
        }
        if payment < Decimal::ZERO {
            return Err(PriceError::NonPositive(payment.to_string()));
        }
        Ok(Priced {
            method: case.method,
            primary_care: false,
            base: Decimal::ZERO,
            coefficient: Decimal::ONE,
            aux_coef: Decimal::ONE,
            rate,
            standard: Decimal::ZERO,
            outlier: if ambiguous {
                Outlier::Ambiguous
            } else {
                Outlier::Ungrouped
            },
            outlier_factor: round_qty(factor, FACTOR_DP),
            cost_ratio: Decimal::ZERO,
            points,
            payment_standard: payment,
            negotiated: Decimal::ZERO,
        })
    }
}
