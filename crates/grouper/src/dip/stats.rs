//! Trimmed, year-weighted group statistics: the machinery behind DIP scores
//! ([`super::build`]) and DRG weights.
//!
//! Money is summed exactly in fen (`i128`); only the coefficient of variation goes
//! through `f64`, at the very end. Each group's cases are sorted by cost and the lowest
//! `⌊n × low⌋` and highest `⌊n × (1 − high)⌋` are set aside (by count of cases, whatever
//! their year weight); means are year-weighted over the rest:
//! `mean = Σ wᵢcᵢ / Σ wᵢ`. The result does not depend on the input order or on the
//! number of threads.

use rayon::prelude::*;
use rust_decimal::Decimal;

/// One case as the statistics see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Obs {
    /// Group (type or DRG) index.
    pub group: u32,
    /// Year weight.
    pub weight: u32,
    /// Cost in fen.
    pub cost: i64,
    /// Length of stay in days.
    pub los: i64,
    /// Treated in a primary-care hospital.
    pub primary: bool,
}

/// The trimming quantiles, in permille: cases below `low` and above `high` are set aside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trim {
    /// Lower quantile (default 25 = 2.5%).
    pub low_permille: u32,
    /// Upper quantile (default 975 = 97.5%).
    pub high_permille: u32,
}

impl Default for Trim {
    fn default() -> Self {
        Trim {
            low_permille: 25,
            high_permille: 975,
        }
    }
}

impl Trim {
    /// No trimming.
    pub const NONE: Trim = Trim {
        low_permille: 0,
        high_permille: 1000,
    };

    /// The kept index range of `n` sorted cases.
    pub fn kept(self, n: usize) -> std::ops::Range<usize> {
        let low = n * self.low_permille as usize / 1000;
        let high = n * (1000 - self.high_permille.min(1000)) as usize / 1000;
        low..(n - high).max(low)
    }
}

/// The statistics of one group (or of all cases).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupStats {
    /// Cases in the group, trimmed or not.
    pub cases: u64,
    /// Cases kept after trimming.
    pub kept: u64,
    /// Σ year weights of the kept cases.
    pub weight: i128,
    /// Σ weight × cost (fen) of the kept cases.
    pub cost: i128,
    /// Σ weight × cost² of the kept cases.
    pub cost_sq: i128,
    /// Σ weight × LOS of the kept cases.
    pub los: i128,
    /// Cases (all, unweighted) treated in primary care.
    pub primary: u64,
}

/// `a / b` rounded half up, for `a ≥ 0`, `b > 0`.
pub fn div_half_up(a: i128, b: i128) -> i128 {
    (2 * a + b) / (2 * b)
}

impl GroupStats {
    /// Adds another group's sums.
    pub fn add(&mut self, o: &GroupStats) {
        self.cases += o.cases;
        self.kept += o.kept;
        self.weight += o.weight;
        self.cost += o.cost;
        self.cost_sq += o.cost_sq;
        self.los += o.los;
        self.primary += o.primary;
    }

    /// Weighted mean cost in fen, rounded half up (0 when empty).
    pub fn mean_cost_fen(&self) -> i64 {
        if self.weight == 0 {
            0
        } else {
            div_half_up(self.cost, self.weight) as i64
        }
    }

    /// Weighted mean cost in yuan, 2 decimals.
    pub fn mean_cost_yuan(&self) -> Decimal {
        Decimal::new(self.mean_cost_fen(), 2)
    }

    /// Weighted mean length of stay, 2 decimals, rounded half up.
    pub fn mean_los(&self) -> Decimal {
        if self.weight == 0 {
            return Decimal::ZERO;
        }
        Decimal::from_i128_with_scale(div_half_up(self.los * 100, self.weight), 2)
    }

    /// Coefficient of variation SD / mean over the kept cases (weighted, population).
    pub fn cv(&self) -> f64 {
        if self.cost <= 0 {
            return 0.0;
        }
        let num = self.weight * self.cost_sq - self.cost * self.cost;
        (num.max(0) as f64).sqrt() / self.cost as f64
    }

    /// Share of the group's cases treated in primary care.
    pub fn primary_share(&self) -> f64 {
        if self.cases == 0 {
            0.0
        } else {
            self.primary as f64 / self.cases as f64
        }
    }

    /// `(this mean / overall mean) × scale`, rounded half up to `decimals` places:
    /// the DIP score (scale 1000) or the DRG weight (scale 1).
    pub fn relative(&self, overall: &GroupStats, scale: u32, decimals: u32) -> Decimal {
        if self.weight == 0 || overall.cost == 0 {
            return Decimal::ZERO;
        }
        let pow = 10i128.pow(decimals);
        let exact = self
            .cost
            .checked_mul(overall.weight)
            .and_then(|x| x.checked_mul(scale as i128 * pow))
            .zip(self.weight.checked_mul(overall.cost));
        match exact {
            Some((num, den)) => Decimal::from_i128_with_scale(div_half_up(num, den), decimals),
            None => {
                // Beyond i128 (not reachable with real costs): decimal arithmetic.
                let m = Decimal::from_i128_with_scale(self.cost, 0)
                    / Decimal::from_i128_with_scale(self.weight, 0);
                let all = Decimal::from_i128_with_scale(overall.cost, 0)
                    / Decimal::from_i128_with_scale(overall.weight, 0);
                (m / all * Decimal::from(scale)).round_dp_with_strategy(
                    decimals,
                    rust_decimal::RoundingStrategy::MidpointAwayFromZero,
                )
            }
        }
    }
}

/// Statistics of `groups` groups and of all their kept cases together.
pub fn compute(obs: &[Obs], groups: usize, trim: Trim) -> (Vec<GroupStats>, GroupStats) {
    // Counting sort by group.
    let mut start = vec![0usize; groups + 1];
    for o in obs {
        start[o.group as usize + 1] += 1;
    }
    for g in 0..groups {
        start[g + 1] += start[g];
    }
    let mut next = start.clone();
    let mut sorted = vec![(0i64, 0u32, 0i64, false); obs.len()];
    for o in obs {
        let slot = &mut next[o.group as usize];
        sorted[*slot] = (o.cost, o.weight, o.los, o.primary);
        *slot += 1;
    }
    let mut slices: Vec<&mut [(i64, u32, i64, bool)]> = Vec::with_capacity(groups);
    let mut rest = sorted.as_mut_slice();
    for g in 0..groups {
        let (head, tail) = rest.split_at_mut(start[g + 1] - start[g]);
        slices.push(head);
        rest = tail;
    }
    let stats: Vec<GroupStats> = slices
        .into_par_iter()
        .map(|s| {
            s.sort_unstable();
            let mut g = GroupStats {
                cases: s.len() as u64,
                primary: s.iter().filter(|x| x.3).count() as u64,
                ..GroupStats::default()
            };
            for &(cost, w, los, _) in &s[trim.kept(s.len())] {
                let (c, w) = (cost as i128, w as i128);
                g.kept += 1;
                g.weight += w;
                g.cost += w * c;
                g.cost_sq += w * c * c;
                g.los += w * los as i128;
            }
            g
        })
        .collect();
    let mut all = GroupStats::default();
    for g in &stats {
        all.add(g);
    }
    (stats, all)
}

/// The year weights of the distinct `years` (ascending): the newest year gets the last
/// weight. `None` when there are more years than weights.
pub fn year_weights(years: &[u16], weights: &[u32]) -> Option<Vec<u32>> {
    if years.len() > weights.len() {
        return None;
    }
    Some(weights[weights.len() - years.len()..].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(group: u32, weight: u32, cost: i64) -> Obs {
        Obs {
            group,
            weight,
            cost,
            los: 2,
            primary: group == 1,
        }
    }

    #[test]
    fn trimmed_weighted_means() {
        assert_eq!(Trim::default().kept(39), 0..39);
        assert_eq!(Trim::default().kept(40), 1..39);
        assert_eq!(Trim::default().kept(100), 2..98);
        // Group 0: costs 100, 200 (w 1), 300 (w 2): mean = (100+200+600)/4 = 225.
        let obs = [o(0, 1, 100), o(0, 2, 300), o(0, 1, 200), o(1, 7, 1000)];
        let (g, all) = compute(&obs, 2, Trim::NONE);
        assert_eq!(g[0].mean_cost_fen(), 225);
        assert_eq!(g[0].cases, 3);
        assert_eq!(g[1].primary, 1);
        // Overall: (900 + 7000) / 11 = 718.18…
        assert_eq!(all.mean_cost_fen(), 718);
        // Score of group 0: 225 / (7900/11) × 1000 = 313.29…
        assert_eq!(g[0].relative(&all, 1000, 2).to_string(), "313.29");
        assert_eq!(g[1].relative(&all, 1000, 2).to_string(), "1392.41");
        // CV of group 0: values 100, 200, 300, 300 → sd = sqrt(6875) = 82.9156, /225.
        assert!((g[0].cv() - 0.368514).abs() < 1e-6, "{}", g[0].cv());
        assert_eq!(g[1].cv(), 0.0);
        assert_eq!(g[0].mean_los().to_string(), "2.00");
    }

    #[test]
    fn weights_align_to_newest_year() {
        assert_eq!(year_weights(&[2023, 2024], &[1, 2, 7]), Some(vec![2, 7]));
        assert_eq!(
            year_weights(&[2022, 2023, 2024], &[1, 2, 7]),
            Some(vec![1, 2, 7])
        );
        assert_eq!(year_weights(&[2021, 2022, 2023, 2024], &[1, 2, 7]), None);
    }
}
