//! A small checked reader over a parsed TOML table: every value read is checked, every
//! error names the full key (`benefits.inpatient.employee.ratio`) and the offending
//! value, and keys nobody read are reported as unknown.

use std::cell::RefCell;
use std::collections::BTreeSet;

use rust_decimal::Decimal;
use serde::Deserialize;
use toml::{Table, Value};

use crate::error::PolicyError;

/// One table of the policy file, with the dotted path that leads to it.
#[derive(Debug)]
pub struct Section<'a> {
    path: String,
    table: &'a Table,
    used: RefCell<BTreeSet<String>>,
}

/// Renders a TOML value for an error message (strings quoted, tables abridged).
#[must_use]
pub fn show(v: &Value) -> String {
    match v {
        Value::Table(_) => "a table".to_owned(),
        Value::Array(a) => format!("an array of {} items", a.len()),
        other => other.to_string(),
    }
}

impl<'a> Section<'a> {
    /// Wraps the table found at `path` (empty for the root).
    #[must_use]
    pub fn new(path: &str, table: &'a Table) -> Self {
        Self {
            path: path.to_owned(),
            table,
            used: RefCell::new(BTreeSet::new()),
        }
    }

    /// The dotted key of `key` in this section.
    #[must_use]
    pub fn key(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// This section's own dotted path.
    #[must_use]
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The raw value at `key`, marking it read.
    #[must_use]
    pub fn raw(&self, key: &str) -> Option<&'a Value> {
        let v = self.table.get(key);
        if v.is_some() {
            self.used.borrow_mut().insert(key.to_owned());
        }
        v
    }

    /// Keys of this table, in sorted order.
    #[must_use]
    pub fn keys(&self) -> Vec<&'a str> {
        self.table.keys().map(String::as_str).collect()
    }

    /// An error about the value at `key`.
    #[must_use]
    pub fn invalid(&self, key: &str, value: &Value, reason: impl Into<String>) -> PolicyError {
        PolicyError::Invalid {
            key: self.key(key),
            value: show(value),
            reason: reason.into(),
        }
    }

    /// An error for a required key that is absent.
    #[must_use]
    pub fn missing(&self, key: &str, what: &str) -> PolicyError {
        PolicyError::Missing {
            key: self.key(key),
            what: what.to_owned(),
        }
    }

    /// A sub-table, if present (error if present but not a table).
    pub fn table(&self, key: &str) -> Result<Option<Section<'a>>, PolicyError> {
        match self.raw(key) {
            None => Ok(None),
            Some(Value::Table(t)) => Ok(Some(Section::new(&self.key(key), t))),
            Some(v) => Err(self.invalid(key, v, "expected a table")),
        }
    }

    /// A required sub-table.
    pub fn req_table(&self, key: &str, what: &str) -> Result<Section<'a>, PolicyError> {
        self.table(key)?.ok_or_else(|| self.missing(key, what))
    }

    /// A string value.
    pub fn string(&self, key: &str) -> Result<Option<&'a str>, PolicyError> {
        match self.raw(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(v) => Err(self.invalid(key, v, "expected a string")),
        }
    }

    /// A required string value.
    pub fn req_string(&self, key: &str, what: &str) -> Result<&'a str, PolicyError> {
        self.string(key)?.ok_or_else(|| self.missing(key, what))
    }

    /// A boolean value.
    pub fn boolean(&self, key: &str) -> Result<Option<bool>, PolicyError> {
        match self.raw(key) {
            None => Ok(None),
            Some(Value::Boolean(b)) => Ok(Some(*b)),
            Some(v) => Err(self.invalid(key, v, "expected true or false")),
        }
    }

    /// A non-negative integer.
    pub fn integer(&self, key: &str) -> Result<Option<u64>, PolicyError> {
        match self.raw(key) {
            None => Ok(None),
            Some(Value::Integer(i)) if *i >= 0 => Ok(Some(*i as u64)),
            Some(v) => Err(self.invalid(key, v, "expected a non-negative integer")),
        }
    }

    /// A list of strings.
    pub fn strings(&self, key: &str) -> Result<Option<Vec<&'a str>>, PolicyError> {
        match self.raw(key) {
            None => Ok(None),
            Some(Value::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::String(s) => out.push(s.as_str()),
                        other => {
                            return Err(PolicyError::Invalid {
                                key: format!("{}[{i}]", self.key(key)),
                                value: show(other),
                                reason: "expected a string".into(),
                            });
                        }
                    }
                }
                Ok(Some(out))
            }
            Some(v) => Err(self.invalid(key, v, "expected an array of strings")),
        }
    }

    /// A decimal number (TOML integer, float or string such as `"0.85"`).
    pub fn decimal(&self, key: &str) -> Result<Option<Decimal>, PolicyError> {
        match self.raw(key) {
            None => Ok(None),
            Some(v) => decimal_of(v)
                .map(Some)
                .ok_or_else(|| self.invalid(key, v, "expected a decimal number of at most 10^12")),
        }
    }

    /// A decimal with a range check: `min ≤ x` (or `<` when `min_exclusive`) and `x ≤ max`.
    pub fn decimal_in(
        &self,
        key: &str,
        min: Decimal,
        min_exclusive: bool,
        max: Option<Decimal>,
    ) -> Result<Option<Decimal>, PolicyError> {
        let Some(d) = self.decimal(key)? else {
            return Ok(None);
        };
        check_range(d, min, min_exclusive, max)
            .map_err(|reason| self.invalid(key, self.table.get(key).expect("read"), reason))?;
        Ok(Some(d))
    }

    /// Fails with [`PolicyError::UnknownKey`] for any key of this table that was not read.
    pub fn finish(&self) -> Result<(), PolicyError> {
        let used = self.used.borrow();
        for k in self.table.keys() {
            if !used.contains(k) {
                return Err(PolicyError::UnknownKey { key: self.key(k) });
            }
        }
        Ok(())
    }
}

/// Checks `min ≤ d` (or `min < d`) and `d ≤ max`, giving the reason when it fails.
pub fn check_range(
    d: Decimal,
    min: Decimal,
    min_exclusive: bool,
    max: Option<Decimal>,
) -> Result<(), String> {
    let low_ok = if min_exclusive { d > min } else { d >= min };
    let high_ok = max.is_none_or(|m| d <= m);
    if low_ok && high_ok {
        return Ok(());
    }
    let low = if min_exclusive {
        format!("greater than {min}")
    } else {
        format!("at least {min}")
    };
    Err(match max {
        Some(m) => format!("must be {low} and at most {m}"),
        None => format!("must be {low}"),
    })
}

/// The largest magnitude of any number in a policy: 10¹² (a trillion yuan for a
/// budget). Larger numbers are refused where they are read, so that products and sums
/// of policy numbers and case amounts stay far inside `Decimal`'s range (≈ 7.9·10²⁸).
pub const MAX_POLICY_NUMBER: Decimal = Decimal::from_parts(3_567_587_328, 232, 0, false, 0);

/// Reads a decimal from a TOML value without going through binary floating point in
/// this crate: integers and strings are exact; a TOML float is read through its
/// shortest decimal representation (so `0.9` is exactly `0.9`). Numbers larger in
/// magnitude than [`MAX_POLICY_NUMBER`] are not accepted (`None`).
#[must_use]
pub fn decimal_of(v: &Value) -> Option<Decimal> {
    let d = match v {
        Value::String(s) => crate::money::plain_decimal(s.trim()),
        Value::Integer(_) | Value::Float(_) => {
            <Decimal as Deserialize>::deserialize(v.clone()).ok()
        }
        _ => None,
    }?;
    (d.abs() <= MAX_POLICY_NUMBER).then_some(d)
}

/// Rejects numbers that TOML reads but a policy does not take: `1_000` (digit
/// separators), `1e5` (exponents), `0x10`, `inf`: every number of a policy is written as
/// [`crate::money::plain_decimal`] reads it, as in the CSV tables and catalogues. Names
/// the key and its line.
pub fn check_number_syntax(text: &str) -> Result<(), PolicyError> {
    use toml::Spanned;
    use toml::de::{DeTable, DeValue};
    type Item<'a, 'i> = (String, &'a Spanned<DeValue<'i>>);
    fn children<'a, 'i>(key: &str, v: &'a Spanned<DeValue<'i>>, out: &mut Vec<Item<'a, 'i>>) {
        match v.get_ref() {
            DeValue::Table(t) => {
                for (k, v) in t.iter() {
                    out.push((format!("{key}.{}", k.get_ref()), v));
                }
            }
            DeValue::Array(a) => {
                for (i, v) in a.into_iter().enumerate() {
                    out.push((format!("{key}.{i}"), v));
                }
            }
            _ => {}
        }
    }
    // Syntax errors are reported by the main parse.
    let Ok(doc) = DeTable::parse(text) else {
        return Ok(());
    };
    let mut stack: Vec<Item<'_, '_>> = doc
        .get_ref()
        .iter()
        .map(|(k, v)| (k.get_ref().to_string(), v))
        .collect();
    while let Some((key, v)) = stack.pop() {
        if !matches!(v.get_ref(), DeValue::Integer(_) | DeValue::Float(_)) {
            children(&key, v, &mut stack);
            continue;
        }
        let raw = text.get(v.span()).unwrap_or_default().trim();
        if crate::money::plain_decimal(raw).is_none() {
            let line = text[..v.span().start].matches('\n').count() + 1;
            return Err(PolicyError::Invalid {
                key,
                value: raw.to_string(),
                reason: format!(
                    "line {line}: write numbers plainly (digits and a decimal point), without `_` separators, exponents or other bases"
                ),
            });
        }
    }
    Ok(())
}
