//! The small languages of a catalogue row: diagnosis specs (`I63.9`, `I63`, `A00-A99`,
//! exact codes), procedure specs (`a+b|c`, empty, `*`), procedure attributes and numeric
//! ranges (`96-`, `-28`, `1000-1499`).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A diagnosis code reduced to its matching key: trimmed, ASCII upper-case, dots removed
/// (`i63.900` → `I63900`).
pub fn dx_key(code: &str) -> String {
    code.trim()
        .chars()
        .filter(|&c| c != '.')
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// A procedure code as the catalogue compares it: trimmed, ASCII upper-case (dots kept).
pub fn px_key(code: &str) -> String {
    code.trim().to_ascii_uppercase()
}

/// Whether a key is an ICD-10 category: an ASCII upper-case letter and two digits
/// (`I63`). Ranges cover only codes whose first three characters are one.
pub fn is_category(key: &str) -> bool {
    matches!(key.as_bytes(), [l, a, b] if l.is_ascii_uppercase() && a.is_ascii_digit() && b.is_ascii_digit())
}

/// How a principal (or any) diagnosis is matched.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum DxSpec {
    /// A whole code (key longer than 4 characters): the code itself only.
    Exact(String),
    /// A 4-character 亚目 (`I63.9`): every code whose key starts with it.
    Sub(String),
    /// A 3-character category (`I63`): every code whose key starts with it.
    Cat(String),
    /// A range of categories (`A00-A99`), both ends included.
    Range(String, String),
}

impl DxSpec {
    /// Parses one spec; the error says what is wrong.
    pub fn parse(text: &str) -> Result<DxSpec, String> {
        let t = text.trim();
        if t.is_empty() {
            return Err("empty diagnosis spec".into());
        }
        let check = |k: &str| -> Result<(), String> {
            if let Some(c) = k.chars().find(|c| !c.is_ascii_alphanumeric()) {
                return Err(format!(
                    "`{t}`: character `{c}` is not allowed in a diagnosis code (letters, digits and dots only)"
                ));
            }
            Ok(())
        };
        if let Some((lo, hi)) = t.split_once('-') {
            let (lo, hi) = (dx_key(lo), dx_key(hi));
            check(&lo)?;
            check(&hi)?;
            if !is_category(&lo) || !is_category(&hi) {
                return Err(format!(
                    "range `{t}`: both ends must be categories (a letter and two digits) such as `A00-A99`"
                ));
            }
            if lo > hi {
                return Err(format!("range `{t}`: the start is after the end"));
            }
            return Ok(DxSpec::Range(lo, hi));
        }
        let k = dx_key(t);
        // A whole code may be a dagger/asterisk pair (`M47.001+G99.2*`).
        if k.len() > 4 && k.as_bytes()[0].is_ascii_uppercase() {
            let pair: String = k.chars().filter(|c| !matches!(c, '+' | '*')).collect();
            check(&pair)?;
            return Ok(DxSpec::Exact(k));
        }
        check(&k)?;
        match k.len() {
            0..=2 => Err(format!(
                "`{t}`: a diagnosis spec needs at least the 3-character category"
            )),
            3 => Ok(DxSpec::Cat(k)),
            4 => Ok(DxSpec::Sub(k)),
            _ => Ok(DxSpec::Exact(k)),
        }
    }

    /// Parses `|`-separated specs (at least one).
    pub fn parse_list(text: &str) -> Result<Vec<DxSpec>, String> {
        let mut out: Vec<DxSpec> = text
            .split('|')
            .map(DxSpec::parse)
            .collect::<Result<_, _>>()?;
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// How specific the spec is: exact 3, 亚目 2, category 1, range 0.
    pub fn level(&self) -> u8 {
        match self {
            DxSpec::Exact(_) => 3,
            DxSpec::Sub(_) => 2,
            DxSpec::Cat(_) => 1,
            DxSpec::Range(..) => 0,
        }
    }

    /// Whether a diagnosis key (see [`dx_key`]) is covered.
    pub fn matches(&self, key: &str) -> bool {
        match self {
            DxSpec::Exact(e) => key == e,
            DxSpec::Sub(s) => key.starts_with(s.as_str()),
            DxSpec::Cat(c) => key.starts_with(c.as_str()),
            DxSpec::Range(lo, hi) => {
                key.len() >= 3 && key.is_char_boundary(3) && {
                    let c = &key[..3];
                    is_category(c) && lo.as_str() <= c && c <= hi.as_str()
                }
            }
        }
    }

    /// Whether some code is covered by both specs of the same level.
    pub fn overlaps(&self, other: &DxSpec) -> bool {
        match (self, other) {
            (DxSpec::Range(a, b), DxSpec::Range(c, d)) => a <= d && c <= b,
            (a, b) => a == b,
        }
    }

    /// The keys a compiled catalogue interns for this spec (ranges intern nothing).
    pub fn key(&self) -> Option<&str> {
        match self {
            DxSpec::Exact(k) | DxSpec::Sub(k) | DxSpec::Cat(k) => Some(k),
            DxSpec::Range(..) => None,
        }
    }
}

impl fmt::Display for DxSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DxSpec::Exact(k) | DxSpec::Sub(k) | DxSpec::Cat(k) => f.write_str(k),
            DxSpec::Range(a, b) => write!(f, "{a}-{b}"),
        }
    }
}

/// What a row asks of the case's procedures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProcSpec {
    /// `*`: no condition on procedures.
    Any,
    /// Empty: conservative treatment, the case has no (grouping) procedure.
    Conservative,
    /// `a+b|c`: alternatives, each a set of codes that must all be present.
    Alternatives(Vec<Vec<String>>),
}

impl ProcSpec {
    /// Parses a procedure spec; the error says what is wrong.
    pub fn parse(text: &str) -> Result<ProcSpec, String> {
        let t = text.trim();
        if t.is_empty() {
            return Ok(ProcSpec::Conservative);
        }
        if t == "*" {
            return Ok(ProcSpec::Any);
        }
        let mut alts = Vec::new();
        for alt in t.split('|') {
            let mut codes = Vec::new();
            for code in alt.split('+') {
                let c = px_key(code);
                if c.is_empty() {
                    return Err(format!(
                        "`{t}`: empty procedure code (write `a+b|c`: `+` joins codes done together, `|` separates alternatives)"
                    ));
                }
                if let Some(bad) = c
                    .chars()
                    .find(|ch| !(ch.is_ascii_alphanumeric() || *ch == '.'))
                {
                    return Err(format!(
                        "`{t}`: character `{bad}` is not allowed in a procedure code"
                    ));
                }
                if codes.contains(&c) {
                    return Err(format!("`{t}`: `{c}` appears twice in one alternative"));
                }
                codes.push(c);
            }
            alts.push(codes);
        }
        Ok(ProcSpec::Alternatives(alts))
    }
}

/// The attribute of a procedure (ordered from lowest to highest).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Attribute {
    /// No procedure (保守治疗).
    #[default]
    Conservative,
    /// Diagnostic procedure (诊断性操作).
    Diagnostic,
    /// Therapeutic procedure (治疗性操作).
    Therapeutic,
    /// Interventional procedure (介入治疗); counts as surgery in composite types.
    Interventional,
    /// Surgery (手术).
    Surgery,
}

impl Attribute {
    /// All attributes, lowest first.
    pub const ALL: [Attribute; 5] = [
        Attribute::Conservative,
        Attribute::Diagnostic,
        Attribute::Therapeutic,
        Attribute::Interventional,
        Attribute::Surgery,
    ];

    /// Parses the English or Chinese name.
    pub fn parse(text: &str) -> Result<Attribute, String> {
        Ok(match text.trim() {
            "surgery" | "手术" => Attribute::Surgery,
            "interventional" | "介入" | "介入治疗" => Attribute::Interventional,
            "therapeutic" | "治疗性操作" | "治疗" => Attribute::Therapeutic,
            "diagnostic" | "诊断性操作" | "诊断" => Attribute::Diagnostic,
            "conservative" | "保守" | "保守治疗" => Attribute::Conservative,
            other => {
                return Err(format!(
                    "`{other}` is not a procedure attribute (surgery, interventional, therapeutic, diagnostic, conservative)"
                ));
            }
        })
    }

    /// The English name.
    pub fn as_str(self) -> &'static str {
        match self {
            Attribute::Surgery => "surgery",
            Attribute::Interventional => "interventional",
            Attribute::Therapeutic => "therapeutic",
            Attribute::Diagnostic => "diagnostic",
            Attribute::Conservative => "conservative",
        }
    }

    /// The attribute a composite type is keyed by: interventional counts as surgery.
    pub fn composite(self) -> Attribute {
        match self {
            Attribute::Interventional => Attribute::Surgery,
            a => a,
        }
    }

    /// The suffix of a built composite type code (`I63-1` surgery … `I63-4` conservative).
    pub fn composite_suffix(self) -> u8 {
        match self.composite() {
            Attribute::Surgery | Attribute::Interventional => 1,
            Attribute::Therapeutic => 2,
            Attribute::Diagnostic => 3,
            Attribute::Conservative => 4,
        }
    }
}

/// An inclusive whole-number range; a missing value never satisfies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    /// Smallest value allowed.
    pub min: i64,
    /// Largest value allowed.
    pub max: i64,
}

impl Range {
    /// Everything.
    pub const ALL: Range = Range {
        min: i64::MIN,
        max: i64::MAX,
    };

    /// Parses `a-b`, `a-` (≥ a), `-b` (≤ b) or `a` (exactly a); empty is `None`.
    pub fn parse(text: &str) -> Result<Option<Range>, String> {
        let t = text.trim();
        if t.is_empty() {
            return Ok(None);
        }
        let num = |s: &str, dflt: i64| -> Result<i64, String> {
            let s = s.trim();
            if s.is_empty() {
                return Ok(dflt);
            }
            s.parse::<i64>().map_err(|_| {
                format!("`{t}`: `{s}` is not a whole number (write `a-b`, `a-`, `-b` or `a`)")
            })
        };
        let r = match t.split_once('-') {
            Some((a, b)) => Range {
                min: num(a, i64::MIN)?,
                max: num(b, i64::MAX)?,
            },
            None => {
                let v = num(t, 0)?;
                Range { min: v, max: v }
            }
        };
        if r.min > r.max {
            return Err(format!("`{t}`: the minimum is above the maximum"));
        }
        Ok(Some(r))
    }

    /// Whether a present value is inside.
    #[inline]
    pub fn holds(self, v: Option<i64>) -> bool {
        v.is_some_and(|v| self.min <= v && v <= self.max)
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.min, self.max) {
            (i64::MIN, i64::MAX) => f.write_str("any"),
            (a, i64::MAX) => write!(f, ">= {a}"),
            (i64::MIN, b) => write!(f, "<= {b}"),
            (a, b) if a == b => write!(f, "= {a}"),
            (a, b) => write!(f, "{a}..={b}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dx_specs() {
        assert_eq!(DxSpec::parse("I63.9"), Ok(DxSpec::Sub("I639".into())));
        assert_eq!(DxSpec::parse(" i63 "), Ok(DxSpec::Cat("I63".into())));
        assert_eq!(DxSpec::parse("I63.900"), Ok(DxSpec::Exact("I63900".into())));
        assert_eq!(
            DxSpec::parse("A00-A99"),
            Ok(DxSpec::Range("A00".into(), "A99".into()))
        );
        assert!(DxSpec::parse("A9").is_err());
        assert!(DxSpec::parse("B00-A99").unwrap_err().contains("after"));
        assert!(DxSpec::parse("A00.1-A99").is_err());
        assert!(DxSpec::parse("100-199").is_err());
        assert!(DxSpec::parse("A0X-A99").is_err());
        // A code whose first three characters are no category is in no range.
        assert!(!DxSpec::parse("A00-A99").unwrap().matches("A0X12"));
        assert!(DxSpec::parse("I6 3").is_err());
        let r = DxSpec::parse("I60-I69").unwrap();
        assert!(r.matches("I63900") && !r.matches("I70") && !r.matches("I5"));
        assert!(DxSpec::parse("I63.9").unwrap().matches("I63900"));
        assert!(!DxSpec::parse("I63.9").unwrap().matches("I63800"));
        assert!(r.overlaps(&DxSpec::parse("I69-J01").unwrap()));
        assert!(!r.overlaps(&DxSpec::parse("I70-J01").unwrap()));
    }

    #[test]
    fn proc_specs() {
        assert_eq!(ProcSpec::parse(""), Ok(ProcSpec::Conservative));
        assert_eq!(ProcSpec::parse("*"), Ok(ProcSpec::Any));
        assert_eq!(
            ProcSpec::parse("47.0100+54.5100|47.0901"),
            Ok(ProcSpec::Alternatives(vec![
                vec!["47.0100".into(), "54.5100".into()],
                vec!["47.0901".into()]
            ]))
        );
        assert!(ProcSpec::parse("a+|b").is_err());
        assert!(ProcSpec::parse("a||b").is_err());
        assert!(ProcSpec::parse("a+a").is_err());
        assert!(ProcSpec::parse("a;b").is_err());
    }

    #[test]
    fn ranges_and_attributes() {
        assert_eq!(Range::parse(""), Ok(None));
        assert_eq!(
            Range::parse("96-"),
            Ok(Some(Range {
                min: 96,
                max: i64::MAX
            }))
        );
        assert_eq!(
            Range::parse("-28"),
            Ok(Some(Range {
                min: i64::MIN,
                max: 28
            }))
        );
        assert_eq!(Range::parse("5"), Ok(Some(Range { min: 5, max: 5 })));
        assert!(Range::parse("9-1").is_err());
        assert!(Range::parse("x-1").is_err());
        assert!(!Range::ALL.holds(None));
        assert_eq!(Attribute::parse("介入"), Ok(Attribute::Interventional));
        assert_eq!(Attribute::Interventional.composite(), Attribute::Surgery);
        assert!(Attribute::Surgery > Attribute::Interventional);
        assert!(Attribute::parse("magic").is_err());
    }
}
