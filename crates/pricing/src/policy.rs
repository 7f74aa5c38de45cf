//! The pricing part of a region's policy file: DRG weights and rates, DIP point values,
//! hospital coefficients, primary-care groups and outlier rules.
//!
//! The whole file format (including the benefit and settlement sections read by
//! `drgdip-payment`) is documented in `docs/policy.md`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use rust_decimal::Decimal;
use toml::{Table, Value};

use crate::codes::{HospitalLevel, InsuranceType};
use crate::error::PolicyError;
use crate::toml_reader::{Section, check_range, decimal_of, show};

/// Every top-level table of the policy file format. Keys outside this list are errors.
pub const SECTIONS: [&str; 10] = [
    "policy",
    "drg",
    "dip",
    "coefficients",
    "primary_care",
    "outliers",
    "benefits",
    "budget",
    "settlement",
    "community",
];

/// Name, region and year of a policy; carried into outputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyMeta {
    /// Human-readable name.
    pub name: String,
    /// Region code or name.
    pub region: String,
    /// Policy year.
    pub year: Option<u64>,
    /// Version label.
    pub version: Option<String>,
}

/// Statistics of one DRG (from the weights file) or DIP type (from the scores file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupStats {
    /// Relative weight (DRG) or score in points (DIP).
    pub weight: Decimal,
    /// Mean cost of the group, yuan.
    pub mean_cost: Option<Decimal>,
    /// Mean length of stay, days.
    pub mean_los: Option<Decimal>,
    /// Number of cases behind the figures.
    pub cases: Option<u64>,
    /// Coefficient of variation of cost.
    pub cv: Option<Decimal>,
}

/// How the DRG rate (费率) is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateMethod {
    /// Set in advance: the base rate is final.
    Fixed,
    /// Finalised at clearing: rate = total cost / total weight of the year's DRG cases
    /// (per insurance type); the base rate is only provisional.
    Floating,
    /// A mix: final rate = `fixed_share` × base rate + (1 − `fixed_share`) × floating rate.
    Elastic {
        /// Share of the fixed rate, 0..=1.
        fixed_share: Decimal,
    },
}

/// DRG part of the policy.
#[derive(Debug, Clone, PartialEq)]
pub struct DrgPolicy {
    /// Weight and statistics per DRG code, sorted by code.
    pub weights: BTreeMap<String, GroupStats>,
    /// Where the weights came from (for messages).
    pub weights_file: PathBuf,
    /// Rate method.
    pub rate_method: RateMethod,
    /// Base (fixed or provisional) rate per insurance type, yuan per weight unit,
    /// indexed by [`InsuranceType::index`].
    pub base_rate: [Decimal; 2],
}

/// How the DIP point value (点值) is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PointValueMethod {
    /// Set in advance.
    Fixed,
    /// Settlement point value = (DIP fund budget / fund payment ratio) / total points;
    /// the configured value is only provisional (used for pricing and advances).
    Settlement,
}

/// Where the DIP fund budget for the settlement point value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DipBudget {
    /// Whatever of the `[budget]` total is left after reserves and allocations, one
    /// pool for both insurance types.
    Remainder,
    /// One amount for both insurance types.
    Pooled(Decimal),
    /// One amount per insurance type (employee, resident): separate point values.
    PerType([Decimal; 2]),
}

/// DIP part of the policy.
#[derive(Debug, Clone, PartialEq)]
pub struct DipPolicy {
    /// Point-value method.
    pub point_value_method: PointValueMethod,
    /// Fixed (or provisional) point value per insurance type, yuan per point.
    pub point_value: [Decimal; 2],
    /// Optional scores table; when present it is authoritative and a code absent from
    /// it is an unknown group. Without it the case's own `score` is used.
    pub scores: Option<BTreeMap<String, GroupStats>>,
    /// The budget used for the settlement point value.
    pub fund_budget: DipBudget,
}

/// Hospital coefficients (医院系数).
#[derive(Debug, Clone, PartialEq)]
pub struct Coefficients {
    /// Coefficient per level, indexed by [`HospitalLevel::index`].
    pub levels: [Decimal; 4],
    /// Per-hospital overrides.
    pub hospitals: BTreeMap<String, Decimal>,
}

impl Coefficients {
    /// The coefficient of a hospital: its own if listed, else its level's.
    #[must_use]
    pub fn of(&self, hospital_id: &str, level: HospitalLevel) -> Decimal {
        self.hospitals
            .get(hospital_id)
            .copied()
            .unwrap_or(self.levels[level.index()])
    }
}

/// Primary-care groups (基层病组/病种): one price in the city, no hospital coefficient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrimaryCare {
    /// Uniform coefficient for primary-care groups (default 1).
    pub coefficient: Decimal,
    /// Primary-care DRG codes.
    pub drg: BTreeSet<String>,
    /// Primary-care DIP type codes.
    pub dip: BTreeSet<String>,
}

/// DRG high/low-ratio (高/低倍率) outlier rule.
#[derive(Debug, Clone, PartialEq)]
pub enum DrgOutlierRule {
    /// No DRG outliers: every case paid the standard.
    None,
    /// Thresholds by hospital level.
    RatioByLevel {
        /// High-ratio threshold per level (cost > t × standard).
        high: [Decimal; 4],
        /// Threshold used for primary-care groups, so they keep one price.
        high_primary_care: Decimal,
        /// Low-ratio threshold (cost < t × standard).
        low: Decimal,
        /// How outliers are paid.
        pay: OutlierPay,
    },
    /// High-ratio threshold banded by the group's weight.
    RatioByWeight {
        /// `(min_weight, threshold)`, sorted by `min_weight` descending; the first band
        /// whose `min_weight ≤ weight` applies.
        bands: Vec<(Decimal, Decimal)>,
        /// Low-ratio threshold.
        low: Decimal,
        /// How outliers are paid.
        pay: OutlierPay,
    },
}

/// How DRG outliers are paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutlierPay {
    /// High: standard + (cost − threshold × standard) × `high_share`.
    pub high_share: Decimal,
    /// Low: cost × `low_share` (paid by items when 1).
    pub low_share: Decimal,
}

/// DIP low/high-cost outlier rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DipOutlierRule {
    /// No DIP outliers.
    None,
    /// Low cost (< `low` × standard): factor = cost / standard. High cost (> `high` ×
    /// standard): factor = (cost / standard − `high`) + 1, at most `max_factor`;
    /// above `review` × standard the case is flagged for expert review.
    LowHighReview {
        /// Low-cost threshold (e.g. 0.5).
        low: Decimal,
        /// High-cost threshold (e.g. 2).
        high: Decimal,
        /// Review threshold (e.g. 5).
        review: Decimal,
        /// Optional cap on the high-cost factor.
        max_factor: Option<Decimal>,
    },
}

/// How ungrouped or ambiguous cases are paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UngroupedRule {
    /// Payment = total cost × `factor`.
    CostShare {
        /// Share of cost paid, 0..=1 (e.g. 0.7).
        factor: Decimal,
    },
    /// The case is rejected with a per-row error.
    Reject,
}

/// Special-case review (特例单议) quotas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecialReview {
    /// Share of a hospital's DRG discharges that may be approved (≤ 5%).
    pub drg_quota: Decimal,
    /// Share of a hospital's DIP discharges that may be approved (≤ 5‰).
    pub dip_quota: Decimal,
}

/// Outlier and special-case rules.
#[derive(Debug, Clone, PartialEq)]
pub struct Outliers {
    /// DRG rule.
    pub drg: DrgOutlierRule,
    /// DIP rule.
    pub dip: DipOutlierRule,
    /// Ungrouped cases (DRG `ungroupable`, DIP `ungrouped`).
    pub ungrouped: UngroupedRule,
    /// DRG ambiguous (歧义) cases.
    pub ambiguous: UngroupedRule,
    /// Special-case review quotas.
    pub special_review: SpecialReview,
}

/// The pricing sections of a policy file, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct PricingPolicy {
    /// `[policy]`.
    pub meta: PolicyMeta,
    /// `[drg]`, if the region pays by DRG.
    pub drg: Option<DrgPolicy>,
    /// `[dip]`, if the region pays by DIP.
    pub dip: Option<DipPolicy>,
    /// `[coefficients]`.
    pub coefficients: Coefficients,
    /// `[primary_care]`.
    pub primary_care: PrimaryCare,
    /// `[outliers]`.
    pub outliers: Outliers,
}

/// Reads and parses a policy file into a TOML table, checking top-level keys.
pub fn read_policy_table(path: &Path) -> Result<Table, PolicyError> {
    let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse_policy_table(&text, path)
}

/// Parses policy text (for `path` in messages) and checks its top-level keys.
pub fn parse_policy_table(text: &str, path: &Path) -> Result<Table, PolicyError> {
    let table: Table = text
        .parse()
        .map_err(|e: toml::de::Error| PolicyError::Syntax {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
    crate::toml_reader::check_number_syntax(text)?;
    for key in table.keys() {
        if !SECTIONS.contains(&key.as_str()) {
            return Err(PolicyError::UnknownKey { key: key.clone() });
        }
    }
    Ok(table)
}

const ZERO: Decimal = Decimal::ZERO;
const ONE: Decimal = Decimal::ONE;

impl PricingPolicy {
    /// Loads the pricing sections of the policy file at `path`; files it names are read
    /// relative to the policy file's folder.
    pub fn load(path: &Path) -> Result<Self, PolicyError> {
        let table = read_policy_table(path)?;
        Self::from_table(&table, path.parent().unwrap_or(Path::new(".")))
    }

    /// Builds the pricing policy from a parsed file; `base` is the folder relative
    /// paths start from.
    pub fn from_table(table: &Table, base: &Path) -> Result<Self, PolicyError> {
        let root = Section::new("", table);
        let meta = {
            let s = root.req_table("policy", "the [policy] table with name and region")?;
            let m = PolicyMeta {
                name: s.req_string("name", "the policy's name")?.to_owned(),
                region: s
                    .req_string("region", "the region's code or name")?
                    .to_owned(),
                year: s.integer("year")?,
                version: s.string("version")?.map(str::to_owned),
            };
            s.finish()?;
            m
        };
        let drg = root.table("drg")?.map(|s| read_drg(&s, base)).transpose()?;
        let dip = root.table("dip")?.map(|s| read_dip(&s, base)).transpose()?;
        if drg.is_none() && dip.is_none() {
            return Err(root.missing("drg", "a [drg] or [dip] section (or both)"));
        }
        let coefficients = read_coefficients(&root.req_table(
            "coefficients",
            "hospital coefficients by level: [coefficients] levels = { \"3\" = 1.0, ... }",
        )?)?;
        let primary_care = match root.table("primary_care")? {
            Some(s) => read_primary_care(&s, drg.as_ref(), dip.as_ref(), base)?,
            None => PrimaryCare {
                coefficient: ONE,
                drg: BTreeSet::new(),
                dip: BTreeSet::new(),
            },
        };
        let outliers = match root.table("outliers")? {
            Some(s) => read_outliers(&s)?,
            None => Outliers {
                drg: DrgOutlierRule::None,
                dip: DipOutlierRule::None,
                ungrouped: UngroupedRule::Reject,
                ambiguous: UngroupedRule::Reject,
                special_review: SpecialReview {
                    drg_quota: ZERO,
                    dip_quota: ZERO,
                },
            },
        };
        Ok(Self {
            meta,
            drg,
            dip,
            coefficients,
            primary_care,
            outliers,
        })
    }
}

/// Reads a `{ employee = x, resident = y }` table, or a single value for both.
pub fn per_insurance(
    s: &Section<'_>,
    key: &str,
    min: Decimal,
    min_exclusive: bool,
    max: Option<Decimal>,
) -> Result<Option<[Decimal; 2]>, PolicyError> {
    let Some(v) = s.raw(key) else {
        return Ok(None);
    };
    if let Value::Table(t) = v {
        let sub = Section::new(&s.key(key), t);
        let mut out = [ZERO; 2];
        for ins in InsuranceType::ALL {
            out[ins.index()] = sub
                .decimal_in(ins.key(), min, min_exclusive, max)?
                .ok_or_else(|| sub.missing(ins.key(), "a value for this insurance type"))?;
        }
        sub.finish()?;
        Ok(Some(out))
    } else {
        let d = decimal_of(v).ok_or_else(|| {
            s.invalid(
                key,
                v,
                "expected a number or a table { employee = .., resident = .. }",
            )
        })?;
        check_range(d, min, min_exclusive, max).map_err(|r| s.invalid(key, v, r))?;
        Ok(Some([d, d]))
    }
}

/// Per-level values and the extra keys found beside them.
pub type PerLevel = ([Decimal; 4], BTreeMap<String, Decimal>);

/// Reads a `{ "3" = a, "2" = b, "1" = c, "0" = d }` table (all four levels), or a single
/// value for every level. Extra keys listed in `extra` are returned separately.
pub fn per_level(
    s: &Section<'_>,
    key: &str,
    min: Decimal,
    min_exclusive: bool,
    max: Option<Decimal>,
    extra: &[&str],
) -> Result<Option<PerLevel>, PolicyError> {
    let Some(v) = s.raw(key) else {
        return Ok(None);
    };
    if let Value::Table(t) = v {
        let sub = Section::new(&s.key(key), t);
        let mut out = [ZERO; 4];
        for level in HospitalLevel::ALL {
            out[level.index()] = sub
                .decimal_in(level.code(), min, min_exclusive, max)?
                .ok_or_else(|| {
                    sub.missing(
                        level.code(),
                        "a value for this hospital level (levels are \"3\", \"2\", \"1\", \"0\")",
                    )
                })?;
        }
        let mut extras = BTreeMap::new();
        for e in extra {
            if let Some(d) = sub.decimal_in(e, min, min_exclusive, max)? {
                extras.insert((*e).to_owned(), d);
            }
        }
        sub.finish()?;
        Ok(Some((out, extras)))
    } else {
        let d = decimal_of(v).ok_or_else(|| {
            s.invalid(
                key,
                v,
                "expected a number or a table keyed by level \"3\", \"2\", \"1\", \"0\"",
            )
        })?;
        check_range(d, min, min_exclusive, max).map_err(|r| s.invalid(key, v, r))?;
        Ok(Some(([d; 4], BTreeMap::new())))
    }
}

fn read_drg(s: &Section<'_>, base: &Path) -> Result<DrgPolicy, PolicyError> {
    let file = s.req_string("weights", "path of the DRG weights CSV (group,weight,...)")?;
    let weights_file = base.join(file);
    let weights = load_group_table(&weights_file, "group", "weight")?;
    let method = s.string("rate_method")?.unwrap_or("fixed");
    let rate_method = match method {
        "fixed" => RateMethod::Fixed,
        "floating" => RateMethod::Floating,
        "elastic" => {
            let share = s
                .decimal_in("elastic_fixed_share", ZERO, false, Some(ONE))?
                .ok_or_else(|| {
                    s.missing(
                        "elastic_fixed_share",
                        "the fixed rate's share (0..1) for rate_method = \"elastic\"",
                    )
                })?;
            RateMethod::Elastic { fixed_share: share }
        }
        _ => {
            return Err(s.invalid(
                "rate_method",
                &Value::String(method.to_owned()),
                "expected \"fixed\", \"floating\" or \"elastic\"",
            ));
        }
    };
    if !matches!(rate_method, RateMethod::Elastic { .. }) && s.raw("elastic_fixed_share").is_some()
    {
        return Err(s.invalid(
            "elastic_fixed_share",
            s.raw("elastic_fixed_share").expect("present"),
            "only allowed with rate_method = \"elastic\"",
        ));
    }
    let base_rate = per_insurance(s, "base_rate", ZERO, true, None)?.ok_or_else(|| {
        s.missing(
            "base_rate",
            "yuan per weight unit, e.g. base_rate = { employee = 12000, resident = 10000 }",
        )
    })?;
    s.finish()?;
    Ok(DrgPolicy {
        weights,
        weights_file,
        rate_method,
        base_rate,
    })
}

fn read_dip(s: &Section<'_>, base: &Path) -> Result<DipPolicy, PolicyError> {
    let method = s.string("point_value_method")?.unwrap_or("fixed");
    let point_value_method = match method {
        "fixed" => PointValueMethod::Fixed,
        "settlement" => PointValueMethod::Settlement,
        _ => {
            return Err(s.invalid(
                "point_value_method",
                &Value::String(method.to_owned()),
                "expected \"fixed\" or \"settlement\"",
            ));
        }
    };
    let point_value = per_insurance(s, "point_value", ZERO, true, None)?.ok_or_else(|| {
        s.missing(
            "point_value",
            "yuan per point (fixed, or provisional for settlement)",
        )
    })?;
    let scores = match s.string("scores")? {
        Some(f) => Some(load_group_table(&base.join(f), "dip_code", "score")?),
        None => None,
    };
    let fund_budget = match s.raw("fund_budget") {
        None => DipBudget::Remainder,
        Some(Value::String(x)) if x == "remainder" => DipBudget::Remainder,
        Some(Value::Table(_)) => {
            DipBudget::PerType(per_insurance(s, "fund_budget", ZERO, true, None)?.expect("present"))
        }
        Some(v) => match decimal_of(v) {
            Some(d) if d > ZERO => DipBudget::Pooled(d),
            _ => {
                return Err(s.invalid(
                    "fund_budget",
                    v,
                    "expected \"remainder\", a positive amount, or { employee = .., resident = .. }",
                ));
            }
        },
    };
    s.finish()?;
    Ok(DipPolicy {
        point_value_method,
        point_value,
        scores,
        fund_budget,
    })
}

fn read_coefficients(s: &Section<'_>) -> Result<Coefficients, PolicyError> {
    let (levels, _) = per_level(s, "levels", ZERO, true, None, &[])?.ok_or_else(|| {
        s.missing(
            "levels",
            "a coefficient per level { \"3\" = .., \"2\" = .., \"1\" = .., \"0\" = .. }",
        )
    })?;
    let mut hospitals = BTreeMap::new();
    if let Some(h) = s.table("hospitals")? {
        for id in h.keys() {
            let d = h.decimal_in(id, ZERO, true, None)?.expect("key exists");
            hospitals.insert(id.to_owned(), d);
        }
        h.finish()?;
    }
    s.finish()?;
    Ok(Coefficients { levels, hospitals })
}

fn read_primary_care(
    s: &Section<'_>,
    drg: Option<&DrgPolicy>,
    dip: Option<&DipPolicy>,
    base: &Path,
) -> Result<PrimaryCare, PolicyError> {
    let coefficient = s
        .decimal_in("coefficient", ZERO, true, None)?
        .unwrap_or(ONE);
    let mut drg_set = BTreeSet::new();
    // `drg_file`: a CSV of primary-care DRGs (e.g. CHS-DRG 3.0's primary-groups.csv).
    let listed: Vec<(String, String)> = match s.string("drg_file")? {
        None => Vec::new(),
        Some(file) => {
            let path = base.join(file);
            load_code_column(&path, "drg")?
                .into_iter()
                .map(|(line, code)| (format!("{} line {line}", path.display()), code))
                .collect()
        }
    };
    let inline = s.strings("drg")?.unwrap_or_default();
    let keyed = inline
        .into_iter()
        .enumerate()
        .map(|(i, code)| (format!("{}[{i}]", s.key("drg")), code));
    for (key, code) in keyed.chain(listed) {
        let code = code.trim().to_ascii_uppercase();
        if let Some(d) = drg
            && !d.weights.contains_key(&code)
        {
            return Err(PolicyError::Invalid {
                key,
                value: format!("\"{code}\""),
                reason: format!("DRG not in the weights file {}", d.weights_file.display()),
            });
        }
        drg_set.insert(code);
    }
    let mut dip_set = BTreeSet::new();
    for (i, code) in s
        .strings("dip")?
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        let code = code.trim().to_owned();
        if let Some(scores) = dip.and_then(|d| d.scores.as_ref())
            && !scores.contains_key(&code)
        {
            return Err(PolicyError::Invalid {
                key: format!("{}[{i}]", s.key("dip")),
                value: format!("\"{code}\""),
                reason: "DIP type not in the scores file".into(),
            });
        }
        dip_set.insert(code);
    }
    s.finish()?;
    Ok(PrimaryCare {
        coefficient,
        drg: drg_set,
        dip: dip_set,
    })
}

fn read_outlier_pay(s: &Section<'_>) -> Result<OutlierPay, PolicyError> {
    Ok(OutlierPay {
        high_share: s
            .decimal_in("high_pay_share", ZERO, false, Some(ONE))?
            .unwrap_or(ONE),
        low_share: s
            .decimal_in("low_pay_share", ZERO, false, Some(ONE))?
            .unwrap_or(ONE),
    })
}

fn read_outliers(s: &Section<'_>) -> Result<Outliers, PolicyError> {
    let drg = match s.table("drg")? {
        None => DrgOutlierRule::None,
        Some(d) => {
            let rule = d.req_string(
                "rule",
                "\"none\", \"ratio-by-level\" or \"ratio-by-weight\"",
            )?;
            let r = match rule {
                "none" => DrgOutlierRule::None,
                "ratio-by-level" => {
                    let (high, extra) =
                        per_level(&d, "high_ratio", ONE, true, None, &["primary_care"])?
                            .ok_or_else(|| {
                                d.missing("high_ratio", "thresholds per level, each > 1")
                            })?;
                    let low = d
                        .decimal_in("low_ratio", ZERO, false, Some(ONE))?
                        .unwrap_or(ZERO);
                    DrgOutlierRule::RatioByLevel {
                        high,
                        high_primary_care: extra
                            .get("primary_care")
                            .copied()
                            .unwrap_or(high[HospitalLevel::PrimaryCare.index()]),
                        low,
                        pay: read_outlier_pay(&d)?,
                    }
                }
                "ratio-by-weight" => {
                    let bands = read_weight_bands(&d)?;
                    let low = d
                        .decimal_in("low_ratio", ZERO, false, Some(ONE))?
                        .unwrap_or(ZERO);
                    DrgOutlierRule::RatioByWeight {
                        bands,
                        low,
                        pay: read_outlier_pay(&d)?,
                    }
                }
                other => {
                    return Err(d.invalid(
                        "rule",
                        &Value::String(other.to_owned()),
                        "expected \"none\", \"ratio-by-level\" or \"ratio-by-weight\"",
                    ));
                }
            };
            d.finish()?;
            r
        }
    };
    let dip = match s.table("dip")? {
        None => DipOutlierRule::None,
        Some(d) => {
            let rule = d.req_string("rule", "\"none\" or \"low-high-review\"")?;
            let r = match rule {
                "none" => DipOutlierRule::None,
                "low-high-review" => {
                    let low = d
                        .decimal_in("low_threshold", ZERO, false, Some(ONE))?
                        .unwrap_or(Decimal::new(5, 1));
                    let high = d
                        .decimal_in("high_threshold", ONE, true, None)?
                        .unwrap_or(Decimal::TWO);
                    let review = d
                        .decimal_in("review_threshold", high, true, None)?
                        .unwrap_or(Decimal::new(5, 0).max(high + ONE));
                    let max_factor = d.decimal_in("max_factor", ONE, false, None)?;
                    DipOutlierRule::LowHighReview {
                        low,
                        high,
                        review,
                        max_factor,
                    }
                }
                other => {
                    return Err(d.invalid(
                        "rule",
                        &Value::String(other.to_owned()),
                        "expected \"none\" or \"low-high-review\"",
                    ));
                }
            };
            d.finish()?;
            r
        }
    };
    let ungrouped = read_ungrouped(s, "ungrouped")?;
    let ambiguous = read_ungrouped(s, "ambiguous")?;
    let special_review = match s.table("special_review")? {
        None => SpecialReview {
            drg_quota: ZERO,
            dip_quota: ZERO,
        },
        Some(r) => {
            let sr = SpecialReview {
                drg_quota: r
                    .decimal_in("drg_quota", ZERO, false, Some(ONE))?
                    .unwrap_or(ZERO),
                dip_quota: r
                    .decimal_in("dip_quota", ZERO, false, Some(ONE))?
                    .unwrap_or(ZERO),
            };
            r.finish()?;
            sr
        }
    };
    s.finish()?;
    Ok(Outliers {
        drg,
        dip,
        ungrouped,
        ambiguous,
        special_review,
    })
}

fn read_weight_bands(d: &Section<'_>) -> Result<Vec<(Decimal, Decimal)>, PolicyError> {
    let key = "weight_bands";
    let Some(v) = d.raw(key) else {
        return Err(d.missing(
            key,
            "an array of { min_weight = .., high_ratio = .. } for rule = \"ratio-by-weight\"",
        ));
    };
    let Value::Array(items) = v else {
        return Err(d.invalid(key, v, "expected an array of tables"));
    };
    let mut bands = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("{}[{i}]", d.key(key));
        let Value::Table(t) = item else {
            return Err(PolicyError::Invalid {
                key: path,
                value: show(item),
                reason: "expected a table { min_weight = .., high_ratio = .. }".into(),
            });
        };
        let b = Section::new(&path, t);
        let min_weight = b
            .decimal_in("min_weight", ZERO, false, None)?
            .ok_or_else(|| b.missing("min_weight", "the lowest weight of the band"))?;
        let ratio = b
            .decimal_in("high_ratio", ONE, true, None)?
            .ok_or_else(|| b.missing("high_ratio", "the band's high-ratio threshold (> 1)"))?;
        b.finish()?;
        bands.push((min_weight, ratio));
    }
    bands.sort_by_key(|b| std::cmp::Reverse(b.0));
    for w in bands.windows(2) {
        if w[0].0 == w[1].0 {
            return Err(d.invalid(key, v, format!("two bands start at weight {}", w[0].0)));
        }
    }
    if bands.last().is_none_or(|b| !b.0.is_zero()) {
        return Err(d.invalid(
            key,
            v,
            "the bands must cover every weight: one band needs min_weight = 0",
        ));
    }
    Ok(bands)
}

fn read_ungrouped(s: &Section<'_>, key: &str) -> Result<UngroupedRule, PolicyError> {
    let Some(u) = s.table(key)? else {
        return Ok(UngroupedRule::Reject);
    };
    let rule = u.req_string("rule", "\"cost-share\" or \"reject\"")?;
    let r = match rule {
        "reject" => UngroupedRule::Reject,
        "cost-share" => UngroupedRule::CostShare {
            factor: u
                .decimal_in("factor", ZERO, true, Some(ONE))?
                .ok_or_else(|| u.missing("factor", "share of cost paid, e.g. 0.7"))?,
        },
        other => {
            return Err(u.invalid(
                "rule",
                &Value::String(other.to_owned()),
                "expected \"cost-share\" or \"reject\"",
            ));
        }
    };
    u.finish()?;
    Ok(r)
}

/// Reads the code column `column` (or `group`, `code`) of a CSV file with a header:
/// (line, code) per row; an empty code is an error naming its line.
fn load_code_column(path: &Path, column: &str) -> Result<Vec<(u64, String)>, PolicyError> {
    let file = std::fs::File::open(path).map_err(|source| PolicyError::Io {
        path: path.to_owned(),
        source,
    })?;
    let err = |line: u64, message: String| PolicyError::Table {
        path: path.to_owned(),
        line,
        field: column.to_owned(),
        message,
    };
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(file);
    let headers = rdr.headers().map_err(|e| err(1, e.to_string()))?.clone();
    let idx = headers
        .iter()
        .position(|h| {
            let h = h.trim_start_matches('\u{feff}').trim();
            [column, "group", "code"]
                .iter()
                .any(|n| h.eq_ignore_ascii_case(n))
        })
        .ok_or_else(|| err(1, format!("no `{column}` column")))?;
    let mut out = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| err(e.position().map_or(0, |p| p.line()), e.to_string()))?;
        let line = rec.position().map_or(0, |p| p.line());
        let code = rec.get(idx).unwrap_or("").trim();
        if code.is_empty() {
            return Err(err(line, "empty code".into()));
        }
        out.push((line, code.to_owned()));
    }
    Ok(out)
}

/// Loads a group statistics CSV: a header with `key_col` (code) and `value_col`
/// (weight or score), optionally `mean_cost`, `mean_los`, `cases`, `cv`; other columns
/// are ignored. The code column may also be called `group`, `drg`, `code` or `dip_code`.
pub fn load_group_table(
    path: &Path,
    key_col: &str,
    value_col: &str,
) -> Result<BTreeMap<String, GroupStats>, PolicyError> {
    let file = std::fs::File::open(path).map_err(|source| PolicyError::Io {
        path: path.to_owned(),
        source,
    })?;
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(file);
    let table_err = |line: u64, field: &str, message: String| PolicyError::Table {
        path: path.to_owned(),
        line,
        field: field.to_owned(),
        message,
    };
    let headers = rdr
        .headers()
        .map_err(|e| table_err(1, "header", e.to_string()))?
        .clone();
    let find = |names: &[&str]| {
        headers.iter().position(|h| {
            let h = h.trim_start_matches('\u{feff}').trim();
            names.iter().any(|n| h.eq_ignore_ascii_case(n))
        })
    };
    let key_idx = find(&[key_col, "group", "drg", "code", "dip_code"])
        .ok_or_else(|| table_err(1, key_col, format!("no `{key_col}` column")))?;
    let val_idx = find(&[value_col, "weight", "score", "rw"])
        .ok_or_else(|| table_err(1, value_col, format!("no `{value_col}` column")))?;
    let cost_idx = find(&["mean_cost"]);
    let los_idx = find(&["mean_los"]);
    let cases_idx = find(&["cases"]);
    let cv_idx = find(&["cv"]);
    let mut out = BTreeMap::new();
    let mut rec = csv::StringRecord::new();
    let mut line = 1u64;
    loop {
        match rdr.read_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(table_err(line + 1, "row", e.to_string())),
        }
        line = rec.position().map_or(line + 1, |p| p.line());
        let code = rec.get(key_idx).unwrap_or("").trim();
        if code.is_empty() {
            return Err(table_err(line, key_col, "empty code".into()));
        }
        let code = if key_col == "group" {
            code.to_ascii_uppercase()
        } else {
            code.to_owned()
        };
        let num = |idx: Option<usize>, name: &str| -> Result<Option<Decimal>, PolicyError> {
            let Some(i) = idx else { return Ok(None) };
            let raw = rec.get(i).unwrap_or("").trim();
            if raw.is_empty() {
                return Ok(None);
            }
            crate::money::plain_decimal(raw)
                .map(Some)
                .ok_or_else(|| table_err(line, name, format!("`{raw}` is not a number")))
        };
        let weight = num(Some(val_idx), value_col)?
            .ok_or_else(|| table_err(line, value_col, "empty".into()))?;
        if weight <= ZERO {
            return Err(table_err(
                line,
                value_col,
                format!("{weight} must be positive"),
            ));
        }
        let cases = match cases_idx.map(|i| rec.get(i).unwrap_or("").trim()) {
            None | Some("") => None,
            Some(raw) => Some(
                raw.parse::<u64>()
                    .map_err(|_| table_err(line, "cases", format!("`{raw}` is not a count")))?,
            ),
        };
        let stats = GroupStats {
            weight,
            mean_cost: num(cost_idx, "mean_cost")?,
            mean_los: num(los_idx, "mean_los")?,
            cases,
            cv: num(cv_idx, "cv")?,
        };
        if out.insert(code.clone(), stats).is_some() {
            return Err(table_err(line, key_col, format!("`{code}` appears twice")));
        }
    }
    if out.is_empty() {
        return Err(table_err(1, key_col, "the file lists no groups".into()));
    }
    Ok(out)
}

/// Convenience for tests and tools: the pricing policy from TOML text, with relative
/// paths resolved against `base`.
pub fn pricing_from_str(text: &str, base: &Path) -> Result<PricingPolicy, PolicyError> {
    let table = parse_policy_table(text, &base.join("<policy>"))?;
    PricingPolicy::from_table(&table, base)
}
