//! Column mappings: reading the shapes hospitals export (病案首页, 医保结算清单) as case
//! files.
//!
//! A mapping is a small TOML file saying which input header gives which field of
//! `docs/input-format.md`; several headers can be joined into one code list
//! (`主要诊断编码`, `其他诊断编码1` … `其他诊断编码40` → `diagnoses`). Dates such as
//! `2025/3/1`, `20250301` or `2025-03-01 08:30` are written `YYYY-MM-DD`; money such as
//! `12,345.60` loses its thousands separators. Built-in mappings for the common national
//! layouts ship with drgdip ([`ColumnMap::builtin`]); they are data files under `crates/io/mappings/`.
//!
//! ```toml
//! name = "my hospital's export"
//! [columns]
//! case_id = "病案号"
//! diagnoses = ["主要诊断编码", "其他诊断编码{n}"]   # joined in this order, {n} = 1, 2, …
//! sex = ["性别", "XB"]                            # a scalar field: the first header present
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;

/// Fields whose value is a `|`-separated code list: their headers are joined.
const LIST_FIELDS: [&str; 2] = ["diagnoses", "procedures"];
/// Fields written `YYYY-MM-DD`.
const DATE_FIELDS: [&str; 2] = ["admit_date", "discharge_date"];
/// Money fields: thousands separators and currency signs are dropped.
const MONEY_FIELDS: [&str; 3] = ["total_cost", "covered_cost", "self_paid"];

/// Built-in mappings: (names it answers to, TOML text).
const BUILTIN: [(&[&str], &str); 2] = [
    (
        &["homepage", "病案首页", "basy"],
        include_str!("../mappings/homepage.toml"),
    ),
    (
        &["settlement-list", "医保结算清单", "jsqd"],
        include_str!("../mappings/settlement-list.toml"),
    ),
];

/// A mapping that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    /// The TOML is malformed or has unknown keys.
    #[error("column mapping {0}: {1}")]
    Toml(String, String),
    /// A header pattern is malformed.
    #[error("column mapping {0}, field `{1}`: {2}")]
    Pattern(String, String, String),
    /// No built-in mapping has this name.
    #[error("no built-in column mapping named `{0}` (built-in: {1}); or give a .toml file")]
    Unknown(String, String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingFile {
    name: String,
    #[serde(default)]
    description: String,
    columns: BTreeMap<String, OneOrMany>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// One header of a mapping: a plain name, or a numbered family `prefix{n}suffix`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    Header(String),
    Numbered { prefix: String, suffix: String },
}

impl Source {
    fn parse(text: &str) -> Result<Source, String> {
        match text.split_once("{n}") {
            None => Ok(Source::Header(text.trim().to_string())),
            Some((prefix, suffix)) if !suffix.contains("{n}") => Ok(Source::Numbered {
                prefix: prefix.trim_start().to_string(),
                suffix: suffix.trim_end().to_string(),
            }),
            Some(_) => Err(format!("`{text}` has more than one {{n}}")),
        }
    }

    /// The header indices this source matches, in order (numbered ones by number).
    fn find(&self, names: &[String]) -> Vec<usize> {
        match self {
            Source::Header(h) => names.iter().position(|n| n == h).into_iter().collect(),
            Source::Numbered { prefix, suffix } => {
                let mut hits: Vec<(u64, usize)> = names
                    .iter()
                    .enumerate()
                    .filter_map(|(i, n)| {
                        let mid = n.strip_prefix(prefix.as_str())?;
                        let mid = mid.strip_suffix(suffix.as_str())?;
                        let ok = !mid.is_empty() && mid.bytes().all(|b| b.is_ascii_digit());
                        ok.then(|| Some((mid.parse().ok()?, i))).flatten()
                    })
                    .collect();
                hits.sort();
                hits.into_iter().map(|(_, i)| i).collect()
            }
        }
    }

    fn text(&self) -> String {
        match self {
            Source::Header(h) => h.clone(),
            Source::Numbered { prefix, suffix } => format!("{prefix}{{n}}{suffix}"),
        }
    }
}

/// A column mapping (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnMap {
    /// Its name, shown in the run summary.
    pub name: String,
    /// What it is for.
    pub description: String,
    fields: Vec<(String, Vec<Source>)>,
}

impl ColumnMap {
    /// Reads a mapping from TOML text; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<ColumnMap, MappingError> {
        let file: MappingFile =
            toml::from_str(text).map_err(|e| MappingError::Toml(origin.into(), e.to_string()))?;
        let mut fields = Vec::new();
        for (field, sources) in file.columns {
            let list = match sources {
                OneOrMany::One(s) => vec![s],
                OneOrMany::Many(v) => v,
            };
            if list.is_empty() {
                return Err(MappingError::Pattern(
                    origin.into(),
                    field,
                    "no header given".into(),
                ));
            }
            let parsed = list
                .iter()
                .map(|s| Source::parse(s))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| MappingError::Pattern(origin.into(), field.clone(), e))?;
            fields.push((field, parsed));
        }
        Ok(ColumnMap {
            name: file.name,
            description: file.description,
            fields,
        })
    }

    /// A built-in mapping by name (`homepage`/`病案首页`, `settlement-list`/`医保结算清单`).
    pub fn builtin(name: &str) -> Result<ColumnMap, MappingError> {
        BUILTIN
            .iter()
            .find(|(names, _)| names.contains(&name))
            .map(|(names, text)| ColumnMap::from_toml(text, names[0]))
            .unwrap_or_else(|| {
                Err(MappingError::Unknown(
                    name.into(),
                    builtin_names().join(", "),
                ))
            })
    }

    /// The headers a field is read from, as written in the mapping.
    pub fn sources(&self, field: &str) -> Option<Vec<String>> {
        self.fields
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, s)| s.iter().map(Source::text).collect())
    }

    /// Applies the mapping to a file's header: the columns the file then appears to have.
    pub fn resolve(&self, names: &[String]) -> Resolved {
        let mut used = vec![false; names.len()];
        let mut out_names = Vec::new();
        let mut cols = Vec::new();
        for (field, sources) in &self.fields {
            let list = LIST_FIELDS.contains(&field.as_str());
            let found: Vec<usize> = if list {
                let mut v: Vec<usize> = Vec::new();
                for i in sources.iter().flat_map(|s| s.find(names)) {
                    if !v.contains(&i) {
                        v.push(i);
                    }
                }
                v
            } else {
                sources
                    .iter()
                    .find_map(|s| s.find(names).first().copied())
                    .into_iter()
                    .collect()
            };
            if found.is_empty() {
                continue;
            }
            for &i in &found {
                used[i] = true;
            }
            let col = if list {
                VCol::Join(found)
            } else if DATE_FIELDS.contains(&field.as_str()) {
                VCol::Date(found[0])
            } else if MONEY_FIELDS.contains(&field.as_str()) {
                VCol::Money(found[0])
            } else {
                VCol::Plain(found[0])
            };
            out_names.push(field.clone());
            cols.push(col);
        }
        // The file's other columns follow under their own names (for --carry).
        for (i, n) in names.iter().enumerate() {
            if !used[i] && !out_names.contains(n) {
                out_names.push(n.clone());
                cols.push(VCol::Plain(i));
            }
        }
        Resolved {
            label: self.name.clone(),
            names: out_names,
            cols,
        }
    }

    /// How many of `fields` this mapping finds in a header (for picking a built-in).
    pub fn coverage(&self, names: &[String], fields: &[&str]) -> usize {
        let r = self.resolve(names);
        fields
            .iter()
            .filter(|f| self.fields.iter().any(|(m, _)| m == *f) && r.names.iter().any(|n| n == *f))
            .count()
    }
}

/// The names of the built-in mappings.
pub fn builtin_names() -> Vec<&'static str> {
    BUILTIN.iter().map(|(n, _)| n[0]).collect()
}

/// The built-in mappings.
pub fn builtins() -> Vec<ColumnMap> {
    BUILTIN
        .iter()
        .filter_map(|(n, text)| ColumnMap::from_toml(text, n[0]).ok())
        .collect()
}

/// One column of the file as a job sees it through a mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
enum VCol {
    Plain(usize),
    Join(Vec<usize>),
    Date(usize),
    Money(usize),
}

/// A mapping applied to one file's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The mapping's name.
    pub label: String,
    /// The column names the file appears to have.
    pub names: Vec<String>,
    cols: Vec<VCol>,
}

/// Per-row working memory for computed columns.
#[derive(Debug, Default)]
pub(crate) struct MapBuf {
    bytes: Vec<u8>,
    spans: Vec<(usize, usize)>,
}

impl Resolved {
    /// The largest source index that column `i` reads (for the short-row check).
    pub(crate) fn max_source(&self, i: usize) -> usize {
        match &self.cols[i] {
            VCol::Plain(s) | VCol::Date(s) | VCol::Money(s) => *s,
            // A joined list may be shorter (trailing empty diagnosis columns are often
            // cut); only its first header is required.
            VCol::Join(v) => v[0],
        }
    }

    /// Computes the joined and normalised columns of one row into `buf`.
    pub(crate) fn fill<'r>(&self, get: &impl Fn(usize) -> Option<&'r [u8]>, buf: &mut MapBuf) {
        buf.bytes.clear();
        buf.spans.clear();
        for col in &self.cols {
            let start = buf.bytes.len();
            match col {
                VCol::Plain(_) => {}
                VCol::Join(sources) => {
                    let mut first = true;
                    for &s in sources {
                        let v = get(s).unwrap_or(b"").trim_ascii();
                        if first {
                            // The principal is kept even when empty, so that an empty
                            // principal with secondaries is still reported.
                            buf.bytes.extend_from_slice(v);
                            first = false;
                        } else if !v.is_empty() {
                            buf.bytes.push(b'|');
                            buf.bytes.extend_from_slice(v);
                        }
                    }
                }
                VCol::Date(s) => normalize_date(get(*s).unwrap_or(b""), &mut buf.bytes),
                VCol::Money(s) => normalize_money(get(*s).unwrap_or(b""), &mut buf.bytes),
            }
            buf.spans.push((start, buf.bytes.len()));
        }
    }

    /// Column `i` of the row last filled into `buf`.
    pub(crate) fn field<'a, 'r: 'a>(
        &self,
        i: usize,
        get: &impl Fn(usize) -> Option<&'r [u8]>,
        buf: &'a MapBuf,
    ) -> Option<&'a [u8]> {
        match self.cols.get(i)? {
            VCol::Plain(s) => get(*s),
            _ => buf.spans.get(i).map(|&(a, b)| &buf.bytes[a..b]),
        }
    }
}

/// Writes a date as `YYYY-MM-DD` when it reads as one (`2025/3/1`, `2025-03-01`,
/// `2025.3.1`, `20250301`, `2025年3月1日`, any of them followed by a time); anything else
/// is copied as it is, for the reader of the field to reject.
pub fn normalize_date(raw: &[u8], out: &mut Vec<u8>) {
    let s = raw.trim_ascii();
    let Ok(text) = std::str::from_utf8(s) else {
        out.extend_from_slice(raw);
        return;
    };
    let date_part = text.split([' ', 'T']).next().unwrap_or("");
    let parsed = if date_part.len() == 8 && date_part.bytes().all(|b| b.is_ascii_digit()) {
        Some((&date_part[..4], &date_part[4..6], &date_part[6..]))
    } else {
        let mut it = date_part
            .split(['/', '-', '.', '年', '月', '日'])
            .filter(|p| !p.is_empty());
        match (it.next(), it.next(), it.next(), it.next()) {
            (Some(y), Some(m), Some(d), None) => Some((y, m, d)),
            _ => None,
        }
    };
    let num = |p: &str| -> Option<u32> {
        (!p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse().ok())
            .flatten()
    };
    match parsed.and_then(|(y, m, d)| Some((num(y)?, num(m)?, num(d)?, y.len()))) {
        Some((y, m, d, 4)) if (1..=12).contains(&m) && (1..=31).contains(&d) => {
            use std::io::Write;
            let _ = write!(out, "{y:04}-{m:02}-{d:02}");
        }
        _ => out.extend_from_slice(s),
    }
}

/// Drops thousands separators (`,`, `，`) and currency signs (`¥`, `￥`, `元`) from an
/// amount; anything that is then not a plain number is copied as it was.
pub fn normalize_money(raw: &[u8], out: &mut Vec<u8>) {
    let s = raw.trim_ascii();
    let Ok(text) = std::str::from_utf8(s) else {
        out.extend_from_slice(raw);
        return;
    };
    let start = out.len();
    for ch in text.chars() {
        match ch {
            ',' | '，' | '¥' | '￥' | '元' | ' ' => {}
            c => {
                let mut b = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            }
        }
    }
    let cleaned = &out[start..];
    let digits = cleaned.strip_prefix(b"-").unwrap_or(cleaned);
    let plain = !digits.is_empty()
        && digits.iter().all(|b| b.is_ascii_digit() || *b == b'.')
        && digits.iter().filter(|&&b| b == b'.').count() <= 1;
    if !plain {
        out.truncate(start);
        out.extend_from_slice(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> String {
        let mut v = Vec::new();
        normalize_date(s.as_bytes(), &mut v);
        String::from_utf8(v).unwrap()
    }

    fn money(s: &str) -> String {
        let mut v = Vec::new();
        normalize_money(s.as_bytes(), &mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn dates() {
        assert_eq!(date("2025/3/1"), "2025-03-01");
        assert_eq!(date("20250301"), "2025-03-01");
        assert_eq!(date("2025-03-01 08:30:00"), "2025-03-01");
        assert_eq!(date("2025.12.31"), "2025-12-31");
        assert_eq!(date("2025年3月1日"), "2025-03-01");
        assert_eq!(date("2025-03-01T08:30"), "2025-03-01");
        assert_eq!(date(""), "");
        assert_eq!(date("3/1/2025"), "3/1/2025");
        assert_eq!(date("2025/13/1"), "2025/13/1");
        assert_eq!(date("yesterday"), "yesterday");
    }

    #[test]
    fn amounts() {
        assert_eq!(money("12,345.60"), "12345.60");
        assert_eq!(money("￥1，234"), "1234");
        assert_eq!(money("-1,000"), "-1000");
        assert_eq!(money("980.5元"), "980.5");
        assert_eq!(money(""), "");
        assert_eq!(money("n/a"), "n/a");
        assert_eq!(money("1.2.3"), "1.2.3");
    }

    /// Issue 10, finding 6: a mapping drops thousands separators (`2,345.00` is money a
    /// 病案首页 export writes), but `1_000` and `1e5` stay as written, so the reader
    /// of the amount refuses them with the line and the field.
    #[test]
    fn separators_of_other_kinds_and_exponents_are_left_for_the_reader_to_refuse() {
        assert_eq!(money("2,345.00"), "2345.00");
        for bad in ["1_000", "1e5", "2,345e2"] {
            let kept = money(bad);
            assert_eq!(kept, bad, "copied as it was");
            let e = crate::dip::fen(7, "total_cost", kept.as_bytes()).unwrap_err();
            assert!(
                e.0.starts_with("line 7, field `total_cost`:") && e.0.contains(&kept),
                "{}",
                e.0
            );
        }
        assert_eq!(
            crate::dip::fen(7, "total_cost", b"2345.00").unwrap(),
            Some(234_500)
        );
    }

    #[test]
    fn numbered_headers_join_in_number_order() {
        let map = ColumnMap::from_toml(
            "name = \"t\"\n[columns]\ncase_id = \"病案号\"\ndiagnoses = [\"主要诊断编码\", \"其他诊断编码{n}\"]\n",
            "test",
        )
        .unwrap();
        let names: Vec<String> = [
            "其他诊断编码10",
            "病案号",
            "主要诊断编码",
            "其他诊断编码2",
            "其他诊断编码1",
            "备注",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let r = map.resolve(&names);
        assert_eq!(r.names, ["case_id", "diagnoses", "备注"]);
        let row: Vec<&[u8]> = vec![b"J10", b"B1", b"A00", b"", b"I10", b"note"];
        let get = |i: usize| row.get(i).copied();
        let mut buf = MapBuf::default();
        r.fill(&get, &mut buf);
        assert_eq!(r.field(0, &get, &buf), Some(&b"B1"[..]));
        assert_eq!(r.field(1, &get, &buf), Some(&b"A00|I10|J10"[..]));
        assert_eq!(r.field(2, &get, &buf), Some(&b"note"[..]));
        assert_eq!(r.field(3, &get, &buf), None);
    }

    #[test]
    fn builtins_parse_and_bad_mappings_say_why() {
        for name in ["homepage", "病案首页", "settlement-list", "医保结算清单"] {
            let m = ColumnMap::builtin(name).unwrap();
            assert!(m.sources("diagnoses").is_some(), "{name}");
            assert!(m.sources("case_id").is_some(), "{name}");
        }
        let e = ColumnMap::builtin("nope").unwrap_err().to_string();
        assert!(
            e.contains("homepage") && e.contains("settlement-list"),
            "{e}"
        );
        let e = ColumnMap::from_toml("name = \"x\"\n[columns]\ndx = \"{n}{n}\"\n", "m.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("m.toml") && e.contains("`dx`"), "{e}");
        let e = ColumnMap::from_toml("name = \"x\"\ncolumn = 1\n", "m.toml").unwrap_err();
        assert!(matches!(e, MappingError::Toml(..)), "{e}");
    }
}
