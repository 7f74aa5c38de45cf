//! Warnings of the payment pipelines: results that are computed correctly but mean
//! little, which the CLI prints loudly on stderr (and a service should show its user).
//!
//! - **Low grouping rate** ([`grouping_warning`]): more than [`UNGROUPED_LIMIT`] (20%) of
//!   the rows were not grouped (DRG `ungroupable` or `ambiguous`, DIP `ungrouped`, or
//!   `invalid`), the same limit `drgdip group` warns at
//!   ([`drgdip_io::drg::fit_warning`]): most likely the wrong scheme or catalogue, or
//!   clinical (国临版) codes grouped without `--map-codes`. Those cases are paid by the
//!   ungrouped rule, so the money figures are mostly not DRG/DIP payments at all.
//!   [`PriceSummary::warnings`](crate::PriceSummary::warnings),
//!   [`SettleSummary::warnings`](crate::SettleSummary::warnings) and
//!   [`Report::warnings`](crate::Report::warnings) return it.
//! - **Small part of the budget** ([`budget_warning`]): the settled cases' fund outlay
//!   is less than [`BUDGET_COVER_LIMIT`] (50%) of the budget the settlement divides
//!   among them (the `[budget]` remainder, or the DIP fund budget when there is no
//!   `[budget]`). A settlement point value is budget ÷ points: run on a sample or on
//!   part of the year, it hands the whole year's budget to these cases, so point values
//!   and surpluses come out inflated. A file covering the year fills most of its budget
//!   (the demo about 90%); half is far below any real year.

use rust_decimal::Decimal;

/// The share of rows not grouped above which the pipelines warn (as `group` does).
pub const UNGROUPED_LIMIT: f64 = drgdip_io::drg::FIT_LIMIT;

/// The share of the divided budget the settled cases' fund outlay must reach; below it
/// `settle` warns.
pub const BUDGET_COVER_LIMIT: Decimal = Decimal::from_parts(5, 0, 0, false, 1);

/// The warning for `not_grouped` of `rows` rows not grouped, if above the limit.
pub fn grouping_warning(rows: u64, not_grouped: u64) -> Option<String> {
    if rows == 0 {
        return None;
    }
    let share = not_grouped as f64 / rows as f64;
    (share > UNGROUPED_LIMIT).then(|| {
        format!(
            "WARNING: {not_grouped} of {rows} cases ({:.1}%) were not grouped (ungroupable, ungrouped, ambiguous or invalid): \
             they are paid by the ungrouped rule, not by DRG/DIP. Wrong scheme or catalogue, or code version? \
             国临版 (clinical) codes need `--map-codes` when grouping",
            100.0 * share
        )
    })
}

/// The warning when the settled cases' fund outlay `cases_fund` covers less than
/// [`BUDGET_COVER_LIMIT`] of `budget` (`what` names the budget).
pub fn budget_warning(cases_fund: Decimal, budget: Decimal, what: &str) -> Option<String> {
    if budget <= Decimal::ZERO {
        return None;
    }
    (cases_fund < budget * BUDGET_COVER_LIMIT).then(|| {
        let pct = (cases_fund * Decimal::ONE_HUNDRED / budget).round_dp(1);
        format!(
            "WARNING: the settled cases' fund outlay ({} yuan) is only {pct}% of the budget they divide ({what}: {} yuan): \
             a sample or part of the year? Point values, rates and surpluses computed from this budget are inflated",
            crate::columns::yuan(cases_fund),
            crate::columns::yuan(budget)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping_warning_above_one_fifth_only() {
        assert_eq!(grouping_warning(0, 0), None);
        assert_eq!(grouping_warning(100, 20), None);
        let w = grouping_warning(100, 21).expect("21% warns");
        assert!(w.contains("21 of 100 cases (21.0%)"), "{w}");
        assert!(w.contains("--map-codes"), "{w}");
    }

    #[test]
    fn budget_warning_below_half_only() {
        let b = Decimal::new(100_000_000, 2);
        assert_eq!(budget_warning(Decimal::new(50_000_000, 2), b, "x"), None);
        assert_eq!(budget_warning(Decimal::ONE, Decimal::ZERO, "x"), None);
        let w = budget_warning(Decimal::new(1_234_500, 2), b, "the [budget] remainder")
            .expect("1.2% warns");
        assert!(
            w.contains("(12345.00 yuan) is only 1.2% of the budget they divide (the [budget] remainder: 1000000.00 yuan)"),
            "{w}"
        );
    }
}
