//! Invariants of a decoded [`Catalog`]: every index the DIP grouper follows is checked
//! on load (the checksum of a compiled file catches damage, not a crafted file).

use super::Catalog;
use super::compile::{Layer, NO_SLOT, Procs, ResKind};
use crate::invariants::{index, length, range};

/// Unknown procedure ids per (attribute, exclusion) pair after the listed codes.
const SPECIAL_PROCEDURE_IDS: usize = 15;

impl Catalog {
    /// Checks every index a decoded catalogue follows.
    pub(crate) fn check_invariants(&self) -> Result<(), String> {
        let classes = self.dx.keys.len();
        index(
            "the number of classes",
            classes as u64,
            u32::MAX as usize - 2,
        )?;
        if self.dx.keys.windows(2).any(|w| w[0] >= w[1]) {
            return Err("the diagnosis class dictionary is not sorted".into());
        }
        let px = &self.px;
        let codes = px.codes.len();
        index(
            "the number of procedures",
            codes as u64,
            u32::MAX as usize - 16,
        )?;
        if px.codes.windows(2).any(|w| w[0] >= w[1]) {
            return Err("the procedure dictionary is not sorted".into());
        }
        length(
            "procedure attributes",
            px.attr.len(),
            codes + SPECIAL_PROCEDURE_IDS,
        )?;
        length(
            "procedure exclusions",
            px.excl.len(),
            codes + SPECIAL_PROCEDURE_IDS,
        )?;
        length("procedure coverage", px.covered.len(), codes)?;
        let rows = (classes + 1)
            .checked_mul(self.words)
            .ok_or("class rows overflow")?;
        length("class condition bits", self.class_bits.len(), rows)?;
        length("class exclusions", self.class_excluded.len(), classes + 1)?;
        length("class CCI categories", self.class_cci.len(), classes + 1)?;
        let cci = self.class_cci.iter().fold(0u32, |m, &c| m | c);
        if cci != 0 {
            let top = 31 - cci.leading_zeros();
            index("CCI category", top as u64, self.cci_weights.len())?;
        }
        length("candidate starts", self.cand_start.len(), classes + 2)?;
        if self.cand_start.windows(2).any(|w| w[0] > w[1]) {
            return Err("candidate starts are not in order".into());
        }
        let last = self.cand_start.last().copied().unwrap_or(0);
        range("candidates", 0, last, self.cand.len())?;
        let types = self.types.len();
        for c in &self.cand {
            index("candidate type row", c.row as u64, types)?;
        }
        let slot_bits = self.words as u64 * 64;
        let slot = |k: u32| -> Result<(), String> {
            index("condition slot", k as u64, self.slots.len())?;
            if k as u64 >= slot_bits {
                return Err(format!("condition slot {k} does not fit in the class rows"));
            }
            Ok(())
        };
        for &(start, len) in &self.alts {
            range("alternative codes", start, len, self.alt_codes.len())?;
        }
        let px_ids = codes + SPECIAL_PROCEDURE_IDS;
        for &p in &self.alt_codes {
            index("procedure id of an alternative", p as u64, px_ids)?;
        }
        for t in &self.types {
            let at = |e: String| format!("type `{}` (types.csv line {}): {e}", t.code, t.line);
            if let Procs::Alts(start, len) = t.procs {
                range("procedure alternatives", start, len, self.alts.len()).map_err(at)?;
            }
            if let Some(k) = t.cond.any_dx {
                slot(k).map_err(at)?;
            }
            self.check_national_type(t.layer, &t.nat, &slot)
                .map_err(at)?;
        }
        // Candidates of each class in layer order (the chain walks the layers once).
        for c in 0..classes + 1 {
            let cands = &self.cand[self.cand_start[c] as usize..self.cand_start[c + 1] as usize];
            if cands
                .windows(2)
                .any(|w| self.types[w[0].row as usize].layer > self.types[w[1].row as usize].layer)
            {
                return Err(format!(
                    "the candidates of class {c} are not in layer order"
                ));
            }
        }
        self.check_national_tables(classes, px_ids, &slot)?;
        for a in &self.aux {
            let at = |e: String| format!("sub-type `{}` (aux.csv line {}): {e}", a.code, a.line);
            for k in [a.principal_dx, a.secondary_dx].into_iter().flatten() {
                slot(k).map_err(at)?;
            }
            if let Some(ts) = &a.types {
                if ts.windows(2).any(|w| w[0] >= w[1]) {
                    return Err(at("its type ids are not sorted".into()));
                }
                for &t in ts {
                    index("type id", t as u64, types).map_err(at)?;
                }
            }
        }
        Ok(())
    }

    /// The national parts of one type: layers only national rules know, related and
    /// anywhere groups, the secondary-diagnosis and drug-resistance slots.
    fn check_national_type(
        &self,
        layer: Layer,
        nat: &super::compile::NationalParts,
        slot: &dyn Fn(u32) -> Result<(), String>,
    ) -> Result<(), String> {
        let national_layer = matches!(layer, Layer::Burn | Layer::Tumor | Layer::Tb);
        if !self.national {
            if national_layer {
                return Err(format!("layer {} outside national rules", layer.as_str()));
            }
            if *nat != super::compile::NationalParts::default() {
                return Err("national conditions outside national rules".into());
            }
            return Ok(());
        }
        range(
            "related groups",
            nat.related.0,
            nat.related.1,
            self.alts.len(),
        )?;
        range(
            "anywhere groups",
            nat.all_px.0,
            nat.all_px.1,
            self.alts.len(),
        )?;
        if let Some(k) = nat.secondary {
            slot(k)?;
        }
        if let Some((kind, marker)) = nat.resistance {
            slot(marker)?;
            let uses_list = matches!(
                kind,
                ResKind::ListedOrMarker | ResKind::NeitherListedNorMarker
            );
            if uses_list && self.listed_slot == NO_SLOT {
                return Err("its drug-resistance rule needs the tb_resistant list, which the catalogue does not have".into());
            }
        }
        Ok(())
    }

    /// The tables of national rules: principal-procedure notes per procedure id, the
    /// drug-resistance list, and the primary-care rows with their per-class index.
    fn check_national_tables(
        &self,
        classes: usize,
        px_ids: usize,
        slot: &dyn Fn(u32) -> Result<(), String>,
    ) -> Result<(), String> {
        length("principal-procedure notes", self.px_unless.len(), px_ids)?;
        for (p, &k) in self.px_unless.iter().enumerate() {
            if k == NO_SLOT {
                continue;
            }
            if !self.national {
                return Err("principal-procedure notes outside national rules".into());
            }
            slot(k).map_err(|e| format!("the note of procedure id {p}: {e}"))?;
        }
        if self.listed_slot != NO_SLOT {
            if !self.national {
                return Err("a drug-resistance list outside national rules".into());
            }
            slot(self.listed_slot).map_err(|e| format!("the tb_resistant list: {e}"))?;
        }
        if !self.national && !self.pc_rows.is_empty() {
            return Err("primary-care rows outside national rules".into());
        }
        for (code, _, procs) in &self.pc_rows {
            match *procs {
                Procs::Alts(start, len) => {
                    range("procedure alternatives", start, len, self.alts.len())
                        .map_err(|e| format!("primary-care row {code}: {e}"))?
                }
                Procs::Conservative => {}
                Procs::Any => {
                    return Err(format!(
                        "primary-care row {code}: a principal-procedure condition is required"
                    ));
                }
            }
        }
        length("primary-care starts", self.pc_start.len(), classes + 2)?;
        if self.pc_start.windows(2).any(|w| w[0] > w[1]) {
            return Err("primary-care starts are not in order".into());
        }
        let last = self.pc_start.last().copied().unwrap_or(0);
        range(
            "primary-care rows of the classes",
            0,
            last,
            self.pc_list.len(),
        )?;
        for &r in &self.pc_list {
            index("primary-care row", r as u64, self.pc_rows.len())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::compile::NationalParts;
    use super::super::source::CatalogSource;
    use super::*;

    /// A small catalogue under national rules with every national table: a pre row with
    /// the P07 note and bands, merge rows with related groups, burn, tumour and TB rows,
    /// an endoscopy note, the drug-resistance list and primary-care rows.
    fn national() -> Catalog {
        let manifest = br#"{"name": "n", "version": "1", "options": {"rules": "national"}}"#;
        let types = "code,layer,principal_dx,any_dx,procedures,related,all_px,secondary_dx,resistance,age_days,weight,score\n\
                     XQ-1,pre,,P07,*,,,,,0-28,1000-1499,\n\
                     BX-1,merge,K35,,47.0100,54.5100|54.5900+86.0400,,,,,,\n\
                     BX-2,merge,K35,,47.0100,,,,,,,\n\
                     FZ-1,burn,T20.3,,,,,T31.1|T31.2,,,,\n\
                     FZ-2,tumor,Z51.1,,*,,99.2503+99.2800x006,C00-C75,,,,\n\
                     FZ-3,tb,A15,,,,,,listed_or_marker:U84.300,,,\n\
                     JC-1,core,K35.8,,,,,,,,,\n\
                     JC-2,core,K29,,45.1300,,,,,,,\n";
        let lists = "list,code\ntb_resistant,A15.000x011\n";
        let exclusions = "kind,code,note,unless_dx\n\
                          principal_dx,Z00.000,,\n\
                          procedure_conservative,45.1300,,K20-K93\n\
                          procedure_conservative,17.4100,,\n";
        let pc = "code,principal_dx,procedures,name\n1,K35.8,,a\n2,K29,45.1300,b\n";
        let files: [(&str, &[u8]); 5] = [
            ("catalog.json", manifest),
            ("types.csv", types.as_bytes()),
            ("dx_lists.csv", lists.as_bytes()),
            ("exclusions.csv", exclusions.as_bytes()),
            ("primary_care.csv", pc.as_bytes()),
        ];
        let src =
            CatalogSource::from_files(&|name| files.iter().find(|f| f.0 == name).map(|f| f.1))
                .expect("reads");
        Catalog::compile(&src).expect("compiles")
    }

    fn invalid(c: &Catalog) -> String {
        c.check_invariants()
            .expect_err("a broken catalogue must not pass")
    }

    fn row(c: &Catalog, code: &str) -> usize {
        c.types.iter().position(|t| t.code == code).expect("listed")
    }

    #[test]
    fn the_national_tables_of_a_compiled_catalogue_hold() {
        let c = national();
        c.check_invariants()
            .expect("a compiled catalogue is consistent");
        // The crafted faults below each touch a table the catalogue really has.
        assert!(c.national && c.listed_slot != NO_SLOT);
        assert_eq!(c.pc_rows.len(), 2);
        assert!(c.px_unless.iter().any(|&k| k != NO_SLOT));
        let bx = row(&c, "BX-1");
        assert_eq!(c.types[bx].nat.related.1, 2);
        let fz = row(&c, "FZ-2");
        assert_eq!(c.types[fz].nat.all_px.1, 2, "both treatment codes needed");
        assert!(c.types[fz].nat.secondary.is_some());
        assert!(c.types[row(&c, "FZ-3")].nat.resistance.is_some());
        // It survives the artifact round trip.
        let back = Catalog::from_bytes(&c.to_bytes().unwrap()).expect("loads");
        assert_eq!(back.types, c.types);
    }

    #[test]
    fn crafted_national_tables_are_rejected() {
        let c = national();
        let slots = c.slots.len() as u32;
        let alts = c.alts.len() as u32;
        let bx = row(&c, "BX-1");
        let fz2 = row(&c, "FZ-2");
        let fz3 = row(&c, "FZ-3");

        // Layers: a national layer outside national rules; candidates out of layer order.
        let mut bad = c.clone();
        bad.national = false;
        assert!(
            invalid(&bad).contains("outside national rules"),
            "{}",
            invalid(&bad)
        );
        let mut bad = c.clone();
        let class = (0..bad.dx.keys.len())
            .find(|&k| {
                let s = bad.cand_start[k] as usize..bad.cand_start[k + 1] as usize;
                let layers: Vec<Layer> = bad.cand[s]
                    .iter()
                    .map(|x| bad.types[x.row as usize].layer)
                    .collect();
                layers.windows(2).any(|w| w[0] < w[1])
            })
            .expect("a class with candidates of two layers (K35.8: merge, core)");
        let s = bad.cand_start[class] as usize;
        let e = bad.cand_start[class + 1] as usize;
        bad.cand[s..e].reverse();
        assert!(invalid(&bad).contains("not in layer order"));

        // Related and anywhere groups (merge, tumour treatment), alternative codes.
        let mut bad = c.clone();
        bad.types[bx].nat.related = (alts - 1, 2);
        assert!(invalid(&bad).contains("related groups"));
        let mut bad = c.clone();
        bad.types[fz2].nat.all_px = (alts, 1);
        assert!(invalid(&bad).contains("anywhere groups"));
        let mut bad = c.clone();
        bad.alt_codes[0] = (bad.px.codes.len() + SPECIAL_PROCEDURE_IDS) as u32;
        assert!(invalid(&bad).contains("procedure id of an alternative"));

        // Secondary diagnosis (burn area, tumour range) and drug-resistance slots.
        let mut bad = c.clone();
        bad.types[fz2].nat.secondary = Some(slots);
        assert!(invalid(&bad).contains("condition slot"));
        let mut bad = c.clone();
        bad.types[fz3].nat.resistance = Some((ResKind::Marker, slots + 64));
        assert!(invalid(&bad).contains("condition slot"));
        let mut bad = c.clone();
        bad.listed_slot = NO_SLOT;
        assert!(invalid(&bad).contains("tb_resistant list"));
        let mut bad = c.clone();
        bad.listed_slot = slots;
        assert!(invalid(&bad).contains("tb_resistant list"));

        // Exclusion notes: one per procedure id, slots in range.
        let mut bad = c.clone();
        bad.px_unless.pop();
        assert!(invalid(&bad).contains("principal-procedure notes"));
        let mut bad = c.clone();
        let p = bad.px_unless.iter().position(|&k| k != NO_SLOT).unwrap();
        bad.px_unless[p] = slots;
        assert!(invalid(&bad).contains(&format!("the note of procedure id {p}")));

        // Primary care: rows, their procedures, the per-class index.
        let mut bad = c.clone();
        bad.pc_rows[1].2 = Procs::Alts(alts, 1);
        assert!(invalid(&bad).contains("primary-care row 2"));
        let mut bad = c.clone();
        bad.pc_rows[0].2 = Procs::Any;
        assert!(invalid(&bad).contains("primary-care row 1"));
        let mut bad = c.clone();
        bad.pc_start.pop();
        assert!(invalid(&bad).contains("primary-care starts"));
        let mut bad = c.clone();
        *bad.pc_start.last_mut().unwrap() += 1;
        assert!(invalid(&bad).contains("primary-care rows of the classes"));
        let mut bad = c.clone();
        bad.pc_list[0] = 2;
        assert!(invalid(&bad).contains("primary-care row 2 is out of range"));
        let mut bad = c.clone();
        let n = bad.pc_start.len();
        bad.pc_start.swap(0, n - 1);
        assert!(invalid(&bad).contains("not in order"));

        // National parts in a catalogue under drgdip rules.
        let mut bad = c.clone();
        bad.national = false;
        for t in &mut bad.types {
            if matches!(t.layer, Layer::Burn | Layer::Tumor | Layer::Tb) {
                t.layer = Layer::Refine;
            }
        }
        assert!(invalid(&bad).contains("national conditions outside national rules"));
        for t in &mut bad.types {
            t.nat = NationalParts::default();
        }
        assert!(invalid(&bad).contains("principal-procedure notes outside national rules"));
        bad.px_unless.fill(NO_SLOT);
        assert!(invalid(&bad).contains("drug-resistance list outside national rules"));
        bad.listed_slot = NO_SLOT;
        assert!(invalid(&bad).contains("primary-care rows outside national rules"));
        bad.pc_rows.clear();
        bad.pc_list.clear();
        bad.pc_start.fill(0);
        bad.check_invariants()
            .expect("now a plain drgdip catalogue");
    }
}
