//! Grouping one case: validation, MDC dispatch, ADRG entries, DRG splits, QY, retry.
//!
//! [`Grouper::group`] and [`Grouper::explain`] run the same code ([`Grouper::run`]);
//! the first with a zero-sized tracer whose calls compile away, the second recording
//! every step, so an explanation can never disagree with the result.

use serde::{Deserialize, Serialize};

use crate::compile::{
    CodeFacts, Filter, INLINE_SLOTS, KNOWN_DX, KNOWN_PROC, NO_SLOT, Node, NodeId, ResultId,
    ResultInfo, SECONDARY,
};
use crate::program::{
    FAILS, FLAG_CC, FLAG_FEMALE, FLAG_MALE, FLAG_MCC, FLAG_PROCEDURE, HOLDS, HotEntry, NONE, Op,
    Test,
};
use crate::rule::{CodeSet, Field};
use crate::{CodeId, Grouper};

/// The outcome class of a case (the `status` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// 分组成功: a DRG (or a fallback ADRG) was found.
    Grouped,
    /// 无法入组: no MDC gave a result.
    Ungroupable,
    /// 歧义病案: a QY check matched.
    Ambiguous,
    /// 信息校验不通过: the case failed input validation.
    Invalid,
}

impl Status {
    /// The value written in the `status` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Grouped => "grouped",
            Self::Ungroupable => "ungroupable",
            Self::Ambiguous => "ambiguous",
            Self::Invalid => "invalid",
        }
    }

    /// Maps the reference grouper's Chinese status text.
    pub fn from_reference(s: &str) -> Option<Status> {
        Some(match s {
            "分组成功" => Self::Grouped,
            "无法入组" => Self::Ungroupable,
            "歧义病案" => Self::Ambiguous,
            "信息校验不通过" => Self::Invalid,
            _ => return None,
        })
    }
}

/// One case, ready to group: codes already interned with [`Grouper::lookup`].
///
/// The buffers are meant to be reused from case to case (`clear`, then fill), so that
/// grouping a file allocates nothing per case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Case {
    /// 1 male, 2 female.
    pub sex: Option<u8>,
    /// Age in whole years.
    pub age: Option<i64>,
    /// Age in days.
    pub age_days: Option<i64>,
    /// Birth weight in grams.
    pub weight: Option<i64>,
    /// Length of stay in days.
    pub los: Option<i64>,
    /// Discharge department, compared as an exact string.
    pub dept: String,
    /// Discharge way (离院方式) as a string.
    pub discharge_way: String,
    /// Diagnoses, principal first.
    pub dx: Vec<CodeId>,
    /// Procedures, principal first.
    pub px: Vec<CodeId>,
}

impl Case {
    /// Empties the case, keeping its buffers.
    pub fn clear(&mut self) {
        self.sex = None;
        self.age = None;
        self.age_days = None;
        self.weight = None;
        self.los = None;
        self.dept.clear();
        self.discharge_way.clear();
        self.dx.clear();
        self.px.clear();
    }
}

/// Why a case failed validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvalidReason {
    /// Sex is missing.
    SexMissing,
    /// Sex is not 1 or 2.
    SexInvalid,
    /// Age is missing.
    AgeMissing,
    /// Age is 0 and age in days is missing.
    AgeDaysMissing,
    /// Age 0, at most 28 days old, and no birth weight.
    WeightMissing,
    /// The scheme compares the length of stay and it is missing.
    LosMissing,
    /// No diagnosis at all.
    NoDiagnosis,
}

impl InvalidReason {
    /// The input field at fault.
    pub fn field(self) -> &'static str {
        match self {
            Self::SexMissing | Self::SexInvalid => "sex",
            Self::AgeMissing => "age",
            Self::AgeDaysMissing => "age_days",
            Self::WeightMissing => "weight",
            Self::LosMissing => "los",
            Self::NoDiagnosis => "diagnoses",
        }
    }

    /// A sentence for the message column.
    pub fn message(self) -> &'static str {
        match self {
            Self::SexMissing => "sex is missing",
            Self::SexInvalid => "sex must be 1 (male) or 2 (female)",
            Self::AgeMissing => "age is missing",
            Self::AgeDaysMissing => "age is 0, so age_days is required",
            Self::WeightMissing => {
                "newborn (age 0, age_days <= 28): birth weight is required (新生儿的出生体重必须有值)"
            }
            Self::LosMissing => "this scheme compares the length of stay, so los is required",
            Self::NoDiagnosis => "at least one diagnosis (the principal) is required",
        }
    }
}

/// The result of grouping one case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// The outcome class.
    pub status: Status,
    pub(crate) result: ResultId,
    /// Set when the status is [`Status::Invalid`].
    pub invalid: Option<InvalidReason>,
    /// Set when the result came from the retry with one secondary procedure: its index in `px`.
    pub retry_procedure: Option<u32>,
}

impl Outcome {
    /// The place of the outcome's result in [`Grouper::results`] (for callers that
    /// precompute something per result).
    pub fn result_index(&self) -> usize {
        self.result as usize
    }
}

/// Per-thread working memory for [`Grouper::group`]; create it with [`Grouper::scratch`].
#[derive(Debug, Clone, Default)]
pub struct Scratch {
    dept: Option<u16>,
    discharge_way: Option<u16>,
    /// The list slots of the case's codes as four bit sets of `words - 1` words, one per
    /// role: principal diagnosis, secondary diagnoses, principal procedure, secondary
    /// procedures; then one word of case flags (`program::FLAG_*`: has an MCC, a CC, a
    /// procedure; sex). Filled from each code's slot list, so a list test reads this
    /// small, hot memory rather than the codes' rows of the membership matrix. A
    /// secondary code marks only the slots rules read of secondary codes.
    bits: Vec<u64>,
    /// The MDCs where some rule can hold given the principal diagnosis, and given the
    /// principal procedure ([`CodeFacts::runnable`]).
    pub(crate) runnable: [u64; 2],
}

impl Scratch {
    /// A case flag (`program::FLAG_*`) of the last word of [`Scratch::bits`].
    #[inline]
    fn flag(&self, flag: u8) -> bool {
        self.bits.last().is_some_and(|w| w >> flag & 1 != 0)
    }
}

/// The roles of [`Scratch::bits`], in order.
const PDX: usize = 0;
const SDX: usize = 1;
const PPX: usize = 2;
const SPX: usize = 3;

/// The roles of [`Scratch::bits`] whose codes a code set covers (the same role twice
/// for a set of one role).
pub(crate) fn roles(set: CodeSet) -> [usize; 2] {
    match set {
        CodeSet::PrincipalDx => [PDX, PDX],
        CodeSet::SecondaryDx => [SDX, SDX],
        CodeSet::AnyDx => [PDX, SDX],
        CodeSet::PrincipalProc => [PPX, PPX],
        CodeSet::SecondaryProc => [SPX, SPX],
        CodeSet::AnyProc => [PPX, SPX],
    }
}

/// The evaluation environment of one case.
pub(crate) struct Env<'a> {
    pub(crate) case: &'a Case,
    pub(crate) px: &'a [CodeId],
    pub(crate) s: &'a Scratch,
}

/// What explanation recording needs from the dispatcher.
trait Tracer {
    /// Record [`Step`]s (built only when on).
    const ON: bool;
    /// Skip the MDCs none of whose rules can hold (they fall through anyway); off when
    /// the MDCs entered are recorded.
    const SKIP: bool = false;
    fn step(&mut self, step: Step);
    /// The case entered MDC `mdcs[i]` (called whether or not `ON`).
    #[inline(always)]
    fn enter(&mut self, _i: usize) {}
}

/// Records only the MDCs a case entered: what the message of an ungroupable row says
/// in the common case, without building an explanation.
struct Entered(Vec<usize>);

impl Tracer for Entered {
    const ON: bool = false;
    fn step(&mut self, _: Step) {}
    fn enter(&mut self, i: usize) {
        self.0.push(i);
    }
}

/// The hot path's tracer: does nothing, costs nothing.
struct NoTrace;

impl Tracer for NoTrace {
    const ON: bool = false;
    const SKIP: bool = true;
    #[inline(always)]
    fn step(&mut self, _: Step) {}
}

impl Tracer for Vec<Step> {
    const ON: bool = true;
    fn step(&mut self, step: Step) {
        self.push(step);
    }
}

/// One step of an explanation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// The case failed validation.
    Invalid {
        /// Field at fault.
        field: String,
        /// Why.
        message: String,
    },
    /// An MDC's entry rule was false.
    MdcSkipped {
        /// MDC code.
        mdc: String,
        /// Its name, where the scheme has one (workbook schemes: 名称 column).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        name: String,
        /// Where the rule is written (workbook schemes: sheet and row).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        source: String,
        /// The entry rule.
        rule: String,
        /// The conditions of the rule that the case fails.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        failed: Vec<String>,
    },
    /// An MDC's entry rule was true.
    MdcEntered {
        /// MDC code.
        mdc: String,
        /// Its name, where the scheme has one.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        name: String,
        /// Where the rule is written (workbook schemes: sheet and row).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        source: String,
        /// The entry rule.
        rule: String,
        /// The facts that made it true.
        because: Vec<String>,
    },
    /// A QY check was evaluated.
    QyCheck {
        /// MDC code.
        mdc: String,
        /// The QY rule.
        rule: String,
        /// Whether it held.
        matched: bool,
        /// The facts that made it true.
        because: Vec<String>,
    },
    /// An ADRG rule entry was tried.
    Adrg {
        /// Entry id.
        entry: String,
        /// ADRG code.
        adrg: String,
        /// Its name, where the scheme has one.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        name: String,
        /// Where the rule is written (workbook schemes: sheet and row).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        source: String,
        /// The entry rule.
        rule: String,
        /// Whether it held.
        matched: bool,
        /// The facts that made it true.
        because: Vec<String>,
    },
    /// A DRG split test was evaluated.
    Split {
        /// DRG code.
        drg: String,
        /// Its name, where the scheme has one.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        name: String,
        /// Where the condition is written (workbook schemes: sheet and row).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        source: String,
        /// The condition.
        condition: String,
        /// Whether it held.
        matched: bool,
        /// The facts that made it true.
        because: Vec<String>,
    },
    /// No split held and the entry's fallback result applied.
    Fallback {
        /// Entry id.
        entry: String,
        /// The result code.
        result: String,
    },
    /// No split held and the entry has no fallback: the next entry is tried.
    NoSplit {
        /// Entry id.
        entry: String,
    },
    /// No entry of the MDC gave a result: the next MDC is tried.
    FallThrough {
        /// MDC code.
        mdc: String,
    },
    /// No MDC gave a result.
    NoMatch {
        /// The no-match result code.
        result: String,
    },
    /// Retry with one secondary procedure alone.
    Retry {
        /// Index of the procedure in the case.
        index: u32,
        /// The procedure code.
        procedure: String,
    },
}

/// A secondary diagnosis seen as a complication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Complication {
    /// The code.
    pub code: String,
    /// Its name, if the scheme has one.
    pub name: String,
    /// `MCC` or `CC`.
    pub kind: String,
    /// Its exclusion table.
    pub table: String,
    /// True when the principal diagnosis has the same exclusion table.
    pub excluded: bool,
}

/// How a case was grouped, step by step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    /// `name@version#hash` of the scheme.
    pub scheme: String,
    /// Outcome class.
    pub status: Status,
    /// Output columns.
    pub result: ResultInfo,
    /// The principal diagnosis' exclusion table, if any.
    pub principal_exclusion_table: Option<String>,
    /// Every MCC/CC among the secondary diagnoses, excluded or not.
    pub complications: Vec<Complication>,
    /// The steps, in evaluation order.
    pub steps: Vec<Step>,
    /// Workbook schemes: why the case ended in an ambiguity (`…QY`) or a fallback
    /// (`…000`, `0000`) group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

/// Which kind of code a lookup is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeKind {
    /// A diagnosis (ICD-10).
    Diagnosis,
    /// A procedure (ICD-9-CM-3).
    Procedure,
}

/// Result of [`Grouper::lookup`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lookup {
    /// The id to push into the case (the "unknown" id when not interned).
    pub id: CodeId,
    /// False when the code is in no dictionary of the scheme for its kind.
    pub known: bool,
}

impl Grouper {
    /// Fresh working memory for [`Grouper::group`].
    pub fn scratch(&self) -> Scratch {
        Scratch {
            bits: vec![0; 4 * (self.words - 1) + 1],
            ..Scratch::default()
        }
    }

    /// The id given to codes the scheme does not know; it is in no list.
    pub fn unknown_code(&self) -> CodeId {
        self.codes.normalized.len() as CodeId
    }

    /// Looks a code up: trims and upper-cases it, applies the clinical → insurance map
    /// when `map` is set, and tells whether the scheme knows it.
    pub fn lookup(&self, code: &str, kind: CodeKind, map: bool) -> Lookup {
        // Trimmed as `str::trim` does, on bytes unless an end is not ASCII or is the
        // one ASCII white space `trim_ascii` keeps (vertical tab).
        let ascii = code.as_bytes().trim_ascii();
        let odd = |b: &u8| !b.is_ascii() || *b == 0x0B;
        let bytes = if ascii.first().is_some_and(odd) || ascii.last().is_some_and(odd) {
            code.trim().as_bytes()
        } else {
            ascii
        };
        let mut buf = [0u8; 64];
        let norm: &[u8] = if bytes.len() <= buf.len() {
            let b = &mut buf[..bytes.len()];
            b.copy_from_slice(bytes);
            b.make_ascii_uppercase();
            b
        } else {
            return Lookup {
                id: self.unknown_code(),
                known: false,
            };
        };
        let mapped = if map {
            let table = match kind {
                CodeKind::Diagnosis => &self.codes.dx_map,
                CodeKind::Procedure => &self.codes.proc_map,
            };
            table
                .binary_search_by(|(from, _)| from.as_bytes().cmp(norm))
                .ok()
                .map(|i| table[i].1)
        } else {
            None
        };
        match mapped.or_else(|| self.codes.find(norm)) {
            Some(id) => {
                let bit = match kind {
                    CodeKind::Diagnosis => KNOWN_DX,
                    CodeKind::Procedure => KNOWN_PROC,
                };
                Lookup {
                    id,
                    known: self.codes.flags[id as usize] & bit != 0,
                }
            }
            None => Lookup {
                id: self.unknown_code(),
                known: false,
            },
        }
    }

    /// The scheme's spelling of a code id (empty for the unknown id).
    pub fn code(&self, id: CodeId) -> &str {
        self.codes.spelling.get(id as usize)
    }

    /// The name of a diagnosis or procedure, if the scheme has one.
    pub fn code_name(&self, id: CodeId, kind: CodeKind) -> &str {
        let names = match kind {
            CodeKind::Diagnosis => &self.codes.dx_name,
            CodeKind::Procedure => &self.codes.proc_name,
        };
        names.get(id as usize)
    }

    /// The output columns of an outcome.
    pub fn result(&self, outcome: &Outcome) -> &ResultInfo {
        &self.results[outcome.result as usize]
    }

    /// Groups one case. Never fails: bad or ungroupable cases are outcomes.
    pub fn group(&self, case: &Case, scratch: &mut Scratch) -> Outcome {
        self.run(case, scratch, &mut NoTrace)
    }

    /// Groups one case and records every step taken; the rules of a workbook scheme
    /// are shown as the workbook wrote them, atom by atom.
    pub fn explain(&self, case: &Case) -> Explanation {
        let mut e = self.explain_steps(case);
        if self.format == crate::SchemeFormat::Workbook {
            e.why = self.annotate_workbook(&mut e.steps, case);
        }
        e
    }

    /// Groups one case and lists the MDCs it entered (indices into `mdcs`, in order).
    pub(crate) fn group_entered(&self, case: &Case) -> (Outcome, Vec<usize>) {
        let mut entered = Entered(Vec::new());
        let outcome = self.run(case, &mut self.scratch(), &mut entered);
        (outcome, entered.0)
    }

    /// [`Self::explain`] without the workbook annotation (no rule text is parsed): what
    /// the `message` column of an ungroupable row needs.
    pub(crate) fn explain_steps(&self, case: &Case) -> Explanation {
        let mut steps = Vec::new();
        let mut scratch = self.scratch();
        let outcome = self.run(case, &mut scratch, &mut steps);
        let mut complications = Vec::new();
        let principal = case.dx.first().map(|&p| self.exclusion_tables(p)[2]);
        for &x in case.dx.iter().skip(1) {
            for (kind, k) in [("MCC", 0), ("CC", 1)] {
                let t = self.exclusion_tables(x)[k];
                if t != 0 {
                    complications.push(Complication {
                        code: self.code(x).to_string(),
                        name: self.code_name(x, CodeKind::Diagnosis).to_string(),
                        kind: kind.to_string(),
                        table: self.tables[t as usize - 1].clone(),
                        excluded: case.dx.first().is_some_and(|&p| self.excluded(p, t)),
                    });
                }
            }
        }
        Explanation {
            scheme: self.info.label(),
            status: outcome.status,
            result: self.result(&outcome).clone(),
            principal_exclusion_table: principal
                .filter(|&t| t != 0)
                .map(|t| self.tables[t as usize - 1].clone()),
            complications,
            steps,
            why: None,
        }
    }

    fn validate(&self, case: &Case) -> Option<InvalidReason> {
        match case.sex {
            None => return Some(InvalidReason::SexMissing),
            Some(1 | 2) => {}
            Some(_) => return Some(InvalidReason::SexInvalid),
        }
        let Some(age) = case.age else {
            return Some(InvalidReason::AgeMissing);
        };
        if age == 0 {
            let Some(days) = case.age_days else {
                return Some(InvalidReason::AgeDaysMissing);
            };
            if days <= 28 && case.weight.is_none_or(|w| w == 0) {
                return Some(InvalidReason::WeightMissing);
            }
        }
        if self.validation.requires_los && case.los.is_none() {
            return Some(InvalidReason::LosMissing);
        }
        if case.dx.is_empty() {
            return Some(InvalidReason::NoDiagnosis);
        }
        None
    }

    fn run<T: Tracer>(&self, case: &Case, s: &mut Scratch, t: &mut T) -> Outcome {
        if let Some(reason) = self.validate(case) {
            if T::ON {
                t.step(Step::Invalid {
                    field: reason.field().into(),
                    message: reason.message().into(),
                });
            }
            return Outcome {
                status: crate::Status::Invalid,
                result: self.invalid,
                invalid: Some(reason),
                retry_procedure: None,
            };
        }
        self.prepare(case, s);
        let mut result = self.dispatch(
            &Env {
                case,
                px: &case.px,
                s,
            },
            t,
        );
        let mut retry_procedure = None;
        if let Some(retry) = self.retry
            && result == retry.when
            && case.px.len() >= retry.min_procedures as usize
        {
            for i in 1..case.px.len() {
                let px = std::slice::from_ref(&case.px[i]);
                let sw = self.words - 1;
                s.bits[PPX * sw..(SPX + 1) * sw].fill(0);
                self.mark_procedures(px, s);
                if T::ON {
                    t.step(Step::Retry {
                        index: i as u32,
                        procedure: self.code(case.px[i]).into(),
                    });
                }
                let r = self.dispatch(&Env { case, px, s }, t);
                if r != retry.when {
                    result = r;
                    retry_procedure = Some(i as u32);
                    break;
                }
            }
        }
        Outcome {
            status: self.results[result as usize].status,
            result,
            invalid: None,
            retry_procedure,
        }
    }

    /// Computes the per-case facts the rules read: the four bit sets of the case's list
    /// slots, the flags word (MCC/CC presence after exclusions, a procedure, sex), the
    /// runnable MDCs, department and discharge-way ids.
    pub(crate) fn prepare(&self, case: &Case, s: &mut Scratch) {
        let sw = self.words - 1;
        s.bits.clear();
        s.bits.resize(4 * sw + 1, 0);
        let (mut mcc, mut cc) = (false, false);
        let (pdx, sdx) = s.bits[..2 * sw].split_at_mut(sw);
        match case.dx.split_first() {
            Some((&p, secondary)) => {
                let principal = self.mark(p, pdx);
                s.runnable[0] = principal.runnable[0];
                // A complication is excluded when the principal has its table (folder
                // schemes) or is a member of it (workbook schemes: the table's slot).
                // Folder schemes have no member slots; table 0 (none) has none either.
                let ptable = principal.tables[2];
                let excluded = |t: u16| match self.exclusion_slots.get((t as usize).wrapping_sub(1))
                {
                    Some(&slot) => pdx[slot as usize / 64] >> (slot % 64) & 1 != 0,
                    None => t == ptable,
                };
                for &x in secondary {
                    let [m, c, _] = self.facts[x as usize].tables;
                    mcc |= (m != 0) & !excluded(m);
                    cc |= (c != 0) & !excluded(c);
                    self.mark_secondary(x, sdx);
                }
            }
            None => s.runnable[0] = self.facts[self.unknown_code() as usize].runnable[0],
        }
        self.mark_procedures(&case.px, s);
        s.bits[4 * sw] |= u64::from(mcc) << FLAG_MCC
            | u64::from(cc) << FLAG_CC
            | u64::from(case.sex == Some(1)) << FLAG_MALE
            | u64::from(case.sex == Some(2)) << FLAG_FEMALE;
        s.dept = find(&self.depts, &case.dept);
        s.discharge_way = find(&self.discharge_ways, &case.discharge_way);
    }

    /// Is a complication of exclusion table `table` (≠ 0) excluded for principal
    /// diagnosis `pdx`? Folder schemes: the principal has the same table; workbook
    /// schemes: the principal is a member of the table.
    pub(crate) fn excluded(&self, pdx: CodeId, table: u16) -> bool {
        if self.exclusion_slots.is_empty() {
            self.exclusion_tables(pdx)[2] == table
        } else {
            self.has(pdx, self.exclusion_slots[table as usize - 1])
        }
    }

    /// A code's exclusion-table ids as MCC, CC and principal (0 = none), packed in the
    /// last word of its row.
    #[inline]
    pub(crate) fn exclusion_tables(&self, code: CodeId) -> [u16; 3] {
        self.facts[code as usize].tables
    }

    /// Is `code` in list slot `slot`?
    #[inline]
    pub(crate) fn has(&self, code: CodeId, slot: u32) -> bool {
        self.membership[code as usize * self.words + slot as usize / 64] >> (slot % 64) & 1 != 0
    }

    /// Sets the bits of the slots `code` is in.
    #[inline]
    fn mark(&self, code: CodeId, bits: &mut [u64]) -> &CodeFacts {
        set_slots(bits, self.slots_of(code));
        &self.facts[code as usize]
    }

    /// Sets the bits of the slots rules read of `code` as a secondary code (none for
    /// most codes: those without the [`SECONDARY`] bit).
    #[inline]
    fn mark_secondary(&self, code: CodeId, bits: &mut [u64]) {
        if self.facts[code as usize].len & SECONDARY != 0 {
            self.mark_secondary_slots(code, bits);
        }
    }

    /// [`Self::mark_secondary`] for a code with such slots (rare: kept out of line).
    #[cold]
    fn mark_secondary_slots(&self, code: CodeId, bits: &mut [u64]) {
        let at = &self.secondary_at[code as usize..];
        set_slots(bits, &self.secondary_slots[at[0] as usize..at[1] as usize]);
    }

    /// The list slots `code` is in.
    #[inline]
    fn slots_of(&self, code: CodeId) -> &[u16] {
        let f = &self.facts[code as usize];
        let len = (f.len & !SECONDARY) as usize;
        if len <= INLINE_SLOTS {
            &f.slots[..len]
        } else {
            let at = f.slots[0] as usize | (f.slots[1] as usize) << 16;
            &self.more_slots[at..at + len]
        }
    }

    /// Fills the procedure roles of [`Scratch::bits`] (zero on entry) from `px` (the
    /// case's procedures, or the one procedure of a retry).
    fn mark_procedures(&self, px: &[CodeId], s: &mut Scratch) {
        let sw = self.words - 1;
        let (ppx, spx) = s.bits[PPX * sw..(SPX + 1) * sw].split_at_mut(sw);
        let p = px.first().map_or(self.unknown_code(), |&p| p);
        s.runnable[1] = self.mark(p, ppx).runnable[1];
        for &x in px.get(1..).unwrap_or_default() {
            self.mark_secondary(x, spx);
        }
        let flags = &mut s.bits[4 * sw];
        *flags = *flags & !(1 << FLAG_PROCEDURE) | u64::from(!px.is_empty()) << FLAG_PROCEDURE;
    }

    /// Runs a rule's program (see [`crate::program`]): the same value as [`Self::eval`]
    /// on the rule, testing the same atoms in the same order.
    #[inline]
    pub(crate) fn holds(&self, program: u32, env: &Env<'_>) -> bool {
        let ops = &self.hot.ops;
        let bits = &env.s.bits;
        let mut at = program;
        loop {
            let op = &ops[at as usize];
            let value = if matches!(op.test, Test::Bit) {
                (bits[op.word[0] as usize] | bits[op.word[1] as usize]) >> op.bit & 1 != 0
            } else {
                self.atom(op, env)
            };
            at = op.next[usize::from(value)];
            if at >= FAILS {
                return at == HOLDS;
            }
        }
    }

    /// An op other than a bit test (kept out of [`Self::holds`], whose loop stays small).
    #[inline(never)]
    fn atom(&self, op: &Op, env: &Env<'_>) -> bool {
        match op.test {
            Test::Compare(field, cmp) => {
                Self::field(field, env).is_some_and(|x| cmp.apply(x, i64::from(op.arg as i32)))
            }
            // A bit op's `arg` is its node too.
            Test::Bit | Test::Node => self.eval(op.arg, env),
        }
    }

    /// A per-code MDC mask pair read at the case's principal diagnosis and principal
    /// procedure, and-ed (all MDCs when the scheme has more than 64, i.e. no masks):
    /// `mdc_by_*` gives the MDCs whose entry rule the principal codes leave possible,
    /// `runnable_by_*` those where some ADRG rule (or the QY check) can still hold.
    #[inline]
    fn principal_mask(&self, by_pdx: &[u64], by_ppx: &[u64], env: &Env<'_>) -> u64 {
        if by_pdx.is_empty() {
            return u64::MAX;
        }
        let [pdx, ppx] = self.principal_codes(env);
        by_pdx[pdx as usize] & by_ppx[ppx as usize]
    }

    /// The case's principal diagnosis and principal procedure (the unknown code for a
    /// missing one).
    #[inline]
    fn principal_codes(&self, env: &Env<'_>) -> [CodeId; 2] {
        let none = self.unknown_code();
        [env.case.dx.first(), env.px.first()].map(|c| c.map_or(none, |&c| c))
    }

    fn dispatch<T: Tracer>(&self, env: &Env<'_>, t: &mut T) -> ResultId {
        // An MDC none of whose rules can hold is skipped when grouping (a runnable MDC
        // is a candidate, so the runnable mask alone serves), shown when explaining.
        let n = self.mdcs.len();
        if T::SKIP && n <= 64 {
            // Grouping visits the runnable MDCs only, in order.
            let mut candidates = env.s.runnable[0] & env.s.runnable[1];
            while candidates != 0 {
                let i = candidates.trailing_zeros() as usize;
                candidates &= candidates - 1;
                if i >= n {
                    break;
                }
                if let Some(r) = self.try_mdc(i, true, env, t) {
                    return r;
                }
            }
        } else {
            let candidates = if T::SKIP {
                env.s.runnable[0] & env.s.runnable[1]
            } else {
                self.principal_mask(&self.mdc_by_pdx, &self.mdc_by_ppx, env)
            };
            for i in 0..n {
                let candidate = i >= 64 || candidates >> i & 1 != 0;
                if T::SKIP && !candidate {
                    continue;
                }
                if let Some(r) = self.try_mdc(i, candidate, env, t) {
                    return r;
                }
            }
        }
        if T::ON {
            t.step(Step::NoMatch {
                result: self.results[self.no_match as usize].code.clone(),
            });
        }
        self.no_match
    }

    /// Tries `mdcs[i]` (its entry rule unless it is no `candidate`, then its entries
    /// and QY check): the result, or `None` to go on with the next MDC.
    #[inline]
    fn try_mdc<T: Tracer>(
        &self,
        i: usize,
        candidate: bool,
        env: &Env<'_>,
        t: &mut T,
    ) -> Option<ResultId> {
        let m = &self.mdcs[i];
        let h = &self.hot.mdcs[i];
        // Grouping visits runnable MDCs only: one whose entry rule reads a single
        // principal code is entered without running it.
        let entered = candidate && (T::SKIP && h.entered_if_runnable || self.holds(h.entry, env));
        if !entered {
            if T::ON {
                t.step(Step::MdcSkipped {
                    mdc: m.code.clone(),
                    name: m.name.clone(),
                    source: String::new(),
                    rule: m.entry_rule.clone(),
                    failed: self.failed(m.entry, env),
                });
            }
            return None;
        }
        t.enter(i);
        if T::ON {
            t.step(Step::MdcEntered {
                mdc: m.code.clone(),
                name: m.name.clone(),
                source: String::new(),
                rule: m.entry_rule.clone(),
                because: self.witness(m.entry, env),
            });
        }
        // The QY check runs once, before the first entry at or after its place
        // (entries that cannot pass their filter are false, so skipping them
        // changes nothing), or after them all.
        let qy_at = if h.qy == NONE {
            usize::MAX
        } else {
            h.qy_after as usize
        };
        let mut qy_done = h.qy == NONE;
        // Grouping visits only the entries the principal codes let through (their
        // filters pass: not tested again); explanations show every entry tried.
        let n = h.len as usize;
        let entries = &self.hot.entries[h.entries as usize..][..n];
        let masked = T::SKIP && n <= 64;
        let mut open = if masked {
            self.entry_mask(i, env)
        } else {
            u64::MAX
        };
        let mut next = 0;
        loop {
            let k = if n <= 64 {
                if open == 0 {
                    break;
                }
                let k = open.trailing_zeros() as usize;
                open &= open - 1;
                if k >= n {
                    break;
                }
                k
            } else {
                if next == n {
                    break;
                }
                next += 1;
                next - 1
            };
            if !qy_done && k >= qy_at {
                qy_done = true;
                if self.qy(i, env, t) {
                    return Some(h.qy_result);
                }
            }
            if let Some(r) = self.entry(&entries[k], !masked, env, t) {
                return Some(r);
            }
        }
        if !qy_done && self.qy(i, env, t) {
            return Some(h.qy_result);
        }
        if T::ON {
            t.step(Step::FallThrough {
                mdc: m.code.clone(),
            });
        }
        None
    }

    /// The entries of `mdcs[i]` (bit `k` = `entries[k]`) whose filters the case's
    /// principal diagnosis and principal procedure pass; all bits for an MDC of more
    /// than 64 entries. A filter passes when its slot is one of the principal code's,
    /// so the rows of the principal code's slots are or-ed (see
    /// [`crate::compile::EntryMasks`]).
    #[inline]
    pub(crate) fn entry_mask(&self, i: usize, env: &Env<'_>) -> u64 {
        let masks = &self.entry_masks;
        let slots = self.slots.len();
        let open = |role: usize, code: CodeId| {
            let row = masks.by_slot[role]
                .get(i * slots..(i + 1) * slots)
                .unwrap_or_default();
            self.slots_of(code)
                .iter()
                .fold(masks.free[i][role], |open, &slot| {
                    open | row.get(slot as usize).copied().unwrap_or(0)
                })
        };
        let [pdx, ppx] = self.principal_codes(env);
        open(0, pdx) & open(1, ppx)
    }

    /// The QY check of `mdcs[i]` (which has one).
    fn qy<T: Tracer>(&self, i: usize, env: &Env<'_>, t: &mut T) -> bool {
        let matched = self.holds(self.hot.mdcs[i].qy, env);
        if T::ON
            && let Some(q) = &self.mdcs[i].qy
        {
            t.step(Step::QyCheck {
                mdc: self.mdcs[i].code.clone(),
                rule: q.rule_text.clone(),
                matched,
                because: if matched {
                    self.witness(q.rule, env)
                } else {
                    Vec::new()
                },
            });
        }
        matched
    }

    /// Tries an entry (testing its filter first when `filter` is set): its DRG, its
    /// fallback, or `None` to go on with the next entry.
    #[inline]
    fn entry<T: Tracer>(
        &self,
        h: &HotEntry,
        filter: bool,
        env: &Env<'_>,
        t: &mut T,
    ) -> Option<ResultId> {
        let matched = if filter {
            self.pass(h.filter, env) && self.holds(h.rule, env)
        } else {
            h.rule_is_filter || self.holds(h.rule, env)
        };
        if !T::ON && !matched {
            return None;
        }
        let e = &self.entries[h.index as usize];
        if T::ON {
            t.step(Step::Adrg {
                entry: e.id.clone(),
                adrg: e.code.clone(),
                name: e.name.clone(),
                source: String::new(),
                rule: e.rule_text.clone(),
                matched,
                because: if matched {
                    self.witness(e.rule, env)
                } else {
                    Vec::new()
                },
            });
        }
        if !matched {
            return None;
        }
        let tests = &self.hot.tests[h.tests as usize..(h.tests + h.len) as usize];
        for (j, &(cond, result)) in tests.iter().enumerate() {
            let ok = self.holds(cond, env);
            if T::ON {
                let test = &e.tests[j];
                t.step(Step::Split {
                    drg: self.results[result as usize].code.clone(),
                    name: self.results[result as usize].name.clone(),
                    source: String::new(),
                    condition: test.cond_text.clone(),
                    matched: ok,
                    because: if ok {
                        self.witness(test.cond, env)
                    } else {
                        Vec::new()
                    },
                });
            }
            if ok {
                return Some(result);
            }
        }
        if h.fallback != NONE {
            if T::ON {
                t.step(Step::Fallback {
                    entry: e.id.clone(),
                    result: self.results[h.fallback as usize].code.clone(),
                });
            }
            return Some(h.fallback);
        }
        if T::ON {
            t.step(Step::NoSplit {
                entry: e.id.clone(),
            });
        }
        None
    }

    /// The rule's necessary condition (a cheap pre-check before [`Self::holds`]).
    #[inline]
    pub(crate) fn pass(&self, f: Filter, env: &Env<'_>) -> bool {
        (f.pdx == NO_SLOT || self.in_list(CodeSet::PrincipalDx, f.pdx, env))
            && (f.ppx == NO_SLOT || self.in_list(CodeSet::PrincipalProc, f.ppx, env))
    }

    /// Is some code of the case in `set` in list slot `slot`? One bit of the case's
    /// bit sets (see [`Scratch::bits`]).
    #[inline]
    fn in_list(&self, set: CodeSet, slot: u32, env: &Env<'_>) -> bool {
        let sw = self.words - 1;
        let w = slot as usize / 64;
        let [a, b] = roles(set);
        (env.s.bits[a * sw + w] | env.s.bits[b * sw + w]) >> (slot % 64) & 1 != 0
    }

    fn field(field: Field, env: &Env<'_>) -> Option<i64> {
        match field {
            Field::Age => env.case.age,
            Field::AgeDays => env.case.age_days,
            Field::Weight => env.case.weight,
            Field::Los => env.case.los,
            Field::DxCount => Some(env.case.dx.len() as i64),
            Field::ProcCount => Some(env.px.len() as i64),
        }
    }

    pub(crate) fn eval(&self, id: NodeId, env: &Env<'_>) -> bool {
        match self.nodes[id as usize] {
            Node::Const(b) => b,
            Node::And(start, len) => self.kids(start, len).iter().all(|&c| self.eval(c, env)),
            Node::Or(start, len) => self.kids(start, len).iter().any(|&c| self.eval(c, env)),
            Node::Not(a) => !self.eval(a, env),
            Node::InList(set, slot) => self.in_list(set, slot, env),
            Node::HasProcedure => !env.px.is_empty(),
            Node::SexEq(v) => env.case.sex == Some(v),
            Node::Present(Field::Weight) => env.case.weight.is_some_and(|w| w != 0),
            Node::Present(f) => Self::field(f, env).is_some(),
            Node::Compare(f, cmp, v) => Self::field(f, env).is_some_and(|x| cmp.apply(x, v)),
            Node::DeptIn(set) => env
                .s
                .dept
                .is_some_and(|d| self.value_sets[set as usize].contains(&d)),
            Node::DischargeWayIn(set) => env
                .s
                .discharge_way
                .is_some_and(|d| self.value_sets[set as usize].contains(&d)),
            Node::TraumaSitesMin(t, min) => self.trauma_sites(t, env).count_ones() >= min,
            Node::DistinctMin(set, slot, min) => self.distinct_in(set, slot, env) >= min,
            Node::HasMcc => env.s.flag(FLAG_MCC),
            Node::HasCc => env.s.flag(FLAG_CC),
        }
    }

    #[inline]
    pub(crate) fn kids(&self, start: u32, len: u32) -> &[NodeId] {
        &self.children[start as usize..(start + len) as usize]
    }

    /// The number of distinct codes of `set` (`AnyDx` or `AnyProc`) in a slot.
    fn distinct_in(&self, set: CodeSet, slot: u32, env: &Env<'_>) -> u32 {
        let codes = if set.is_dx() {
            env.case.dx.as_slice()
        } else {
            env.px
        };
        let mut n = 0;
        for (i, &c) in codes.iter().enumerate() {
            if self.has(c, slot) && !codes[..i].contains(&c) {
                n += 1;
            }
        }
        n
    }

    fn trauma_sites(&self, t: u32, env: &Env<'_>) -> u64 {
        let table = &self.trauma[t as usize].site_of;
        env.case
            .dx
            .iter()
            .fold(0u64, |mask, &x| match table[x as usize] {
                0 => mask,
                site => mask | 1 << (site - 1),
            })
    }

    /// The facts that make a true rule true (explanations only).
    fn witness(&self, id: NodeId, env: &Env<'_>) -> Vec<String> {
        match self.nodes[id as usize] {
            Node::And(start, len) => self
                .kids(start, len)
                .iter()
                .flat_map(|&c| self.witness(c, env))
                .collect(),
            Node::Or(start, len) => self
                .kids(start, len)
                .iter()
                .find(|&&c| self.eval(c, env))
                .map(|&c| self.witness(c, env))
                .unwrap_or_default(),
            _ => vec![self.describe(id, env)],
        }
    }

    /// One atom, with the values of the case that decide it.
    pub(crate) fn describe(&self, id: NodeId, env: &Env<'_>) -> String {
        let case = env.case;
        let named = |code: CodeId, kind: CodeKind| {
            let name = self.code_name(code, kind);
            if name.is_empty() {
                self.code(code).to_string()
            } else {
                format!("{} {}", self.code(code), name)
            }
        };
        let set_codes = |set: CodeSet| -> (&[CodeId], CodeKind) {
            let dx = case.dx.as_slice();
            let px = env.px;
            match set {
                CodeSet::PrincipalDx => (&dx[..dx.len().min(1)], CodeKind::Diagnosis),
                CodeSet::SecondaryDx => (dx.get(1..).unwrap_or(&[]), CodeKind::Diagnosis),
                CodeSet::AnyDx => (dx, CodeKind::Diagnosis),
                CodeSet::PrincipalProc => (&px[..px.len().min(1)], CodeKind::Procedure),
                CodeSet::SecondaryProc => (px.get(1..).unwrap_or(&[]), CodeKind::Procedure),
                CodeSet::AnyProc => (px, CodeKind::Procedure),
            }
        };
        let truth = if self.eval(id, env) { "true" } else { "false" };
        match self.nodes[id as usize] {
            Node::InList(set, slot) => {
                let sl = &self.slots[slot as usize];
                let list = match &sl.group {
                    Some(g) => format!("{} group {g}", sl.list),
                    None => sl.list.clone(),
                };
                let (codes, kind) = set_codes(set);
                let hit = codes.iter().find(|&&c| self.has(c, slot));
                let what = match set {
                    CodeSet::PrincipalDx => "principal diagnosis",
                    CodeSet::SecondaryDx => "secondary diagnosis",
                    CodeSet::AnyDx => "diagnosis",
                    CodeSet::PrincipalProc => "principal procedure",
                    CodeSet::SecondaryProc => "secondary procedure",
                    CodeSet::AnyProc => "procedure",
                };
                let single = matches!(set, CodeSet::PrincipalDx | CodeSet::PrincipalProc);
                match (hit, codes.first()) {
                    (Some(&c), _) => format!("{what} {} is in {list}", named(c, kind)),
                    (None, Some(&c)) if single => {
                        format!("{what} {} is not in {list}", named(c, kind))
                    }
                    (None, None) if single => format!("no {what}, so none is in {list}"),
                    (None, _) => format!("no {what} is in {list}"),
                }
            }
            Node::HasMcc | Node::HasCc => {
                let (label, k) = if matches!(self.nodes[id as usize], Node::HasMcc) {
                    ("MCC", 0)
                } else {
                    ("CC", 1)
                };
                let table = |x: CodeId| self.exclusion_tables(x)[k];
                let excluded = |t: u16| case.dx.first().is_some_and(|&p| self.excluded(p, t));
                let found: Vec<String> = case
                    .dx
                    .iter()
                    .skip(1)
                    .filter(|&&x| table(x) != 0 && !excluded(table(x)))
                    .map(|&x| {
                        format!(
                            "{} (table {})",
                            named(x, CodeKind::Diagnosis),
                            self.tables[table(x) as usize - 1]
                        )
                    })
                    .collect();
                format!("has {label}: {truth} [{}]", found.join(", "))
            }
            // The fact about the case that decides the inner condition, said as it is;
            // when the negation fails, that fact is what the rule excludes.
            Node::Not(a) => {
                if self.eval(id, env) {
                    self.describe(a, env)
                } else {
                    format!("{}, which the rule excludes", self.describe(a, env))
                }
            }
            Node::Const(b) => format!("always {b}"),
            Node::HasProcedure => format!("has a procedure: {truth} ({} procedures)", env.px.len()),
            Node::SexEq(v) => {
                let name = |x: u8| match x {
                    1 => "1 (male)",
                    2 => "2 (female)",
                    _ => "other",
                };
                match case.sex {
                    Some(sex) if sex == v => format!("sex is {}", name(sex)),
                    Some(sex) => format!("sex is {}, not {}", name(sex), name(v)),
                    None => format!("sex is missing, so it is not {}", name(v)),
                }
            }
            Node::Present(f) => format!("{} present: {truth}", f.name()),
            Node::Compare(f, cmp, v) => match Self::field(f, env) {
                Some(x) => format!("{} {x} {} {v}: {truth}", f.name(), cmp.symbol()),
                None => format!(
                    "{} missing: {} {} {v} is false",
                    f.name(),
                    f.name(),
                    cmp.symbol()
                ),
            },
            Node::DeptIn(set) => format!(
                "dept {:?} in {:?}: {truth}",
                case.dept,
                self.value_sets[set as usize]
                    .iter()
                    .map(|&i| &self.depts[i as usize])
                    .collect::<Vec<_>>()
            ),
            Node::DischargeWayIn(set) => format!(
                "discharge way {:?} in {:?}: {truth}",
                case.discharge_way,
                self.value_sets[set as usize]
                    .iter()
                    .map(|&i| &self.discharge_ways[i as usize])
                    .collect::<Vec<_>>()
            ),
            Node::TraumaSitesMin(t, min) => {
                let table = &self.trauma[t as usize];
                let mask = self.trauma_sites(t, env);
                let sites: Vec<&str> = (0..64)
                    .filter(|i| mask >> i & 1 != 0)
                    .map(|i| table.sites[i].as_str())
                    .collect();
                format!(
                    "trauma sites in {} {sites:?}: {} >= {min}: {truth}",
                    table.list,
                    sites.len()
                )
            }
            Node::DistinctMin(set, slot, min) => {
                let (codes, kind) = set_codes(set);
                let hits: Vec<String> = codes
                    .iter()
                    .enumerate()
                    .filter(|&(i, &c)| self.has(c, slot) && !codes[..i].contains(&c))
                    .map(|(_, &c)| named(c, kind))
                    .collect();
                format!(
                    "distinct codes in {}: {} >= {min}: {truth} [{}]",
                    self.slots[slot as usize].list,
                    hits.len(),
                    hits.join(", ")
                )
            }
            Node::And(..) | Node::Or(..) => format!("compound rule: {truth}"),
        }
    }
}

/// Sets the bits of `slots` in a role's bit set.
#[inline]
fn set_slots(bits: &mut [u64], slots: &[u16]) {
    for &slot in slots {
        bits[slot as usize / 64] |= 1 << (slot % 64);
    }
}

fn find(pool: &[String], value: &str) -> Option<u16> {
    if value.is_empty() {
        return None;
    }
    pool.iter().position(|p| p == value).map(|i| i as u16)
}
