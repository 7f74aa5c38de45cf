//! The predicate language of a scheme's rules, exactly as `scheme.json` writes it.
//!
//! Every rule is a JSON object with an `op` field; see `docs/scheme-format.md` for the
//! meaning of each op. This module only describes rules; [`crate::Grouper`] compiles
//! them into an arena of nodes over interned code ids.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One rule of the predicate language (`{"op": ...}` in `scheme.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
#[allow(missing_docs)] // the variants are the ops of docs/scheme-format.md, one for one
// Ops without arguments are written `{}` so that `deny_unknown_fields` rejects stray keys.
pub enum Rule {
    True {},
    False {},
    And { args: Vec<Rule> },
    Or { args: Vec<Rule> },
    Not { arg: Box<Rule> },
    PrincipalDxIn { list: String },
    AnyDxIn { list: String },
    SecondaryDxIn { list: String },
    PrincipalProcIn { list: String },
    AnyProcIn { list: String },
    SecondaryProcIn { list: String },
    HasProcedure {},
    ProcGroupPresent { list: String, group: String },
    SexEq { value: u8 },
    AgeYearsEq { value: i64 },
    AgeYearsLt { value: i64 },
    AgeYearsLe { value: i64 },
    AgeYearsGt { value: i64 },
    AgeYearsGe { value: i64 },
    AgeDaysPresent {},
    AgeDaysLt { value: i64 },
    AgeDaysLe { value: i64 },
    AgeDaysGt { value: i64 },
    AgeDaysGe { value: i64 },
    AgeDaysEq { value: i64 },
    WeightPresent {},
    WeightLt { value: i64 },
    WeightLe { value: i64 },
    WeightGt { value: i64 },
    WeightGe { value: i64 },
    WeightEq { value: i64 },
    LosLt { value: i64 },
    LosLe { value: i64 },
    LosGt { value: i64 },
    LosGe { value: i64 },
    LosEq { value: i64 },
    DxCountLt { value: i64 },
    DxCountLe { value: i64 },
    DxCountGt { value: i64 },
    DxCountGe { value: i64 },
    DxCountEq { value: i64 },
    ProcCountLt { value: i64 },
    ProcCountLe { value: i64 },
    ProcCountGt { value: i64 },
    ProcCountGe { value: i64 },
    ProcCountEq { value: i64 },
    DeptIn { values: Vec<String> },
    DischargeWayIn { values: Vec<String> },
    TraumaSitesMin { table: String, min: u32 },
    DistinctDxInMin { list: String, min: u32 },
    DistinctProcInMin { list: String, min: u32 },
    HasMcc {},
    HasCc {},
}

/// Which codes of a case a list test looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CodeSet {
    /// `dx[0]`.
    PrincipalDx,
    /// Every diagnosis, the principal included.
    AnyDx,
    /// `dx[1:]`.
    SecondaryDx,
    /// `px[0]` (false when there is no procedure).
    PrincipalProc,
    /// Every procedure.
    AnyProc,
    /// `px[1:]`.
    SecondaryProc,
}

impl CodeSet {
    /// True for the three diagnosis sets.
    pub fn is_dx(self) -> bool {
        matches!(self, Self::PrincipalDx | Self::AnyDx | Self::SecondaryDx)
    }
}

/// A numeric case field compared by a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Field {
    /// Age in whole years.
    Age,
    /// Age in days.
    AgeDays,
    /// Birth weight in grams.
    Weight,
    /// Length of stay in days.
    Los,
    /// Number of diagnoses.
    DxCount,
    /// Number of procedures.
    ProcCount,
}

impl Field {
    /// The name used in op names and explanations.
    pub fn name(self) -> &'static str {
        match self {
            Self::Age => "age_years",
            Self::AgeDays => "age_days",
            Self::Weight => "weight",
            Self::Los => "los",
            Self::DxCount => "dx_count",
            Self::ProcCount => "proc_count",
        }
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Cmp {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==`
    Eq,
}

impl Cmp {
    /// Applies the comparison `lhs <op> rhs`.
    #[inline]
    pub fn apply(self, lhs: i64, rhs: i64) -> bool {
        match self {
            Self::Lt => lhs < rhs,
            Self::Le => lhs <= rhs,
            Self::Gt => lhs > rhs,
            Self::Ge => lhs >= rhs,
            Self::Eq => lhs == rhs,
        }
    }

    /// The operator's symbol.
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Eq => "==",
        }
    }
}

/// A rule seen through its shape: what every op reduces to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape<'a> {
    /// A constant.
    Const(bool),
    /// All of the arguments.
    And(&'a [Rule]),
    /// Any of the arguments.
    Or(&'a [Rule]),
    /// The negation.
    Not(&'a Rule),
    /// A code of `set` is in `list`.
    InList(CodeSet, &'a str),
    /// The case has a procedure.
    HasProcedure,
    /// A procedure has `group` in the grouped list.
    ProcGroup(&'a str, &'a str),
    /// `sex == value`.
    SexEq(u8),
    /// A field is present (age in days, weight).
    Present(Field),
    /// A numeric comparison.
    Compare(Field, Cmp, i64),
    /// The department is one of the values.
    DeptIn(&'a [String]),
    /// The discharge way is one of the values.
    DischargeWayIn(&'a [String]),
    /// Trauma sites.
    TraumaSitesMin(&'a str, u32),
    /// At least `min` distinct codes of `set` (`AnyDx` or `AnyProc`) are in the list.
    DistinctMin(CodeSet, &'a str, u32),
    /// An unexcluded MCC.
    HasMcc,
    /// An unexcluded CC.
    HasCc,
}

impl Rule {
    /// The rule reduced to its shape, so that code walking rules handles a few cases
    /// instead of one per op.
    pub fn shape(&self) -> Shape<'_> {
        use Cmp::*;
        use Field::*;
        use Rule as R;
        match self {
            R::True {} => Shape::Const(true),
            R::False {} => Shape::Const(false),
            R::And { args } => Shape::And(args),
            R::Or { args } => Shape::Or(args),
            R::Not { arg } => Shape::Not(arg),
            R::PrincipalDxIn { list } => Shape::InList(CodeSet::PrincipalDx, list),
            R::AnyDxIn { list } => Shape::InList(CodeSet::AnyDx, list),
            R::SecondaryDxIn { list } => Shape::InList(CodeSet::SecondaryDx, list),
            R::PrincipalProcIn { list } => Shape::InList(CodeSet::PrincipalProc, list),
            R::AnyProcIn { list } => Shape::InList(CodeSet::AnyProc, list),
            R::SecondaryProcIn { list } => Shape::InList(CodeSet::SecondaryProc, list),
            R::HasProcedure {} => Shape::HasProcedure,
            R::ProcGroupPresent { list, group } => Shape::ProcGroup(list, group),
            R::SexEq { value } => Shape::SexEq(*value),
            R::AgeYearsEq { value } => Shape::Compare(Age, Eq, *value),
            R::AgeYearsLt { value } => Shape::Compare(Age, Lt, *value),
            R::AgeYearsLe { value } => Shape::Compare(Age, Le, *value),
            R::AgeYearsGt { value } => Shape::Compare(Age, Gt, *value),
            R::AgeYearsGe { value } => Shape::Compare(Age, Ge, *value),
            R::AgeDaysPresent {} => Shape::Present(AgeDays),
            R::AgeDaysLt { value } => Shape::Compare(AgeDays, Lt, *value),
            R::AgeDaysLe { value } => Shape::Compare(AgeDays, Le, *value),
            R::AgeDaysGt { value } => Shape::Compare(AgeDays, Gt, *value),
            R::AgeDaysGe { value } => Shape::Compare(AgeDays, Ge, *value),
            R::AgeDaysEq { value } => Shape::Compare(AgeDays, Eq, *value),
            R::WeightPresent {} => Shape::Present(Weight),
            R::WeightLt { value } => Shape::Compare(Weight, Lt, *value),
            R::WeightLe { value } => Shape::Compare(Weight, Le, *value),
            R::WeightGt { value } => Shape::Compare(Weight, Gt, *value),
            R::WeightGe { value } => Shape::Compare(Weight, Ge, *value),
            R::WeightEq { value } => Shape::Compare(Weight, Eq, *value),
            R::LosLt { value } => Shape::Compare(Los, Lt, *value),
            R::LosLe { value } => Shape::Compare(Los, Le, *value),
            R::LosGt { value } => Shape::Compare(Los, Gt, *value),
            R::LosGe { value } => Shape::Compare(Los, Ge, *value),
            R::LosEq { value } => Shape::Compare(Los, Eq, *value),
            R::DxCountLt { value } => Shape::Compare(DxCount, Lt, *value),
            R::DxCountLe { value } => Shape::Compare(DxCount, Le, *value),
            R::DxCountGt { value } => Shape::Compare(DxCount, Gt, *value),
            R::DxCountGe { value } => Shape::Compare(DxCount, Ge, *value),
            R::DxCountEq { value } => Shape::Compare(DxCount, Eq, *value),
            R::ProcCountLt { value } => Shape::Compare(ProcCount, Lt, *value),
            R::ProcCountLe { value } => Shape::Compare(ProcCount, Le, *value),
            R::ProcCountGt { value } => Shape::Compare(ProcCount, Gt, *value),
            R::ProcCountGe { value } => Shape::Compare(ProcCount, Ge, *value),
            R::ProcCountEq { value } => Shape::Compare(ProcCount, Eq, *value),
            R::DeptIn { values } => Shape::DeptIn(values),
            R::DischargeWayIn { values } => Shape::DischargeWayIn(values),
            R::TraumaSitesMin { table, min } => Shape::TraumaSitesMin(table, *min),
            R::DistinctDxInMin { list, min } => Shape::DistinctMin(CodeSet::AnyDx, list, *min),
            R::DistinctProcInMin { list, min } => Shape::DistinctMin(CodeSet::AnyProc, list, *min),
            R::HasMcc {} => Shape::HasMcc,
            R::HasCc {} => Shape::HasCc,
        }
    }

    /// The comparison op of `field`, e.g. `(Age, Ge, 70)` → `age_years_ge`.
    pub fn compare(field: Field, cmp: Cmp, value: i64) -> Rule {
        use Cmp::*;
        use Field::*;
        use Rule as R;
        match (field, cmp) {
            (Age, Lt) => R::AgeYearsLt { value },
            (Age, Le) => R::AgeYearsLe { value },
            (Age, Gt) => R::AgeYearsGt { value },
            (Age, Ge) => R::AgeYearsGe { value },
            (Age, Eq) => R::AgeYearsEq { value },
            (AgeDays, Lt) => R::AgeDaysLt { value },
            (AgeDays, Le) => R::AgeDaysLe { value },
            (AgeDays, Gt) => R::AgeDaysGt { value },
            (AgeDays, Ge) => R::AgeDaysGe { value },
            (AgeDays, Eq) => R::AgeDaysEq { value },
            (Weight, Lt) => R::WeightLt { value },
            (Weight, Le) => R::WeightLe { value },
            (Weight, Gt) => R::WeightGt { value },
            (Weight, Ge) => R::WeightGe { value },
            (Weight, Eq) => R::WeightEq { value },
            (Los, Lt) => R::LosLt { value },
            (Los, Le) => R::LosLe { value },
            (Los, Gt) => R::LosGt { value },
            (Los, Ge) => R::LosGe { value },
            (Los, Eq) => R::LosEq { value },
            (DxCount, Lt) => R::DxCountLt { value },
            (DxCount, Le) => R::DxCountLe { value },
            (DxCount, Gt) => R::DxCountGt { value },
            (DxCount, Ge) => R::DxCountGe { value },
            (DxCount, Eq) => R::DxCountEq { value },
            (ProcCount, Lt) => R::ProcCountLt { value },
            (ProcCount, Le) => R::ProcCountLe { value },
            (ProcCount, Gt) => R::ProcCountGt { value },
            (ProcCount, Ge) => R::ProcCountGe { value },
            (ProcCount, Eq) => R::ProcCountEq { value },
        }
    }

    /// Calls `f` on this rule and every rule inside it, depth first.
    pub fn visit<'a>(&'a self, f: &mut impl FnMut(&'a Rule)) {
        f(self);
        match self.shape() {
            Shape::And(args) | Shape::Or(args) => args.iter().for_each(|r| r.visit(f)),
            Shape::Not(arg) => arg.visit(f),
            _ => {}
        }
    }
}

impl fmt::Display for Rule {
    /// A compact rendering such as `(principal_dx_in[BR2:dx] & has_mcc)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |f: &mut fmt::Formatter<'_>, args: &[Rule], sep: &str| {
            f.write_str("(")?;
            for (i, a) in args.iter().enumerate() {
                if i > 0 {
                    f.write_str(sep)?;
                }
                write!(f, "{a}")?;
            }
            f.write_str(")")
        };
        match self.shape() {
            Shape::Const(b) => write!(f, "{b}"),
            Shape::And(args) => join(f, args, " & "),
            Shape::Or(args) => join(f, args, " | "),
            Shape::Not(arg) => write!(f, "!{arg}"),
            Shape::InList(set, list) => {
                let op = match set {
                    CodeSet::PrincipalDx => "principal_dx_in",
                    CodeSet::AnyDx => "any_dx_in",
                    CodeSet::SecondaryDx => "secondary_dx_in",
                    CodeSet::PrincipalProc => "principal_proc_in",
                    CodeSet::AnyProc => "any_proc_in",
                    CodeSet::SecondaryProc => "secondary_proc_in",
                };
                write!(f, "{op}[{list}]")
            }
            Shape::HasProcedure => f.write_str("has_procedure"),
            Shape::ProcGroup(list, group) => write!(f, "proc_group_present[{list}#{group}]"),
            Shape::SexEq(v) => write!(f, "sex == {v}"),
            Shape::Present(field) => write!(f, "{}_present", field.name()),
            Shape::Compare(field, cmp, v) => write!(f, "{} {} {v}", field.name(), cmp.symbol()),
            Shape::DeptIn(values) => write!(f, "dept in {values:?}"),
            Shape::DischargeWayIn(values) => write!(f, "discharge_way in {values:?}"),
            Shape::TraumaSitesMin(table, min) => write!(f, "trauma_sites[{table}] >= {min}"),
            Shape::DistinctMin(set, list, min) => {
                let what = if set.is_dx() { "dx" } else { "proc" };
                write!(f, "distinct_{what}_in[{list}] >= {min}")
            }
            Shape::HasMcc => f.write_str("has_mcc"),
            Shape::HasCc => f.write_str("has_cc"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_shape_of_the_format() {
        let json = r#"{"op":"and","args":[
            {"op":"principal_dx_in","list":"A:dx"},
            {"op":"or","args":[{"op":"proc_group_present","list":"A:proc","group":"1"},{"op":"has_mcc"}]},
            {"op":"not","arg":{"op":"los_lt","value":5}},
            {"op":"discharge_way_in","values":["2","5"]},
            {"op":"trauma_sites_min","table":"MDCZ:pdx","min":2}]}"#;
        let rule: Rule = serde_json::from_str(json).unwrap();
        assert_eq!(
            rule.to_string(),
            "(principal_dx_in[A:dx] & (proc_group_present[A:proc#1] | has_mcc) & !los < 5 \
             & discharge_way in [\"2\", \"5\"] & trauma_sites[MDCZ:pdx] >= 2)"
        );
        let mut count = 0;
        rule.visit(&mut |_| count += 1);
        assert_eq!(count, 9);
    }

    #[test]
    fn rejects_unknown_ops_and_fields() {
        assert!(serde_json::from_str::<Rule>(r#"{"op":"principal_dx"}"#).is_err());
        assert!(serde_json::from_str::<Rule>(r#"{"op":"has_mcc","list":"x"}"#).is_err());
        assert!(serde_json::from_str::<Rule>(r#"{"op":"los_lt"}"#).is_err());
    }
}
