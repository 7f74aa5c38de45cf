//! "What would change the group": every single coding change of a case — drop one
//! diagnosis or procedure, promote one secondary diagnosis or procedure to principal —
//! regrouped, keeping those that move the case to another result. A coding-review aid,
//! off the hot path (one case, a few dozen regroupings).

use serde::{Deserialize, Serialize};

use crate::compile::{Grouper, ResultInfo};
use crate::group::{Case, CodeKind, Status};

/// One single change to a case's codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Edit {
    /// Remove the diagnosis at `index` (0 = the principal: the next one becomes principal).
    DropDiagnosis {
        /// Position in the case's diagnoses.
        index: usize,
    },
    /// Remove the procedure at `index`.
    DropProcedure {
        /// Position in the case's procedures.
        index: usize,
    },
    /// Make the secondary diagnosis at `index` the principal one; the former principal
    /// becomes the first secondary diagnosis.
    PromoteDiagnosis {
        /// Position in the case's diagnoses (≥ 1).
        index: usize,
    },
    /// Make the procedure at `index` the principal one; the former principal becomes
    /// the first secondary procedure.
    PromoteProcedure {
        /// Position in the case's procedures (≥ 1).
        index: usize,
    },
}

impl Edit {
    /// Applies the edit to `case` (in place). An index out of range changes nothing.
    pub fn apply(self, case: &mut Case) {
        match self {
            Edit::DropDiagnosis { index } if index < case.dx.len() => {
                case.dx.remove(index);
            }
            Edit::DropProcedure { index } if index < case.px.len() => {
                case.px.remove(index);
            }
            Edit::PromoteDiagnosis { index } if index < case.dx.len() => {
                let code = case.dx.remove(index);
                case.dx.insert(0, code);
            }
            Edit::PromoteProcedure { index } if index < case.px.len() => {
                let code = case.px.remove(index);
                case.px.insert(0, code);
            }
            _ => {}
        }
    }

    /// The kind of code the edit touches and its index.
    fn target(self) -> (CodeKind, usize) {
        match self {
            Edit::DropDiagnosis { index } | Edit::PromoteDiagnosis { index } => {
                (CodeKind::Diagnosis, index)
            }
            Edit::DropProcedure { index } | Edit::PromoteProcedure { index } => {
                (CodeKind::Procedure, index)
            }
        }
    }
}

/// A single change that moves a case to another result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// What was changed.
    #[serde(flatten)]
    pub edit: Edit,
    /// The code the change touches (the scheme's spelling; empty for a code the scheme
    /// does not know).
    pub code: String,
    /// Its name in the scheme, if any.
    pub name: String,
    /// The outcome class after the change.
    pub status: Status,
    /// The result after the change.
    pub result: ResultInfo,
}

impl Grouper {
    /// Every single edit of `case` — each diagnosis and each procedure dropped (a lone
    /// diagnosis is never dropped), each secondary diagnosis and procedure promoted —
    /// whose result differs from the case's own, in that order. The case is not
    /// changed.
    pub fn single_changes(&self, case: &Case) -> Vec<Change> {
        let mut scratch = self.scratch();
        let original = self.group(case, &mut scratch);
        let base = self.result(&original).code.clone();
        let mut edits = Vec::new();
        if case.dx.len() > 1 {
            edits.extend((0..case.dx.len()).map(|index| Edit::DropDiagnosis { index }));
        }
        edits.extend((0..case.px.len()).map(|index| Edit::DropProcedure { index }));
        edits.extend((1..case.dx.len()).map(|index| Edit::PromoteDiagnosis { index }));
        edits.extend((1..case.px.len()).map(|index| Edit::PromoteProcedure { index }));
        let mut changed = case.clone();
        let mut out = Vec::new();
        for edit in edits {
            changed.dx.clone_from(&case.dx);
            changed.px.clone_from(&case.px);
            edit.apply(&mut changed);
            let outcome = self.group(&changed, &mut scratch);
            let result = self.result(&outcome);
            if result.code == base {
                continue;
            }
            let (kind, index) = edit.target();
            let id = match kind {
                CodeKind::Diagnosis => case.dx[index],
                CodeKind::Procedure => case.px[index],
            };
            out.push(Change {
                edit,
                code: self.code(id).to_string(),
                name: self.code_name(id, kind).to_string(),
                status: outcome.status,
                result: result.clone(),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_data::demo;

    #[test]
    fn every_listed_change_moves_the_case_and_none_is_missed() {
        let g = demo();
        let mut case = Case {
            sex: Some(1),
            age: Some(50),
            los: Some(6),
            ..Case::default()
        };
        for code in ["J18.900", "J96.000", "R57.000"] {
            case.dx.push(g.lookup(code, CodeKind::Diagnosis, false).id);
        }
        let base = g.result(&g.group(&case, &mut g.scratch())).drg.clone();
        assert_eq!(base, "ES31");
        let changes = g.single_changes(&case);
        // Dropping the shock (the MCC that counts) leaves ES35.
        assert!(
            changes
                .iter()
                .any(|c| c.edit == Edit::DropDiagnosis { index: 2 }
                    && c.code == "R57.000"
                    && c.result.drg == "ES35")
        );
        // Every possible single edit, regrouped by hand: listed iff the DRG moves.
        let mut all = vec![];
        all.extend((0..3).map(|index| Edit::DropDiagnosis { index }));
        all.extend((1..3).map(|index| Edit::PromoteDiagnosis { index }));
        for edit in all {
            let mut changed = case.clone();
            edit.apply(&mut changed);
            let r = g.result(&g.group(&changed, &mut g.scratch())).clone();
            let listed = changes.iter().find(|c| c.edit == edit);
            match listed {
                Some(c) => assert_eq!(c.result, r, "{edit:?}"),
                None => assert_eq!(r.drg, base, "{edit:?} moves the case but is not listed"),
            }
        }
        // The case itself is untouched.
        assert_eq!(g.code(case.dx[2]), "R57.000");
    }
}
