//! The pooled fund: risk reserve, city reserve, allocations and remainder, to the fen.

use drgdip_pricing::money::{allocate, round_yuan};
use rust_decimal::Decimal;

/// How an allocation line is sized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetLine {
    /// A share of the pool left after both reserves.
    Share(Decimal),
    /// A fixed amount, yuan.
    Amount(Decimal),
}

/// One allocation of the budget (a county, a medical community).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    /// Id, e.g. the community's id.
    pub id: String,
    /// Amount, yuan.
    pub amount: Decimal,
}

/// The year's budget split. Invariant: `total = risk_reserve + city_reserve +
/// Σ allocations + remainder`, to the fen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    /// Pooled fund, yuan.
    pub total: Decimal,
    /// Risk reserve (风险金) rate.
    pub risk_reserve_rate: Decimal,
    /// City reserve rate (of what is left after the risk reserve).
    pub city_reserve_rate: Decimal,
    /// Risk reserve = round(total × risk rate).
    pub risk_reserve: Decimal,
    /// City reserve = round((total − risk reserve) × city rate), kept for the annual
    /// assessment.
    pub city_reserve: Decimal,
    /// Allocations in the policy's order.
    pub allocations: Vec<Allocation>,
    /// What is left: the pool paid to hospitals by DRG/DIP outside the allocations.
    pub remainder: Decimal,
}

/// Splits `total`: risk reserve off the top, city reserve off the rest, then the
/// allocation lines (shares of the pool after reserves, divided by largest remainder
/// together with the unallocated share; fixed amounts as given), remainder last.
/// Fails with a reason when the lines ask for more than the pool.
pub fn split_budget(
    total: Decimal,
    risk_rate: Decimal,
    city_rate: Decimal,
    lines: &[(String, BudgetLine)],
) -> Result<Budget, String> {
    let total = round_yuan(total);
    let risk_reserve = round_yuan(total * risk_rate);
    let city_reserve = round_yuan((total - risk_reserve) * city_rate);
    let pool = total - risk_reserve - city_reserve;
    let share_sum: Decimal = lines
        .iter()
        .filter_map(|(_, l)| match l {
            BudgetLine::Share(s) => Some(*s),
            BudgetLine::Amount(_) => None,
        })
        .sum();
    if share_sum > Decimal::ONE {
        return Err(format!(
            "allocation shares add up to {share_sum}, more than 1"
        ));
    }
    let mut weights: Vec<Decimal> = lines
        .iter()
        .map(|(_, l)| match l {
            BudgetLine::Share(s) => *s,
            BudgetLine::Amount(_) => Decimal::ZERO,
        })
        .collect();
    weights.push(Decimal::ONE - share_sum);
    let parts = if share_sum.is_zero() {
        let mut v = vec![Decimal::ZERO; lines.len()];
        v.push(pool);
        v
    } else {
        allocate(pool, &weights)
    };
    let mut allocations = Vec::with_capacity(lines.len());
    let mut fixed = Decimal::ZERO;
    for ((id, line), part) in lines.iter().zip(&parts) {
        let amount = match line {
            BudgetLine::Share(_) => *part,
            BudgetLine::Amount(a) => {
                let a = round_yuan(*a);
                fixed += a;
                a
            }
        };
        allocations.push(Allocation {
            id: id.clone(),
            amount,
        });
    }
    let remainder = parts[lines.len()] - fixed;
    if remainder < Decimal::ZERO {
        return Err(format!(
            "allocations exceed the pool after reserves ({pool}) by {}",
            -remainder
        ));
    }
    Ok(Budget {
        total,
        risk_reserve_rate: risk_rate,
        city_reserve_rate: city_rate,
        risk_reserve,
        city_reserve,
        allocations,
        remainder,
    })
}

impl Budget {
    /// The allocation with this id.
    #[must_use]
    pub fn allocation(&self, id: &str) -> Option<Decimal> {
        self.allocations
            .iter()
            .find(|a| a.id == id)
            .map(|a| a.amount)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn reserves_allocations_and_remainder_add_up_to_the_fen() {
        let b = split_budget(
            dec!(100000000.01),
            dec!(0.01),
            dec!(0.03),
            &[
                ("A".into(), BudgetLine::Share(dec!(0.3333))),
                ("B".into(), BudgetLine::Share(dec!(0.3333))),
                ("C".into(), BudgetLine::Amount(dec!(1000000))),
            ],
        )
        .unwrap();
        assert_eq!(b.risk_reserve, dec!(1000000.00)); // 1000000.0001 → .00
        assert_eq!(b.city_reserve, dec!(2970000.00)); // 99000000.01 × 3% = 2970000.0003
        let alloc: Decimal = b.allocations.iter().map(|a| a.amount).sum();
        assert_eq!(
            b.risk_reserve + b.city_reserve + alloc + b.remainder,
            b.total
        );
        // Pool 96030000.01; A and B each 0.3333 of it.
        assert_eq!(
            b.allocations[0].amount + b.allocations[1].amount,
            dec!(64013598.00)
        );
        assert_eq!(b.allocation("C"), Some(dec!(1000000.00)));
    }

    #[test]
    fn over_allocation_is_an_error() {
        assert!(
            split_budget(
                dec!(100),
                dec!(0.01),
                dec!(0.03),
                &[
                    ("A".into(), BudgetLine::Share(dec!(0.7))),
                    ("B".into(), BudgetLine::Share(dec!(0.4)))
                ]
            )
            .is_err()
        );
        assert!(
            split_budget(
                dec!(100),
                dec!(0),
                dec!(0),
                &[("A".into(), BudgetLine::Amount(dec!(100.01)))]
            )
            .is_err()
        );
    }
}
