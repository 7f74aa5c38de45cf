//! Special-case review (特例单议): which flagged cases a hospital may have approved
//! within its quota.

use rust_decimal::Decimal;

/// A case that may be put forward for special-case review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewCandidate {
    /// Case id (tie-breaker).
    pub case_id: String,
    /// Cost / standard of the case.
    pub cost_ratio: Decimal,
    /// Total cost of the case (paid by items when approved), yuan.
    pub total_cost: Decimal,
    /// The case's payment standard before review, yuan.
    pub payment_standard: Decimal,
}

/// How many cases a hospital may have approved: ⌊discharges × quota⌋.
#[must_use]
pub fn quota_count(discharges: u64, quota: Decimal) -> usize {
    let n = (Decimal::from(discharges) * quota).floor();
    usize::try_from(n.mantissa() / 10i128.pow(n.scale())).unwrap_or(0)
}

/// Orders candidates by cost ratio (highest first, ties by case id) and returns how
/// many of the first ones are approved under the quota. Approved cases are paid by
/// items (their total cost) instead of the payment standard.
#[must_use]
pub fn select_special_cases(
    candidates: &mut [ReviewCandidate],
    discharges: u64,
    quota: Decimal,
) -> usize {
    candidates.sort_by(|a, b| {
        b.cost_ratio
            .cmp(&a.cost_ratio)
            .then_with(|| a.case_id.cmp(&b.case_id))
    });
    quota_count(discharges, quota).min(candidates.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn cand(id: &str, ratio: Decimal) -> ReviewCandidate {
        ReviewCandidate {
            case_id: id.into(),
            cost_ratio: ratio,
            total_cost: dec!(1),
            payment_standard: dec!(1),
        }
    }

    #[test]
    fn quota_is_floored_and_highest_ratios_win() {
        assert_eq!(quota_count(999, dec!(0.005)), 4);
        assert_eq!(quota_count(1000, dec!(0.005)), 5);
        assert_eq!(quota_count(19, dec!(0.05)), 0);
        let mut c = vec![cand("b", dec!(6)), cand("a", dec!(6)), cand("c", dec!(9))];
        let n = select_special_cases(&mut c, 40, dec!(0.05));
        assert_eq!(n, 2);
        let ids: Vec<_> = c.iter().map(|x| x.case_id.as_str()).collect();
        assert_eq!(ids, ["c", "a", "b"]);
    }
}
