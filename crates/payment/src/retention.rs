//! Surplus retention (结余留用) and deficit sharing (合理超支分担) by bands, each band
//! applying only to the slice of the surplus or deficit inside it.

use drgdip_pricing::money::round_yuan;
use rust_decimal::Decimal;

use crate::policy::Band;

/// One band's slice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slice {
    /// Lower end of the band in yuan (budget × previous `up_to`).
    pub from: Decimal,
    /// Upper end in yuan (None = open).
    pub to: Option<Decimal>,
    /// Part of the surplus/deficit inside the band.
    pub amount: Decimal,
    /// The band's share of that part (kept, or borne by the fund), rounded to the fen.
    pub share_amount: Decimal,
}

/// Result of applying bands to a surplus or a deficit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Banded {
    /// The slices, band by band.
    pub slices: Vec<Slice>,
    /// Σ share amounts: kept (surplus) or borne by the fund (deficit).
    pub shared: Decimal,
    /// The rest: carried into next year's budget (surplus) or borne by the
    /// hospital/community (deficit). `shared + rest` equals the input amount exactly.
    pub rest: Decimal,
}

/// Applies `bands` to `amount` (a surplus or a deficit, ≥ 0) of a `budget`.
///
/// Band limits in yuan are `round(budget × up_to)`; band *i* covers the amount between
/// the previous limit (exclusive) and its own (inclusive), so an amount exactly at 5%
/// of the budget lies wholly in the first band. Each slice's share is rounded to the
/// fen; the rest is `amount − Σ shares`, so the parts add up exactly.
#[must_use]
pub fn apply_bands(budget: Decimal, amount: Decimal, bands: &[Band]) -> Banded {
    let amount = round_yuan(amount.max(Decimal::ZERO));
    let mut slices = Vec::with_capacity(bands.len());
    let mut from = round_yuan(Decimal::ZERO);
    let mut shared = round_yuan(Decimal::ZERO);
    for band in bands {
        let to = band
            .up_to
            .map(|u| round_yuan(budget.max(Decimal::ZERO) * u));
        let upper = to.map_or(amount, |t| t.min(amount));
        let part = round_yuan((upper - from).max(Decimal::ZERO));
        let share_amount = round_yuan(part * band.share);
        shared += share_amount;
        slices.push(Slice {
            from,
            to,
            amount: part,
            share_amount,
        });
        match to {
            Some(t) => from = t.max(from),
            None => break,
        }
    }
    Banded {
        slices,
        shared,
        rest: amount - shared,
    }
}

/// What a settlement unit's year comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitResult {
    /// Budget − spent (positive = surplus, negative = deficit), yuan.
    pub surplus_or_deficit: Decimal,
    /// Surplus kept by the unit.
    pub retained: Decimal,
    /// Surplus carried into next year's budget.
    pub carried: Decimal,
    /// Part of a deficit the fund bears (paid on top of the budget).
    pub fund_share: Decimal,
    /// Part of a deficit the unit bears.
    pub unit_share: Decimal,
    /// What the fund pays the unit in total: spent + retained (surplus) or budget +
    /// fund share (deficit).
    pub paid: Decimal,
}

/// Settles a unit: surplus bands when `spent ≤ budget`, deficit bands otherwise.
#[must_use]
pub fn settle_unit(
    budget: Decimal,
    spent: Decimal,
    surplus_bands: &[Band],
    deficit_bands: &[Band],
) -> UnitResult {
    let budget = round_yuan(budget);
    let spent = round_yuan(spent);
    let diff = budget - spent;
    let zero = round_yuan(Decimal::ZERO);
    if diff >= Decimal::ZERO {
        let b = apply_bands(budget, diff, surplus_bands);
        UnitResult {
            surplus_or_deficit: diff,
            retained: b.shared,
            carried: b.rest,
            fund_share: zero,
            unit_share: zero,
            paid: spent + b.shared,
        }
    } else {
        let b = apply_bands(budget, -diff, deficit_bands);
        UnitResult {
            surplus_or_deficit: diff,
            retained: zero,
            carried: zero,
            fund_share: b.shared,
            unit_share: b.rest,
            paid: budget + b.shared,
        }
    }
}
