//! Invariants of a decoded [`Catalog`]: every index the DIP grouper follows is checked
//! on load (the checksum of a compiled file catches damage, not a crafted file).

use super::Catalog;
use super::compile::Procs;
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
        for t in &self.types {
            let at = |e: String| format!("type `{}` (types.csv line {}): {e}", t.code, t.line);
            if let Procs::Alts(start, len) = t.procs {
                range("procedure alternatives", start, len, self.alts.len()).map_err(at)?;
            }
            if let Some(k) = t.cond.any_dx {
                slot(k).map_err(at)?;
            }
        }
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
}
