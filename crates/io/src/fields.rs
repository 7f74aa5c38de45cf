//! Parsing the fields of a case row, with messages that name the line and the field.

/// The longest field accepted; longer ones make the row invalid.
pub const MAX_FIELD: usize = 4096;
/// The most codes accepted in one diagnoses or procedures field.
pub const MAX_CODES: usize = 200;

/// A rejected field: the message names line and field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError(pub String);

/// A field as text: checks length and UTF-8.
pub fn text<'a>(line: u64, field: &str, bytes: &'a [u8]) -> Result<&'a str, FieldError> {
    if bytes.len() > MAX_FIELD {
        return Err(FieldError(format!(
            "line {line}, field `{field}`: {} bytes long (limit {MAX_FIELD})",
            bytes.len()
        )));
    }
    std::str::from_utf8(bytes)
        .map_err(|_| FieldError(format!("line {line}, field `{field}`: not valid UTF-8")))
}

/// An optional whole number ≥ 0 (`2500` and `2500.0` are accepted; empty is `None`).
pub fn count(line: u64, field: &str, bytes: &[u8]) -> Result<Option<i64>, FieldError> {
    // The usual field: up to 18 ASCII digits, perhaps between ASCII spaces.
    let digits = bytes.trim_ascii();
    if !digits.is_empty() && digits.len() <= 18 && digits.iter().all(u8::is_ascii_digit) {
        let v = digits
            .iter()
            .fold(0i64, |v, &d| v * 10 + i64::from(d - b'0'));
        return Ok(Some(v));
    }
    let s = text(line, field, bytes)?.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let whole = match s.split_once('.') {
        Some((w, frac)) if !frac.is_empty() && frac.bytes().all(|b| b == b'0') => w,
        Some(_) => s,
        None => s,
    };
    match whole.parse::<i64>() {
        Ok(v) if v >= 0 => Ok(Some(v)),
        _ => Err(FieldError(format!(
            "line {line}, field `{field}`: `{s}` is not a whole number >= 0"
        ))),
    }
}

/// Sex: `1`/`2` (or 男/女); empty is `None` (the scheme's validation decides).
pub fn sex(line: u64, bytes: &[u8]) -> Result<Option<u8>, FieldError> {
    let s = text(line, "sex", bytes)?.trim();
    match s {
        "" => Ok(None),
        "1" | "男" => Ok(Some(1)),
        "2" | "女" => Ok(Some(2)),
        other => Err(FieldError(format!(
            "line {line}, field `sex`: `{other}` is not 1 (male) or 2 (female)"
        ))),
    }
}

/// The `|`-separated parts of `s`, as `s.split('|')` gives them, found in one pass over
/// the bytes.
pub fn bar_parts(s: &str) -> impl Iterator<Item = &str> {
    let mut start = 0;
    memchr::memchr_iter(b'|', s.as_bytes())
        .map(Some)
        .chain([None])
        .map(move |bar| {
            let end = bar.unwrap_or(s.len());
            // `|` is ASCII: both ends are character boundaries.
            let part = &s[start..end];
            start = end + 1;
            part
        })
}

/// Calls `each` on every code of a `|`-separated field, trimmed; empty segments are
/// skipped, but an empty first segment (no principal) is an error when codes follow.
pub fn codes<'a>(
    line: u64,
    field: &str,
    bytes: &'a [u8],
    mut each: impl FnMut(&'a str),
) -> Result<(), FieldError> {
    let s = text(line, field, bytes)?;
    let mut n = 0;
    let mut first_empty = false;
    for (i, part) in bar_parts(s).enumerate() {
        let code = part.trim_ascii();
        if code.is_empty() {
            first_empty |= i == 0;
            continue;
        }
        if first_empty {
            return Err(FieldError(format!(
                "line {line}, field `{field}`: the first (principal) code is empty"
            )));
        }
        n += 1;
        if n > MAX_CODES {
            return Err(FieldError(format!(
                "line {line}, field `{field}`: more than {MAX_CODES} codes"
            )));
        }
        each(code);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(count(2, "age", b" 42 "), Ok(Some(42)));
        assert_eq!(count(2, "weight", b"2500.0"), Ok(Some(2500)));
        assert_eq!(count(2, "weight", b""), Ok(None));
        let e = count(7, "age", b"abc").unwrap_err();
        assert_eq!(e.0, "line 7, field `age`: `abc` is not a whole number >= 0");
        assert!(count(7, "age", b"-1").is_err());
        assert!(count(7, "age", b"1.5").is_err());
    }

    #[test]
    fn sexes() {
        assert_eq!(sex(2, b"1"), Ok(Some(1)));
        assert_eq!(sex(2, "女".as_bytes()), Ok(Some(2)));
        assert_eq!(sex(2, b""), Ok(None));
        assert!(sex(2, b"3").unwrap_err().0.contains("field `sex`"));
    }

    #[test]
    fn bar_parts_split_as_str_split() {
        for s in ["", "|", "A", "A|B", "|A||B|", "甲|乙|", "A.1 | B"] {
            assert_eq!(
                bar_parts(s).collect::<Vec<_>>(),
                s.split('|').collect::<Vec<_>>(),
                "{s:?}"
            );
        }
    }

    #[test]
    fn code_lists() {
        let collect = |b: &[u8]| {
            let mut v = Vec::new();
            codes(2, "diagnoses", b, |c| v.push(c.to_string())).map(|_| v)
        };
        assert_eq!(collect(b"A| B ||C|").unwrap(), ["A", "B", "C"]);
        assert_eq!(collect(b"").unwrap(), Vec::<String>::new());
        assert!(collect(b"|B").unwrap_err().0.contains("principal"));
        assert!(collect(&[0xff, b'A']).unwrap_err().0.contains("UTF-8"));
        let long = vec![b'A'; MAX_FIELD + 1];
        assert!(collect(&long).unwrap_err().0.contains("limit"));
        let many = "A|".repeat(MAX_CODES + 1);
        assert!(
            collect(many.as_bytes())
                .unwrap_err()
                .0
                .contains("more than")
        );
    }
}
