//! County medical community (紧密型县域医共体): a tree lead hospital → township
//! hospitals → village clinics, and the allocation of the community's fund total among
//! its members with minimum shares per member kind.

use std::collections::{BTreeMap, BTreeSet};

use drgdip_pricing::money::{allocate, round_yuan};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::{Bfs, EdgeRef};
use rust_decimal::Decimal;

/// Role of a hospital in its community.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MemberKind {
    /// The lead (county) hospital, root of the tree.
    Lead,
    /// Central township health centre (中心卫生院).
    CentralTownship,
    /// General township health centre (一般卫生院).
    GeneralTownship,
    /// Village clinic (村卫生室): paid as spent.
    Village,
}

impl MemberKind {
    /// Parses `lead`, `central_township`, `general_township`, `village`.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "lead" => Some(Self::Lead),
            "central_township" => Some(Self::CentralTownship),
            "general_township" => Some(Self::GeneralTownship),
            "village" => Some(Self::Village),
            _ => None,
        }
    }

    /// The word used in files.
    #[must_use]
    pub fn key(self) -> &'static str {
        match self {
            Self::Lead => "lead",
            Self::CentralTownship => "central_township",
            Self::GeneralTownship => "general_township",
            Self::Village => "village",
        }
    }
}

/// A node of the community tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Hospital id.
    pub hospital: String,
    /// Role.
    pub kind: MemberKind,
}

/// A validated community: a tree rooted at the lead hospital.
#[derive(Debug, Clone)]
pub struct CommunityTree {
    /// Community id (also the id of its budget allocation).
    pub id: String,
    /// The tree; edges go parent → child.
    pub graph: DiGraph<Member, ()>,
    /// The lead's node.
    pub root: NodeIndex,
    /// Minimum share of the community total per member kind (summed over the members
    /// of that kind).
    pub min_share: BTreeMap<MemberKind, Decimal>,
}

impl PartialEq for CommunityTree {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
            && self.min_share == other.min_share
            && self.members() == other.members()
    }
}

/// One member's allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberAllocation {
    /// Hospital id.
    pub hospital: String,
    /// Parent in the tree (empty for the lead).
    pub parent: String,
    /// Role.
    pub kind: MemberKind,
    /// The member's own spending (its annual amount counted against the community
    /// budget; negative when audit deductions exceed its fund due), yuan.
    pub spent: Decimal,
    /// What it receives, yuan.
    pub allocation: Decimal,
}

impl CommunityTree {
    /// Builds the tree from `(hospital, kind, parent)` rows. Fails with a reason for a
    /// duplicate hospital, an unknown parent, a cycle, a village with children, or
    /// minimum shares that add up to more than 1.
    pub fn build(
        id: &str,
        lead: &str,
        members: &[(String, MemberKind, String)],
        min_share: BTreeMap<MemberKind, Decimal>,
    ) -> Result<Self, String> {
        let mut graph = DiGraph::new();
        let root = graph.add_node(Member {
            hospital: lead.to_owned(),
            kind: MemberKind::Lead,
        });
        let mut index = BTreeMap::new();
        index.insert(lead.to_owned(), root);
        for (h, kind, _) in members {
            if index.contains_key(h) {
                return Err(format!("hospital `{h}` appears twice in community `{id}`"));
            }
            let n = graph.add_node(Member {
                hospital: h.clone(),
                kind: *kind,
            });
            index.insert(h.clone(), n);
        }
        for (h, _, parent) in members {
            let p = *index.get(parent).ok_or_else(|| {
                format!("member `{h}` has parent `{parent}`, which is not in community `{id}`")
            })?;
            if graph[p].kind == MemberKind::Village {
                return Err(format!(
                    "member `{h}` hangs under village clinic `{parent}`; villages are leaves"
                ));
            }
            graph.add_edge(p, index[h], ());
        }
        // Every node must be reachable from the lead exactly once (a tree).
        let mut seen = BTreeSet::new();
        let mut bfs = Bfs::new(&graph, root);
        while let Some(n) = bfs.next(&graph) {
            seen.insert(n);
        }
        if seen.len() != graph.node_count() {
            return Err(format!(
                "community `{id}` is not a tree under its lead `{lead}` (a cycle or a member not connected to the lead)"
            ));
        }
        let sum: Decimal = min_share.values().copied().sum();
        if sum > Decimal::ONE {
            return Err(format!("minimum shares add up to {sum}, more than 1"));
        }
        Ok(Self {
            id: id.to_owned(),
            graph,
            root,
            min_share,
        })
    }

    /// `(hospital, kind, parent)` for every node, in breadth-first order from the lead
    /// (children in id order).
    #[must_use]
    pub fn members(&self) -> Vec<(String, MemberKind, String)> {
        let mut out = Vec::new();
        let mut queue = std::collections::VecDeque::from([(self.root, String::new())]);
        while let Some((n, parent)) = queue.pop_front() {
            let m = &self.graph[n];
            out.push((m.hospital.clone(), m.kind, parent));
            let mut kids: Vec<NodeIndex> = self.graph.edges(n).map(|e| e.target()).collect();
            kids.sort_by(|a, b| self.graph[*a].hospital.cmp(&self.graph[*b].hospital));
            for k in kids {
                queue.push_back((k, m.hospital.clone()));
            }
        }
        out
    }

    /// Every hospital id of the community.
    #[must_use]
    pub fn hospitals(&self) -> Vec<&str> {
        self.graph
            .node_weights()
            .map(|m| m.hospital.as_str())
            .collect()
    }

    /// Divides `total` among the members.
    ///
    /// Member kinds first (Σ over the kind's members), then members:
    ///
    /// 1. Village clinics are paid as spent, as far as the other kinds' minimum shares
    ///    leave room (`total − Σ floors`; scaled down pro rata otherwise).
    /// 2. The rest goes to the lead and the townships in proportion to their spending
    ///    (all of it to the lead when none of them spent anything).
    /// 3. Each kind with a minimum share that got less than `min_share × total` is
    ///    raised to it. The top-up comes **from the lead first**; only what the lead
    ///    cannot cover comes from the township kinds above their own floors, in
    ///    proportion to how far above (a kind without a floor has floor 0). Village
    ///    clinics never pay for a top-up.
    /// 4. Within a kind, members share by spending (equally when the kind spent 0).
    /// 5. Money is divided once, by largest remainder (ties by tree order), so the
    ///    allocations add up to `total` to the fen.
    ///
    /// Spending below zero (an audit deduction above the fund due) weighs as zero; the
    /// result still shows it as `spent`. Fails only if the floors cannot be met, which
    /// [`CommunityTree::build`] already rules out (they add up to at most 1).
    pub fn allocate(
        &self,
        total: Decimal,
        spent: &BTreeMap<String, Decimal>,
    ) -> Result<Vec<MemberAllocation>, String> {
        self.allocate_among(total, spent, &BTreeSet::new())
    }

    /// [`CommunityTree::allocate`] among the members not in `outside` (paid outside
    /// the community budget, e.g. zero-markup institutions); those are listed with
    /// an allocation of 0 and take no part in the minimum shares.
    pub fn allocate_among(
        &self,
        total: Decimal,
        spent: &BTreeMap<String, Decimal>,
        outside: &BTreeSet<String>,
    ) -> Result<Vec<MemberAllocation>, String> {
        use MemberKind::{CentralTownship, GeneralTownship, Lead, Village};
        let zero = Decimal::ZERO;
        let all = self.members();
        let inside: Vec<bool> = all.iter().map(|(h, _, _)| !outside.contains(h)).collect();
        let members: Vec<(String, MemberKind, String)> = all
            .iter()
            .zip(&inside)
            .filter(|(_, i)| **i)
            .map(|(m, _)| m.clone())
            .collect();
        let raw: Vec<Decimal> = members
            .iter()
            .map(|(h, _, _)| spent.get(h).copied().unwrap_or(zero))
            .collect();
        let weight: Vec<Decimal> = raw.iter().map(|s| (*s).max(zero)).collect();
        let total = total.max(zero);
        let present = |k: MemberKind| members.iter().any(|(_, kk, _)| *kk == k);
        let floor = |k: MemberKind| -> Decimal {
            if present(k) {
                self.min_share.get(&k).map_or(zero, |m| total * *m)
            } else {
                zero
            }
        };
        let kind_spend = |k: MemberKind| -> Decimal {
            members
                .iter()
                .zip(&weight)
                .filter(|((_, kk, _), _)| *kk == k)
                .map(|(_, s)| *s)
                .sum()
        };
        let mut amount: BTreeMap<MemberKind, Decimal> = BTreeMap::new();
        // 1. Village clinics as spent, within the room the other floors leave.
        let other_floors: Decimal = [Lead, CentralTownship, GeneralTownship]
            .into_iter()
            .map(floor)
            .sum();
        let villages = kind_spend(Village).min((total - other_floors).max(zero));
        amount.insert(Village, villages);
        // 2. The rest by spending among the lead and the townships.
        let rest = total - villages;
        let main = [Lead, CentralTownship, GeneralTownship];
        let main_spend: Decimal = main.into_iter().map(kind_spend).sum();
        for k in main {
            let a = if main_spend.is_zero() {
                if k == Lead { rest } else { zero }
            } else {
                rest * kind_spend(k) / main_spend
            };
            amount.insert(k, a);
        }
        // 3. Floors: raise, then take the top-up from the lead, then from the
        //    townships above their floors.
        let mut top_up = zero;
        for k in [CentralTownship, GeneralTownship, Village] {
            let f = floor(k);
            if amount[&k] < f {
                top_up += f - amount[&k];
                amount.insert(k, f);
            }
        }
        let from_lead = top_up.min(amount[&Lead]);
        *amount.get_mut(&Lead).expect("lead") -= from_lead;
        let left = top_up - from_lead;
        if left > zero {
            let above: Vec<(MemberKind, Decimal)> = [CentralTownship, GeneralTownship]
                .into_iter()
                .map(|k| (k, amount[&k] - floor(k)))
                .filter(|(_, e)| *e > zero)
                .collect();
            let room: Decimal = above.iter().map(|(_, e)| *e).sum();
            if room < left {
                return Err(format!(
                    "community `{}`: minimum shares need {left} more than the lead and the townships above their floors hold",
                    self.id
                ));
            }
            for (k, e) in &above {
                let take = left * *e / room;
                *amount.get_mut(k).expect("kind") -= take;
            }
        }
        // 4. Members within a kind by spending.
        let mut target = vec![zero; members.len()];
        for (k, a) in &amount {
            let ks = kind_spend(*k);
            let n = members.iter().filter(|(_, kk, _)| kk == k).count();
            for (i, (_, kk, _)) in members.iter().enumerate() {
                if kk == k {
                    target[i] = if ks.is_zero() {
                        *a / Decimal::from(n)
                    } else {
                        *a * weight[i] / ks
                    };
                }
            }
        }
        // 5. Once, to the fen.
        let mut money = allocate(total, &target).into_iter();
        let money: Vec<Decimal> = inside
            .iter()
            .map(|i| {
                if *i {
                    money.next().expect("one per member inside")
                } else {
                    round_yuan(zero)
                }
            })
            .collect();
        let raw: Vec<Decimal> = all
            .iter()
            .map(|(h, _, _)| spent.get(h).copied().unwrap_or(zero))
            .collect();
        Ok(all
            .into_iter()
            .zip(raw)
            .zip(money)
            .map(
                |(((hospital, kind, parent), spent), allocation)| MemberAllocation {
                    hospital,
                    parent,
                    kind,
                    spent,
                    allocation,
                },
            )
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn tree(min: &[(MemberKind, Decimal)]) -> CommunityTree {
        CommunityTree::build(
            "C1",
            "LEAD",
            &[
                ("T1".into(), MemberKind::CentralTownship, "LEAD".into()),
                ("T2".into(), MemberKind::GeneralTownship, "LEAD".into()),
                ("T3".into(), MemberKind::GeneralTownship, "LEAD".into()),
                ("V1".into(), MemberKind::Village, "T1".into()),
            ],
            min.iter().copied().collect(),
        )
        .unwrap()
    }

    fn spent(pairs: &[(&str, Decimal)]) -> BTreeMap<String, Decimal> {
        pairs.iter().map(|(h, d)| ((*h).to_owned(), *d)).collect()
    }

    #[test]
    fn proportional_when_no_floor_binds() {
        let t = tree(&[]);
        let a = t
            .allocate(
                dec!(1100),
                &spent(&[
                    ("LEAD", dec!(600)),
                    ("T1", dec!(200)),
                    ("T2", dec!(100)),
                    ("T3", dec!(100)),
                    ("V1", dec!(100)),
                ]),
            )
            .unwrap();
        let got: Vec<_> = a
            .iter()
            .map(|m| (m.hospital.as_str(), m.allocation))
            .collect();
        // Villages paid as spent (100); the rest 1000 by spending 600:200:100:100.
        assert_eq!(
            got,
            [
                ("LEAD", dec!(600.00)),
                ("T1", dec!(200.00)),
                ("T2", dec!(100.00)),
                ("T3", dec!(100.00)),
                ("V1", dec!(100.00))
            ]
        );
        assert_eq!(a[4].parent, "T1");
    }

    #[test]
    fn floors_raise_township_shares_and_the_lead_gives_way() {
        let t = tree(&[
            (MemberKind::CentralTownship, dec!(0.30)),
            (MemberKind::GeneralTownship, dec!(0.25)),
        ]);
        let a = t
            .allocate(
                dec!(1000.01),
                &spent(&[
                    ("LEAD", dec!(800)),
                    ("T1", dec!(100)),
                    ("T2", dec!(30)),
                    ("T3", dec!(10)),
                    ("V1", dec!(0)),
                ]),
            )
            .unwrap();
        let by: BTreeMap<_, _> = a
            .iter()
            .map(|m| (m.hospital.as_str(), m.allocation))
            .collect();
        let sum: Decimal = by.values().copied().sum();
        assert_eq!(sum, dec!(1000.01));
        // Central ≥ 30% of 1000.01 = 300.003 → 300.00 + remainder rule.
        assert!(by["T1"] >= dec!(300.00));
        // General together ≥ 25% = 250.0025, split 30:10.
        assert!(by["T2"] + by["T3"] >= dec!(250.00));
        assert_eq!(by["T2"], dec!(187.50));
        assert_eq!(by["T3"], dec!(62.50));
        // Lead gets what is left.
        assert_eq!(by["LEAD"], dec!(1000.01) - by["T1"] - by["T2"] - by["T3"]);
        assert_eq!(by["LEAD"], dec!(450.01));
    }

    #[test]
    fn village_clinics_yield_to_minimum_shares_when_money_is_short() {
        let t = tree(&[(MemberKind::CentralTownship, dec!(0.30))]);
        let a = t
            .allocate(
                dec!(100),
                &spent(&[
                    ("LEAD", dec!(50)),
                    ("T1", dec!(10)),
                    ("T2", dec!(0)),
                    ("T3", dec!(0)),
                    ("V1", dec!(500)),
                ]),
            )
            .unwrap();
        let by: BTreeMap<_, _> = a
            .iter()
            .map(|m| (m.hospital.as_str(), m.allocation))
            .collect();
        // The central township keeps its 30; the village gets the other 70 (its
        // spending exceeds what is left); the lead and general townships get nothing.
        assert_eq!(by["T1"], dec!(30.00));
        assert_eq!(by["V1"], dec!(70.00));
        assert_eq!(by["LEAD"], dec!(0.00));
        assert_eq!(by.values().copied().sum::<Decimal>(), dec!(100.00));
    }

    #[test]
    fn malformed_trees_are_rejected() {
        assert!(
            CommunityTree::build(
                "C",
                "L",
                &[("A".into(), MemberKind::Village, "X".into())],
                BTreeMap::new()
            )
            .is_err()
        );
        assert!(
            CommunityTree::build(
                "C",
                "L",
                &[("L".into(), MemberKind::Village, "L".into())],
                BTreeMap::new()
            )
            .is_err()
        );
        assert!(
            CommunityTree::build(
                "C",
                "L",
                &[
                    ("A".into(), MemberKind::GeneralTownship, "B".into()),
                    ("B".into(), MemberKind::GeneralTownship, "A".into())
                ],
                BTreeMap::new()
            )
            .is_err()
        );
        let too_much = [
            (MemberKind::CentralTownship, dec!(0.6)),
            (MemberKind::GeneralTownship, dec!(0.5)),
        ];
        assert!(CommunityTree::build("C", "L", &[], too_much.into_iter().collect()).is_err());
    }
}
