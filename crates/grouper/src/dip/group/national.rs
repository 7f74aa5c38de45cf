//! Grouping under the national DIP 3.0 rules ([`Rules::National`]): exclusions (the
//! principal diagnosis by whole code → `excluded`; the principal procedure by its note),
//! then pre-grouping → merge → burn → tumour → TB → basic rule → composite, the first
//! layer with a match deciding. Within a layer, merge, burn and tumour rows are ranked
//! (earliest-listed secondary diagnosis, then most related groups / treatment codes);
//! the other layers take the first matching row. Ties go to the first row of the sheet.
//!
//! [`Rules::National`]: super::super::source::Rules::National

use super::super::compile::{Layer, NO_SLOT, ProcsKind, ResKind};
use super::*;

/// How a matching row ranks: (position of the secondary diagnosis that matched, number
/// of related groups and treatment codes).
type NatRank = (u32, u32);

/// The layers in the order of the specification.
const LAYERS: [Layer; 7] = [
    Layer::Pre,
    Layer::Merge,
    Layer::Refine,
    Layer::Burn,
    Layer::Tumor,
    Layer::Tb,
    Layer::Core,
];

impl Catalog {
    pub(super) fn run_national<T: Tracer>(
        &self,
        case: &DipCase,
        s: &mut DipScratch,
        t: &mut T,
        mut out: DipOutcome,
    ) -> DipOutcome {
        s.px.clear();
        s.principal = None;
        // 1. Exclusions: the principal diagnosis (status `excluded`), then the principal
        // procedure by its note.
        let pdx = match self.principal_dx(case, t, out, DipStatus::Excluded) {
            Ok(pdx) => pdx,
            Err(out) => return out,
        };
        s.px.extend_from_slice(&case.px);
        s.principal = case.px.first().copied();
        if let Some(p) = s.principal
            && self.px.excl[p as usize] != Excl::None
        {
            let unless = self.px_unless[p as usize];
            let keep = unless != NO_SLOT && Self::bit(self.class_row(pdx), unless);
            if T::ON {
                t.step(DipStep::PrincipalProcedure {
                    code: self.px_code(p),
                    kept: keep,
                    note: if unless == NO_SLOT {
                        "not admitted as principal procedure: grouped as conservative treatment"
                            .into()
                    } else if keep {
                        format!(
                            "stays principal: the principal diagnosis is in {}",
                            self.slots[unless as usize]
                        )
                    } else {
                        format!(
                            "the principal diagnosis is not in {}: grouped as conservative treatment",
                            self.slots[unless as usize]
                        )
                    },
                });
            }
            if !keep {
                s.principal = None;
            }
        }
        out.attribute = s
            .principal
            .map_or(Attribute::Conservative, |p| self.px.attr[p as usize]);
        self.diagnosis_bits(case, s);

        let cands = self.cands(pdx);
        let meta = self.cand_metas(pdx);
        // The kind of principal-procedure cell a row must not have to match this case.
        let never = if s.principal.is_some() {
            ProcsKind::Conservative
        } else {
            ProcsKind::Listed
        };
        let mut i = 0;
        for layer in LAYERS {
            let start = i;
            let ranked = matches!(layer, Layer::Merge | Layer::Burn | Layer::Tumor);
            let mut best: Option<(u32, NatRank)> = None;
            while i < cands.len() && meta[i].layer == layer {
                let row = cands[i].row;
                let kind = meta[i].procs;
                i += 1;
                // Skipped unread (explanations show every row tried).
                if !T::ON && kind == never {
                    continue;
                }
                let m = self.nat_matches(row, case, s);
                if T::ON {
                    self.trace_type(row, m.is_some(), case, s, t);
                }
                let Some(rank) = m else { continue };
                if !ranked {
                    return self.found_national(out, row, case, s, t);
                }
                best = match best {
                    None => Some((row, rank)),
                    Some((b, brank)) => {
                        let wins = rank.0 < brank.0 || (rank.0 == brank.0 && rank.1 > brank.1);
                        let (kept, lost) = if wins {
                            ((row, rank), (b, brank))
                        } else {
                            ((b, brank), (row, rank))
                        };
                        if T::ON {
                            self.trace_nat_preference(kept, lost, t);
                        }
                        Some(kept)
                    }
                };
            }
            if let Some((row, _)) = best {
                return self.found_national(out, row, case, s, t);
            }
            if T::ON && start == i && !matches!(layer, Layer::Refine) {
                t.step(DipStep::LayerEmpty { layer });
            }
        }
        // Composite types (local catalogues): category × attribute of the principal
        // procedure.
        if let Some(row) = self.composite(cands, &mut i, out.attribute, case, s, t) {
            return self.found_national(out, row, case, s, t);
        }
        if T::ON {
            t.step(DipStep::Ungrouped {
                message: DipReason::NoType.message().into(),
            });
        }
        out.reason = Some(DipReason::NoType);
        out
    }

    /// Records the type, the primary-care decision and the auxiliary sub-type.
    fn found_national<T: Tracer>(
        &self,
        out: DipOutcome,
        row: u32,
        case: &DipCase,
        s: &DipScratch,
        t: &mut T,
    ) -> DipOutcome {
        let mut out = self.found(out, row, case, s, t);
        if self.pc_rows.is_empty() {
            // A local catalogue without primary_care.csv: the type's flag stands.
            return out;
        }
        let ty = &self.types[row as usize];
        let eligible = matches!(ty.layer, Layer::Merge | Layer::Core) && ty.nat.related.1 == 0;
        let pdx = case.dx[0] as usize;
        let rows = &self.pc_list[self.pc_start[pdx] as usize..self.pc_start[pdx + 1] as usize];
        let hit = if eligible {
            rows.iter()
                .copied()
                .find(|&r| self.principal_in(self.pc_rows[r as usize].2, s.principal))
        } else {
            None
        };
        out.primary_care = hit.is_some();
        if T::ON {
            let detail = match (eligible, hit) {
                (false, _) => format!(
                    "only merge or basic-rule types without related procedures can be primary care ({} is {}{})",
                    ty.code,
                    ty.layer.as_str(),
                    if ty.nat.related.1 > 0 {
                        " with related procedures"
                    } else {
                        ""
                    }
                ),
                (true, Some(r)) => format!(
                    "六、基层病种 row {} ({}) names the principal diagnosis and procedure",
                    self.pc_rows[r as usize].0, self.pc_rows[r as usize].1
                ),
                (true, None) if rows.is_empty() => {
                    "no row of 六、基层病种 names the principal diagnosis".to_string()
                }
                (true, None) => format!(
                    "rows {} of 六、基层病种 name the principal diagnosis, but not its principal procedure",
                    rows.iter()
                        .map(|&r| self.pc_rows[r as usize].0.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            t.step(DipStep::PrimaryCare {
                primary_care: out.primary_care,
                detail,
            });
        }
        out
    }

    /// Whether a principal-procedure condition holds (empty = none).
    #[inline]
    fn principal_in(&self, procs: Procs, principal: Option<u32>) -> bool {
        match procs {
            Procs::Any => true,
            Procs::Conservative => principal.is_none(),
            Procs::Alts(start, len) => principal.is_some_and(|p| {
                self.alts[start as usize..(start + len) as usize]
                    .iter()
                    .any(|&(cs, cl)| self.alt_codes[cs as usize..(cs + cl) as usize].contains(&p))
            }),
        }
    }

    /// Whether every group `alts[start..start+len]` has a code among `codes`.
    #[inline]
    fn groups_met(&self, (start, len): (u32, u32), codes: &[u32]) -> bool {
        self.alts[start as usize..(start + len) as usize]
            .iter()
            .all(|&(cs, cl)| {
                self.alt_codes[cs as usize..(cs + cl) as usize]
                    .iter()
                    .any(|c| codes.contains(c))
            })
    }

    /// Whether a row matches under national rules, and its rank.
    #[inline]
    fn nat_matches(&self, row: u32, case: &DipCase, s: &DipScratch) -> Option<NatRank> {
        let hot = &self.hot[row as usize];
        if !self.principal_in(hot.procs, s.principal) {
            return None;
        }
        if hot.has_cond && !self.conditions(&self.types[row as usize], case, s) {
            return None;
        }
        let n = &hot.nat;
        if n.related.1 > 0 && !self.groups_met(n.related, case.px.get(1..).unwrap_or_default()) {
            return None;
        }
        if n.all_px.1 > 0 && !self.groups_met(n.all_px, &case.px) {
            return None;
        }
        let mut sec = 0;
        if let Some(slot) = n.secondary {
            sec = case.dx[1..]
                .iter()
                .position(|&x| Self::bit(self.class_row(x), slot))? as u32;
        }
        if let Some((kind, marker)) = n.resistance {
            let w = self.words;
            let listed = self.listed_slot != NO_SLOT && Self::bit(&s.bits[..w], self.listed_slot);
            let mark = Self::bit(&s.bits[w..], marker);
            let ok = match kind {
                ResKind::ListedOrMarker => listed || mark,
                ResKind::NeitherListedNorMarker => !listed && !mark,
                ResKind::Marker => mark,
                ResKind::NoMarker => !mark,
            };
            if !ok {
                return None;
            }
        }
        Some((sec, n.related.1 + n.all_px.1))
    }

    fn trace_nat_preference<T: Tracer>(
        &self,
        (w, rw): (u32, NatRank),
        (l, rl): (u32, NatRank),
        t: &mut T,
    ) {
        let rule = if rw.0 != rl.0 {
            format!(
                "its secondary diagnosis is listed earlier (secondary #{} before #{})",
                rw.0 + 1,
                rl.0 + 1
            )
        } else if rw.1 != rl.1 {
            format!(
                "more related procedure groups / treatment codes matched ({} > {})",
                rw.1, rl.1
            )
        } else {
            format!("tie ({} groups each): the first row of the sheet", rw.1)
        };
        t.step(DipStep::Preferred {
            winner: self.types[w as usize].code.clone(),
            loser: self.types[l as usize].code.clone(),
            rule,
        });
    }

    /// The facts behind a row's verdict under national rules (explanations only).
    pub(super) fn describe_national(&self, ty: &DipType, case: &DipCase, s: &DipScratch) -> String {
        let mut parts = Vec::new();
        let w = self.words;
        let c = &ty.cond;
        if let Some(k) = c.any_dx {
            let yes = Self::bit(&s.bits[..w], k) || Self::bit(&s.bits[w..], k);
            parts.push(format!(
                "some diagnosis in {}: {yes}",
                self.slots[k as usize]
            ));
        }
        for (name, r, v) in [
            ("age_days", c.age_days, case.age_days),
            ("weight", c.weight, case.weight),
            ("age", c.age, case.age),
            ("los", c.los, case.los),
            ("vent_hours", c.vent_hours, case.vent_hours),
        ] {
            if let Some(r) = r {
                parts.push(describe_range(name, r, v));
            }
        }
        let principal = s
            .principal
            .map_or_else(|| "none".to_string(), |p| self.px_code(p));
        match ty.procs {
            Procs::Any => {}
            Procs::Conservative => parts.push(format!(
                "conservative (no principal procedure); principal procedure: {principal}: {}",
                s.principal.is_none()
            )),
            Procs::Alts(..) => parts.push(format!(
                "principal procedure {principal} in the cell: {}",
                self.principal_in(ty.procs, s.principal)
            )),
        }
        let show_groups = |what: &str, (start, len): (u32, u32), codes: &[u32]| -> String {
            let groups: Vec<String> = self.alts[start as usize..(start + len) as usize]
                .iter()
                .map(|&(cs, cl)| {
                    let g = &self.alt_codes[cs as usize..(cs + cl) as usize];
                    let met = g.iter().find(|c| codes.contains(c));
                    match met {
                        Some(&m) => format!("{} met", self.px_code(m)),
                        None => format!(
                            "none of {}",
                            g.iter()
                                .map(|&p| self.px_code(p))
                                .collect::<Vec<_>>()
                                .join("|")
                        ),
                    }
                })
                .collect();
            format!("{what} {len} group(s): [{}]", groups.join("; "))
        };
        let n = &ty.nat;
        if n.related.1 > 0 {
            parts.push(show_groups(
                "related",
                n.related,
                case.px.get(1..).unwrap_or_default(),
            ));
        }
        if n.all_px.1 > 0 {
            parts.push(show_groups("anywhere", n.all_px, &case.px));
        }
        if let Some(slot) = n.secondary {
            let pos = case.dx[1..]
                .iter()
                .position(|&x| Self::bit(self.class_row(x), slot));
            parts.push(match pos {
                Some(p) => format!(
                    "secondary diagnosis #{} ({}) in {}",
                    p + 1,
                    self.class_key(case.dx[p + 1]),
                    self.slots[slot as usize]
                ),
                None => format!("no secondary diagnosis in {}", self.slots[slot as usize]),
            });
        }
        if let Some((kind, marker)) = n.resistance {
            let listed = self.listed_slot != NO_SLOT && Self::bit(&s.bits[..w], self.listed_slot);
            let mark = Self::bit(&s.bits[w..], marker);
            parts.push(format!(
                "drug resistance {}: principal diagnosis listed {listed}, {} among the secondary diagnoses {mark}",
                match kind {
                    ResKind::ListedOrMarker => "listed or marker",
                    ResKind::NeitherListedNorMarker => "neither listed nor marker",
                    ResKind::Marker => "marker",
                    ResKind::NoMarker => "no marker",
                },
                self.slots[marker as usize]
            ));
        }
        if parts.is_empty() {
            "no condition".into()
        } else {
            parts.join("; ")
        }
    }
}
