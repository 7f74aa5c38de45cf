//! What the pipelines share on input: columns found by name (in the header
//! `drgdip_io::CsvBlocks` reads), and fields parsed with messages naming the field.

use drgdip_io::Fields;
use rust_decimal::Decimal;

use crate::error::{PipelineError, Result};

/// Column positions found in a header: the first column of each name wins (so the
/// grouping columns before `group --carry`'s copies of the input are used).
pub(crate) struct Header {
    names: Vec<String>,
}

impl Header {
    /// A header from column names already read (compared trimmed, in lower case).
    pub(crate) fn from_names(names: &[String]) -> Self {
        Self {
            names: names
                .iter()
                .map(|n| n.trim().to_ascii_lowercase())
                .collect(),
        }
    }

    /// Position of `name`, if present.
    pub(crate) fn find(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// Position of a required column, or an error naming it.
    pub(crate) fn require(&self, name: &str, why: &'static str) -> Result<usize> {
        self.find(name).ok_or_else(|| PipelineError::MissingColumn {
            name: name.to_owned(),
            why,
            found: self.names.join(","),
        })
    }
}

/// Field `idx` of a record as trimmed UTF-8, or an error naming the field.
pub(crate) fn field<'r>(rec: &Fields<'r>, idx: usize, name: &str) -> Result<&'r str, String> {
    // UTF-8 checked once per block where the block is valid (`Fields::text`).
    let s = match rec.text(idx) {
        None => "",
        Some(Ok(s)) => s,
        Some(Err(_)) => return Err(format!("field `{name}`: invalid UTF-8")),
    };
    // ASCII spaces off first (the common case, cheaper than `str::trim`); the rest of
    // what `str::trim` removes (vertical tab, Unicode spaces) where an end is neither
    // printable ASCII nor missing.
    let s = s.trim_ascii();
    let bytes = s.as_bytes();
    let plain = |b: Option<&u8>| b.is_none_or(|&b| (0x21..0x7f).contains(&b));
    if plain(bytes.first()) && plain(bytes.last()) {
        Ok(s)
    } else {
        Ok(s.trim())
    }
}

/// Optional field: empty string when the column is absent.
pub(crate) fn opt_field<'r>(
    rec: &Fields<'r>,
    idx: Option<usize>,
    name: &str,
) -> Result<&'r str, String> {
    match idx {
        Some(i) => field(rec, i, name),
        None => Ok(""),
    }
}

/// Reads the optional `negotiated_drug_cost` (column `idx`; empty or absent = 0): an
/// amount of money of at most the case's `total_cost`.
pub(crate) fn negotiated_drug_cost(
    rec: &Fields<'_>,
    idx: Option<usize>,
    total_cost: Decimal,
) -> Result<Decimal, String> {
    let n = match opt_field(rec, idx, "negotiated_drug_cost")? {
        "" => Decimal::ZERO,
        s => money(s, "negotiated_drug_cost")?,
    };
    if !n.is_zero() && n > total_cost {
        return Err(format!(
            "field `negotiated_drug_cost`: {n} is more than total_cost {total_cost}"
        ));
    }
    Ok(n)
}

/// Longest field accepted; longer ones are rejected rather than carried.
pub const MAX_FIELD: usize = 4096;

/// Parses a number written plainly (digits, a sign, a decimal point: what
/// [`drgdip_pricing::money::plain_decimal`] reads, as policies and catalogues do), naming
/// the field on failure. `1_000`, `1e5`, `.5` and `5.` are not numbers here, although
/// `rust_decimal` alone would read some of them.
pub(crate) fn decimal(s: &str, name: &str) -> Result<Decimal, String> {
    if s.is_empty() {
        return Err(format!("field `{name}` is empty"));
    }
    if s.len() > 40 {
        return Err(format!("field `{name}` is too long to be a number"));
    }
    drgdip_pricing::money::plain_decimal(s)
        .ok_or_else(|| format!("field `{name}`: `{s}` is not a number"))
}

/// The largest amount of money accepted in a field of a case: 10¹⁰ yuan (ten billion,
/// far above any hospital stay). Sums of a billion such amounts still fit `Decimal`.
pub const MAX_AMOUNT: Decimal = Decimal::from_parts(1_410_065_408, 2, 0, false, 0);

/// The largest weight, score, points or length of stay accepted: 10⁶.
pub const MAX_QUANTITY: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);

/// Parses a non-negative amount of money of at most [`MAX_AMOUNT`] yuan. More than two
/// decimals (a fraction of a fen) is rejected: money in a case file is to the fen.
pub(crate) fn money(s: &str, name: &str) -> Result<Decimal, String> {
    if let Some(fen) = plain_fen(s.as_bytes()) {
        return Ok(Decimal::new(fen, 2));
    }
    let d = decimal(s, name)?;
    if d < Decimal::ZERO {
        return Err(format!("field `{name}`: {s} is negative"));
    }
    if d > MAX_AMOUNT {
        return Err(format!(
            "field `{name}`: {s} is more than 10000000000 yuan (the most a case field may hold)"
        ));
    }
    if d.normalize().scale() > 2 {
        return Err(format!(
            "field `{name}`: {s} has a fraction of a fen; amounts are in yuan to the fen (2 decimals)"
        ));
    }
    Ok(drgdip_pricing::money::round_yuan(d))
}

/// Field `idx` as an amount of money, as [`money`] reads it: the common spelling
/// (`12`, `12.3`, `12.34`) straight from the bytes, anything else through [`field`] and
/// [`money`] (the same value, or the message naming the field).
pub(crate) fn money_at(rec: &Fields<'_>, idx: usize, name: &str) -> Result<Decimal, String> {
    match rec.get(idx).and_then(plain_fen) {
        Some(fen) => Ok(Decimal::new(fen, 2)),
        None => money(field(rec, idx, name)?, name),
    }
}

/// Whether some field of `rec` is longer than [`MAX_FIELD`]: the 1-based number of the
/// first such field.
pub(crate) fn overlong_field(rec: &Fields<'_>) -> Option<usize> {
    if let Some(raw) = rec.line()
        && raw.len() <= MAX_FIELD
    {
        return None;
    }
    (0..rec.len())
        .find(|&i| rec.get(i).is_some_and(|f| f.len() > MAX_FIELD))
        .map(|i| i + 1)
}

/// The common spelling of an amount, read without `Decimal`'s general parser: 1 to
/// 10 digits, optionally a point and 1 or 2 digits (`12`, `12.3`, `12.34`), as fen.
/// Anything else (a sign, more decimals, an empty field, …) is `None` and goes through
/// [`money`]'s full checks, which give the same value for these spellings.
fn plain_fen(b: &[u8]) -> Option<i64> {
    let (int, frac) = match b.iter().position(|&c| c == b'.') {
        Some(i) => (&b[..i], Some(&b[i + 1..])),
        None => (b, None),
    };
    if int.is_empty() || int.len() > 10 || !int.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut fen = int.iter().fold(0i64, |v, d| v * 10 + i64::from(d - b'0')) * 100;
    match frac {
        None => {}
        Some([d]) if d.is_ascii_digit() => fen += i64::from(d - b'0') * 10,
        Some([d, e]) if d.is_ascii_digit() && e.is_ascii_digit() => {
            fen += i64::from(d - b'0') * 10 + i64::from(e - b'0');
        }
        Some(_) => return None,
    }
    Some(fen)
}

/// Parses a quantity (weight, score, points, LOS) of magnitude at most [`MAX_QUANTITY`].
pub(crate) fn quantity(s: &str, name: &str) -> Result<Decimal, String> {
    if let Some(d) = plain_quantity(s.as_bytes()) {
        return Ok(d);
    }
    let d = decimal(s, name)?;
    if d.abs() > MAX_QUANTITY {
        return Err(format!(
            "field `{name}`: {s} is out of range (at most 1000000 in size)"
        ));
    }
    Ok(d)
}

/// The common spelling of a quantity, read without `Decimal`'s general parser: digits,
/// optionally a point and digits (`1`, `1.3978`, `0.50`), 1 to 7 whole digits and 1 to
/// 11 decimals, at most [`MAX_QUANTITY`]. The same decimal (value and scale) as the
/// general parser gives; anything else is `None` and goes through [`quantity`]'s checks.
fn plain_quantity(b: &[u8]) -> Option<Decimal> {
    let (int, frac) = match b.iter().position(|&c| c == b'.') {
        Some(i) => (&b[..i], &b[i + 1..]),
        None => (b, &b""[..]),
    };
    if int.is_empty()
        || int.len() > 7
        || frac.len() > 11
        || (frac.is_empty() && int.len() < b.len())
    {
        return None;
    }
    let mut m = 0i64;
    for &d in int.iter().chain(frac) {
        if !d.is_ascii_digit() {
            return None;
        }
        m = m * 10 + i64::from(d - b'0');
    }
    let d = Decimal::new(m, frac.len() as u32);
    (int.len() < 7 || d <= MAX_QUANTITY).then_some(d)
}

/// Writes a decimal with its own scale (no float formatting anywhere).
pub(crate) fn dec(d: Decimal) -> String {
    d.normalize().to_string()
}

/// `a / b` rounded to `dp` decimals half away from zero (the one rounding rule, see
/// `drgdip_pricing::money`); `b` must not be zero.
pub(crate) fn ratio(a: Decimal, b: Decimal, dp: u32) -> Decimal {
    drgdip_pricing::money::round_qty(a / b, dp)
}

/// An amount of money as written in every output: rounded to the fen half away from
/// zero, always two decimals, never `-0.00`.
pub(crate) fn yuan(d: Decimal) -> String {
    let mut r = drgdip_pricing::money::round_yuan(d);
    if r.is_zero() {
        r = Decimal::new(0, 2);
    }
    r.to_string()
}

/// Parses a date `YYYY-MM-DD`, saying what is wrong when it is not one: the shape,
/// a year outside 1900–2999, a month outside 1–12 or a day the month does not have.
pub(crate) fn date(s: &str, name: &str) -> Result<drgdip_pricing::Date, String> {
    if let Some(d) = drgdip_pricing::Date::parse(s) {
        return Ok(d);
    }
    let b = s.as_bytes();
    let shaped = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shaped {
        return Err(format!("field `{name}`: `{s}` is not a date YYYY-MM-DD"));
    }
    let (y, m) = (&s[..4], &s[5..7]);
    let reason = if !(1900..=2999).contains(&y.parse::<u32>().unwrap_or(0)) {
        format!("year {y} is outside 1900–2999")
    } else if !(1..=12).contains(&m.parse::<u32>().unwrap_or(0)) {
        format!("month {m} is not 1–12")
    } else {
        format!("day {} does not exist in {y}-{m}", &s[8..])
    };
    Err(format!("field `{name}`: `{s}`: {reason}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn money_is_always_written_to_the_fen() {
        assert_eq!(yuan(Decimal::ZERO), "0.00");
        assert_eq!(yuan(-d("0.00")), "0.00");
        assert_eq!(yuan(d("-0.001")), "0.00");
        assert_eq!(yuan(d("12")), "12.00");
        assert_eq!(yuan(d("-1.005")), "-1.01");
        assert_eq!(yuan(d("2.675")), "2.68");
    }

    #[test]
    fn dates_say_what_is_wrong() {
        assert_eq!(
            date("9999-12-31", "d").unwrap_err(),
            "field `d`: `9999-12-31`: year 9999 is outside 1900–2999"
        );
        assert_eq!(
            date("2025-13-01", "d").unwrap_err(),
            "field `d`: `2025-13-01`: month 13 is not 1–12"
        );
        assert_eq!(
            date("2025-02-29", "d").unwrap_err(),
            "field `d`: `2025-02-29`: day 29 does not exist in 2025-02"
        );
        assert!(
            date("1/2/2025", "d")
                .unwrap_err()
                .contains("is not a date YYYY-MM-DD")
        );
        assert!(date("2024-02-29", "d").is_ok());
    }

    #[test]
    fn amounts_are_bounded_and_to_the_fen() {
        assert!(money("10000000000.00", "c").is_ok());
        assert!(
            money("10000000000.01", "c")
                .unwrap_err()
                .contains("more than 10000000000")
        );
        let huge = "1".repeat(29);
        assert!(money(&huge, "c").unwrap_err().contains("more than"));
        assert!(
            money("12.345", "c")
                .unwrap_err()
                .contains("fraction of a fen")
        );
        assert_eq!(money("12.340", "c").unwrap().to_string(), "12.34");
        // The fast path and the general parser agree on every plain spelling.
        for t in [
            "0",
            "7",
            "007",
            "12.3",
            "12.34",
            "9999999999.99",
            "10000000000",
            "1.",
            ".5",
        ] {
            let fast = plain_fen(t.as_bytes()).map(|f| Decimal::new(f, 2));
            let full = decimal(t, "c").ok().map(drgdip_pricing::money::round_yuan);
            if let Some(f) = fast {
                assert_eq!(Some(f), full, "{t}");
                assert_eq!(f.to_string(), full.unwrap().to_string(), "{t}");
            }
        }
        assert_eq!(
            plain_fen(b"10000000000"),
            None,
            "11 digits take the checked path"
        );
        assert_eq!(plain_fen(b"1."), None);
        assert_eq!(plain_fen(b"-1"), None);
        assert!(quantity("1000001", "w").is_err());
        // The quantity fast path and the general parser agree, scale included.
        for t in [
            "0",
            "1",
            "1.3978",
            "0.50",
            "007.10",
            "1000000",
            "1000000.0",
            "999999.99999999999",
            "12.00000000000",
        ] {
            let fast = plain_quantity(t.as_bytes()).expect(t);
            let full = decimal(t, "w").unwrap();
            assert_eq!(format!("{fast:?}"), format!("{full:?}"), "{t}");
        }
        for t in [
            "1000000.01",
            "10000000",
            "1.000000000000",
            "1.",
            ".5",
            "-1",
            "+1",
            "1e3",
            "",
            "1.2.3",
        ] {
            assert_eq!(plain_quantity(t.as_bytes()), None, "{t}");
        }
    }

    #[test]
    fn fields_are_trimmed_as_str_trim_does() {
        let mut ranges = Vec::new();
        for raw in [
            " a ",
            "\ta\r",
            "\u{3000}甲\u{3000}",
            "\u{b}x\u{b}",
            "",
            "  ",
            "a b",
            "\u{a0}1",
            "é",
        ] {
            ranges.clear();
            ranges.push((0, raw.len()));
            let rec = Fields::Plain(raw.as_bytes(), &ranges);
            assert_eq!(field(&rec, 0, "f").unwrap(), raw.trim(), "{raw:?}");
        }
    }

    #[test]
    fn ratios_round_half_away_from_zero() {
        // Half-to-even would give 0.1234 and -0.9998.
        assert_eq!(ratio(d("1.2345"), d("10"), 4), d("0.1235"));
        assert_eq!(ratio(d("-9998.5"), d("10000"), 4), d("-0.9999"));
        assert_eq!(ratio(d("1.00005"), d("1"), 4), d("1.0001"));
    }
}
