//! Money: yuan with two decimals, one rounding rule, exact allocations.
//!
//! # The rounding rule
//!
//! Every amount of money is a [`Decimal`] in yuan. Intermediate products (weight ×
//! rate × coefficient, points × point value, cost × ratio …) are kept at full
//! `Decimal` precision and rounded **once, to the fen (0.01 yuan), half away from
//! zero** (四舍五入: 0.005 → 0.01, −0.005 → −0.01) at the boundary where the amount
//! becomes a case's, a hospital's or a budget line's money. Totals are sums of
//! already-rounded parts, so a total always equals the sum of its parts to the fen.
//!
//! When money is divided (a budget into allocations, a surplus into bands, a
//! community's total among members) the parts are rounded *down* to the fen and the
//! remaining fen are handed out one at a time by [`allocate`]: largest remainder first,
//! ties to the lower index. Callers order their parts deterministically (by id) before
//! allocating, so the result never depends on hash-map or thread order.

use rust_decimal::{Decimal, RoundingStrategy};

/// Reads a number written plainly: an optional sign, digits, and optionally a point
/// followed by digits (`1000`, `-0.5`, `12.30`). `1_000`, `1e5`, `.5` and `5.` are not
/// numbers here, although `rust_decimal` or TOML would read some of them: amounts,
/// weights and scores are written one way in every file drgdip reads.
#[must_use]
pub fn plain_decimal(text: &str) -> Option<Decimal> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    let (whole, frac) = match digits.split_once('.') {
        Some((w, f)) if f.is_empty() => (w, "x"),
        Some((w, f)) => (w, f),
        None => (digits, ""),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(frac) {
        return None;
    }
    text.parse().ok()
}

/// One fen, the smallest unit of money (0.01 yuan).
pub const FEN: Decimal = Decimal::from_parts(1, 0, 0, false, 2);

/// Rounds an amount to the fen, half away from zero, and gives it exactly two decimals
/// (so `12` prints as `12.00`). This is the crate's one rounding rule for money.
#[must_use]
pub fn round_yuan(amount: Decimal) -> Decimal {
    match amount.scale() {
        2 => amount,
        0 | 1 => {
            let mut r = amount;
            r.rescale(2);
            r
        }
        _ => round_half_away(amount, 2),
    }
}

/// Rounds a non-money quantity (points, weights, factors, rates) to `dp` decimals, half
/// away from zero, for display and for carrying between steps.
#[must_use]
pub fn round_qty(value: Decimal, dp: u32) -> Decimal {
    if value.scale() <= dp {
        value
    } else {
        round_half_away(value, dp)
    }
}

/// Half-away-from-zero rounding on the 96-bit mantissa with `i128` arithmetic (same
/// result as `round_dp_with_strategy(dp, MidpointAwayFromZero)`, much cheaper).
fn round_half_away(value: Decimal, dp: u32) -> Decimal {
    let scale = value.scale();
    debug_assert!(scale > dp);
    let m = value.mantissa();
    let div = 10i128.pow(scale - dp);
    let (q, r) = (m / div, m % div);
    let q = if r.abs() * 2 >= div {
        q + m.signum()
    } else {
        q
    };
    Decimal::from_i128_with_scale(q, dp)
}

/// `a / b` rounded to `dp` decimals, half away from zero, for non-negative `a` and
/// positive `b`; exact integer arithmetic when both are amounts of up to 4 decimals.
#[must_use]
pub fn ratio(a: Decimal, b: Decimal, dp: u32) -> Decimal {
    let (sa, sb) = (a.scale(), b.scale());
    if dp <= 8 && sa <= 4 && sb <= 4 && a >= Decimal::ZERO && b > Decimal::ZERO {
        // a/b = (ma / 10^sa) / (mb / 10^sb) = ma × 10^(sb + dp) / (mb × 10^sa) / 10^dp
        let num = a.mantissa().checked_mul(10i128.pow(sb + dp));
        let den = b.mantissa().checked_mul(10i128.pow(sa));
        if let (Some(n), Some(d)) = (num, den) {
            let (q, r) = (n / d, n % d);
            let q = if r * 2 >= d { q + 1 } else { q };
            if let Ok(v) = Decimal::try_from_i128_with_scale(q, dp) {
                return v;
            }
        }
    }
    round_qty(a / b, dp)
}

/// Truncates an amount towards zero to the fen.
#[must_use]
pub fn floor_yuan(amount: Decimal) -> Decimal {
    let mut r = amount.round_dp_with_strategy(2, RoundingStrategy::ToZero);
    r.rescale(2);
    r
}

/// Divides `total` (a non-negative amount in yuan, already to the fen) in proportion to
/// `weights` so that the parts sum to `total` exactly.
///
/// Each part is first `total × wᵢ / Σw` truncated to the fen; the fen left over are then
/// given one each to the parts with the largest truncated remainders, ties going to the
/// lower index. Zero or negative weights get nothing; if every weight is zero the total
/// is split equally (same remainder rule). An empty `weights` gives an empty result.
#[must_use]
pub fn allocate(total: Decimal, weights: &[Decimal]) -> Vec<Decimal> {
    if weights.is_empty() {
        return Vec::new();
    }
    let total = round_yuan(total);
    let positive: Vec<Decimal> = weights
        .iter()
        .map(|w| {
            if *w > Decimal::ZERO {
                *w
            } else {
                Decimal::ZERO
            }
        })
        .collect();
    let sum: Decimal = positive.iter().copied().sum();
    let effective: Vec<Decimal> = if sum.is_zero() {
        vec![Decimal::ONE; weights.len()]
    } else {
        positive
    };
    let sum: Decimal = effective.iter().copied().sum();
    // Work in fen as integers of Decimal so that the remainder logic is exact.
    let total_fen = (total * Decimal::ONE_HUNDRED).trunc();
    let sign = if total_fen < Decimal::ZERO {
        Decimal::NEGATIVE_ONE
    } else {
        Decimal::ONE
    };
    let abs_fen = total_fen.abs();
    let mut parts = Vec::with_capacity(effective.len());
    let mut rems = Vec::with_capacity(effective.len());
    let mut given = Decimal::ZERO;
    for w in &effective {
        let exact = abs_fen * *w / sum;
        let floor = exact.trunc();
        given += floor;
        parts.push(floor);
        rems.push(exact - floor);
    }
    let mut left = abs_fen - given;
    let mut order: Vec<usize> = (0..effective.len()).collect();
    // Largest remainder first; equal remainders by index (stable sort keeps order).
    order.sort_by(|a, b| rems[*b].cmp(&rems[*a]));
    let mut i = 0;
    while left > Decimal::ZERO {
        // Only parts with a positive weight may receive fen (unless all are zero).
        let idx = order[i % order.len()];
        if effective[idx] > Decimal::ZERO {
            parts[idx] += Decimal::ONE;
            left -= Decimal::ONE;
        }
        i += 1;
    }
    parts
        .into_iter()
        .map(|fen| {
            let mut y = sign * fen / Decimal::ONE_HUNDRED;
            y.rescale(2);
            y
        })
        .collect()
}

/// Formats a money amount with exactly two decimals.
#[must_use]
pub fn fmt_yuan(amount: Decimal) -> String {
    round_yuan(amount).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn rounds_half_away_from_zero_to_the_fen() {
        assert_eq!(round_yuan(dec!(1.005)).to_string(), "1.01");
        assert_eq!(round_yuan(dec!(1.004999)).to_string(), "1.00");
        assert_eq!(round_yuan(dec!(-1.005)).to_string(), "-1.01");
        assert_eq!(round_yuan(dec!(2.675)).to_string(), "2.68");
        assert_eq!(round_yuan(dec!(12)).to_string(), "12.00");
        assert_eq!(floor_yuan(dec!(3.999)).to_string(), "3.99");
    }

    #[test]
    fn integer_rounding_matches_decimal_rounding() {
        let samples = [
            dec!(1.005),
            dec!(-1.005),
            dec!(2.675),
            dec!(0.0049999),
            dec!(123456.789012345),
            dec!(-0.004),
            dec!(0.015),
            dec!(99999999.995),
            dec!(1.23456789012345678901234567),
        ];
        for v in samples {
            for dp in [0u32, 2, 4] {
                let expect = v.round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero);
                assert_eq!(round_qty(v, dp), expect, "{v} to {dp}");
            }
        }
        assert_eq!(ratio(dec!(6000), dec!(15000.00), 4), dec!(0.4));
        assert_eq!(ratio(dec!(2), dec!(3), 4), dec!(0.6667));
        assert_eq!(ratio(dec!(1), dec!(8), 2), dec!(0.13));
        assert_eq!(ratio(dec!(5571.37), dec!(3899.96), 4), dec!(1.4286));
        assert_eq!(ratio(dec!(0.1234567), dec!(3), 4), dec!(0.0412));
    }

    #[test]
    fn allocation_sums_exactly_and_gives_remainder_to_largest() {
        // 100.00 in three equal parts: 33.33 each + 1 fen to the first (ties by index).
        let parts = allocate(dec!(100), &[dec!(1), dec!(1), dec!(1)]);
        assert_eq!(parts, vec![dec!(33.34), dec!(33.33), dec!(33.33)]);
        // Remainders .6/.4 style: 10.00 by 2:1 → 6.666.. and 3.333..; the largest
        // remainder (0.666 fen... i.e. 666.67 fen → .67) gets the extra fen.
        let parts = allocate(dec!(10), &[dec!(2), dec!(1)]);
        assert_eq!(parts, vec![dec!(6.67), dec!(3.33)]);
        let parts = allocate(dec!(0.05), &[dec!(1), dec!(3), dec!(0)]);
        assert_eq!(parts.iter().copied().sum::<Decimal>(), dec!(0.05));
        assert_eq!(parts[2], dec!(0));
        assert_eq!(parts, vec![dec!(0.01), dec!(0.04), dec!(0.00)]);
    }

    #[test]
    fn allocation_of_zero_weights_is_equal() {
        let parts = allocate(dec!(1.00), &[dec!(0), dec!(0), dec!(0)]);
        assert_eq!(parts, vec![dec!(0.34), dec!(0.33), dec!(0.33)]);
        assert!(allocate(dec!(5), &[]).is_empty());
    }

    #[test]
    fn allocation_of_negative_total_mirrors_positive() {
        let parts = allocate(dec!(-10), &[dec!(2), dec!(1)]);
        assert_eq!(parts, vec![dec!(-6.67), dec!(-3.33)]);
    }
}
