//! [`Scheme`] → [`Grouper`]: every check of the scheme happens here, once.
//!
//! Codes are interned into dense ids (sorted, so ids are deterministic); every list a
//! rule references becomes a *slot*, and each code gets a row of bits saying which
//! slots it belongs to ("code-major" bit matrix: a case touches one short row per code).
//! Rules become an arena of [`Node`]s over slots and ids.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::error::SchemeError;
use crate::graph::{Item, SchemeGraph};
use crate::program::{self, Hot, HotEntry, HotMdc, Translator};
use crate::rule::{Cmp, CodeSet, Field, Rule, Shape};
use crate::scheme::{OR_PROCEDURES, Scheme, SchemeFormat, SchemeInfo};
use crate::{CodeId, Status};

/// Index of a node in the rule arena.
pub(crate) type NodeId = u32;
/// Index of a result in the result table.
pub(crate) type ResultId = u32;

/// A compiled rule node.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) enum Node {
    Const(bool),
    /// `children[start..start+len]`.
    And(u32, u32),
    Or(u32, u32),
    Not(NodeId),
    InList(CodeSet, u32),
    HasProcedure,
    SexEq(u8),
    Present(Field),
    Compare(Field, Cmp, i64),
    /// Index into `value_sets` (department ids).
    DeptIn(u32),
    /// Index into `value_sets` (discharge-way ids).
    DischargeWayIn(u32),
    /// Trauma table index, minimum number of sites.
    TraumaSitesMin(u32, u32),
    /// At least `min` distinct codes of the set (`AnyDx`/`AnyProc`) in the slot.
    DistinctMin(CodeSet, u32, u32),
    HasMcc,
    HasCc,
}

/// A necessary condition of a rule, checked before evaluating it: the principal
/// diagnosis (resp. procedure) must be in slot `pdx` (resp. `ppx`); `NO_SLOT` = no
/// condition. A rule whose filter fails is false, so skipping it changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Filter {
    pub pdx: u32,
    pub ppx: u32,
}

pub(crate) const NO_SLOT: u32 = u32::MAX;

/// What a list slot stands for (for explanations).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Slot {
    pub list: String,
    pub group: Option<String>,
}

/// A trauma-site table: the site of each code (the later listing wins).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TraumaTable {
    pub list: String,
    pub sites: Vec<String>,
    /// Per code id: 0 = not in the table, else site index + 1.
    pub site_of: Vec<u8>,
}

/// A compiled MDC.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CMdc {
    pub code: String,
    pub name: String,
    pub entry: NodeId,
    pub filter: Filter,
    pub entry_rule: String,
    pub qy: Option<CQy>,
    pub entries: Vec<u32>,
    pub label: String,
}

/// A compiled QY check.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CQy {
    pub rule: NodeId,
    pub rule_text: String,
    pub after: u32,
    pub result: ResultId,
}

/// A compiled ADRG rule entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CEntry {
    pub id: String,
    pub code: String,
    pub name: String,
    pub rule: NodeId,
    pub rule_text: String,
    pub tests: Vec<CTest>,
    pub fallback: Option<ResultId>,
    pub label: String,
}

/// A DRG split test of an entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CTest {
    pub result: ResultId,
    pub cond: NodeId,
    pub cond_text: String,
    pub label: String,
}

/// A result code with its output columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultInfo {
    /// The raw result code (`BR21`, `BQY`, `0000`, a fallback ADRG code…).
    pub code: String,
    /// Outcome class.
    pub status: Status,
    /// `MDCX` or `0000`.
    pub mdc: String,
    /// ADRG code, `QY` or `00`.
    pub adrg: String,
    /// DRG code or `0000`.
    pub drg: String,
    /// DRG name where the scheme has one.
    pub name: String,
}

impl ResultInfo {
    /// Applies the result mapping of the format (engine semantics 7).
    pub fn classify(code: &str, name: &str) -> ResultInfo {
        let first = code.chars().next().unwrap_or('0');
        let (status, mdc, adrg, drg) = if code == "0000" {
            (
                Status::Ungroupable,
                "0000".into(),
                "00".into(),
                "0000".into(),
            )
        } else if code.len() == 3 && code.ends_with("00") {
            (
                Status::Ungroupable,
                format!("MDC{first}"),
                "00".into(),
                "0000".into(),
            )
        } else if code.len() == 3 && code.ends_with("QY") {
            (
                Status::Ambiguous,
                format!("MDC{first}"),
                "QY".into(),
                code.into(),
            )
        } else {
            let adrg: String = code.chars().take(3).collect();
            (Status::Grouped, format!("MDC{first}"), adrg, code.into())
        };
        ResultInfo {
            code: code.into(),
            status,
            mdc,
            adrg,
            drg,
            name: name.into(),
        }
    }
}

/// Input validation, compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CValidation {
    /// Some rule compares the length of stay: LOS is required.
    pub requires_los: bool,
}

/// Retry on no match, compiled.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(crate) struct CRetry {
    pub when: ResultId,
    pub min_procedures: u32,
}

/// Strings stored end to end in one buffer, found by position: a table of tens of
/// thousands of codes or names is two allocations, to decode and to drop.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StrTable {
    text: String,
    /// `ends[i]`: where string `i` ends in `text` (it starts where `i - 1` ends).
    ends: Vec<u32>,
}

impl StrTable {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// String `i` ("" when out of range; a decoded table is checked by [`Self::check`]).
    #[inline]
    pub fn get(&self, i: usize) -> &str {
        let Some(&end) = self.ends.get(i) else {
            return "";
        };
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.text.get(start as usize..end as usize).unwrap_or("")
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Ends in order, within the text, on character boundaries.
    pub fn check(&self, what: &str) -> Result<(), String> {
        let mut start = 0;
        for &end in &self.ends {
            if end < start || !self.text.is_char_boundary(end as usize) {
                return Err(format!("{what}: a string ends out of place"));
            }
            start = end;
        }
        if start as usize != self.text.len() {
            return Err(format!("{what}: text after the last string"));
        }
        Ok(())
    }
}

impl<S: AsRef<str>> FromIterator<S> for StrTable {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        let mut t = StrTable::default();
        for s in iter {
            t.text.push_str(s.as_ref());
            t.ends.push(t.text.len() as u32);
        }
        t
    }
}

/// The interned code dictionary of a scheme.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Codes {
    /// Normalised (trimmed, upper-case) codes, sorted; the id is the index.
    pub normalized: StrTable,
    /// The scheme's own spelling of each code.
    pub spelling: StrTable,
    /// Per id: bit 0 known as a diagnosis, bit 1 known as a procedure.
    pub flags: Vec<u8>,
    /// Names of diagnoses by id (empty when none).
    pub dx_name: StrTable,
    /// Names of procedures by id (empty when none).
    pub proc_name: StrTable,
    /// Clinical → insurance maps (normalised source, target id), sorted by source.
    pub dx_map: Vec<(Box<str>, CodeId)>,
    /// Idem for procedures.
    pub proc_map: Vec<(Box<str>, CodeId)>,
    #[serde(skip)]
    pub index: CodeIndex,
}

pub(crate) const KNOWN_DX: u8 = 1;
pub(crate) const KNOWN_PROC: u8 = 2;

impl Codes {
    pub fn rebuild_index(&mut self) {
        let codes = &self.normalized;
        self.index = CodeIndex::build(codes.len(), codes.iter().map(str::as_bytes));
    }

    /// The id of a normalised code.
    #[inline]
    pub fn find(&self, code: &[u8]) -> Option<CodeId> {
        self.index
            .get(code, |id| self.normalized.get(id as usize).as_bytes())
    }
}

/// A hash index from a normalised code (or any short byte string) to its id, rebuilt on
/// every load without
/// allocating per code: a power-of-two table probed linearly. A code of up to 15 bytes
/// is its own key, packed with its length into two words, so a lookup compares two
/// integers in one cache line and never reads the dictionary's strings; a longer code
/// is keyed by its hash and checked against the dictionary.
#[derive(Debug, Clone, Default)]
pub(crate) struct CodeIndex {
    table: Vec<IndexEntry>,
    /// 64 − log2(table size): the hash's top bits pick the first probe.
    shift: u32,
}

#[derive(Debug, Clone, Copy)]
struct IndexEntry {
    key: [u64; 2],
    id: CodeId,
}

impl CodeIndex {
    const EMPTY: CodeId = CodeId::MAX;
    /// The length byte of a key that is a hash (no packed code has it).
    const LONG: u64 = 0xFF << 56;

    /// The index of `codes` (distinct), `n` of them: the id of a code is its place.
    pub(crate) fn build<'a>(n: usize, codes: impl Iterator<Item = &'a [u8]>) -> CodeIndex {
        let size = (n * 2).next_power_of_two().max(2);
        let empty = IndexEntry {
            key: [0; 2],
            id: Self::EMPTY,
        };
        let mut index = CodeIndex {
            table: vec![empty; size],
            shift: 64 - size.trailing_zeros(),
        };
        for (id, code) in codes.take(n).enumerate() {
            let key = Self::key(code);
            let mut i = index.first(key);
            while index.table[i].id != Self::EMPTY {
                i = (i + 1) & (size - 1);
            }
            index.table[i] = IndexEntry {
                key,
                id: id as CodeId,
            };
        }
        index
    }

    /// A code of up to 15 bytes, zero-padded, with its length in the last byte; a
    /// longer code's hash, marked [`Self::LONG`].
    #[inline]
    fn key(code: &[u8]) -> [u64; 2] {
        if code.len() < 16 {
            let mut b = [0u8; 16];
            b[..code.len()].copy_from_slice(code);
            b[15] = code.len() as u8;
            let (lo, hi) = b.split_at(8);
            [
                u64::from_le_bytes(lo.try_into().expect("8 bytes")),
                u64::from_le_bytes(hi.try_into().expect("8 bytes")),
            ]
        } else {
            use std::hash::Hasher;
            let mut h = rustc_hash::FxHasher::default();
            h.write(code);
            [h.finish(), Self::LONG]
        }
    }

    #[inline]
    fn first(&self, key: [u64; 2]) -> usize {
        let h = (key[0].rotate_left(23) ^ key[1]).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (h >> self.shift) as usize
    }

    /// Looks `code` up; `text` gives the code of an id (checked for codes longer than
    /// 15 bytes, whose key is a hash). The table is at least half empty, so a probe
    /// always ends.
    #[inline]
    pub(crate) fn get<'t>(&self, code: &[u8], text: impl Fn(CodeId) -> &'t [u8]) -> Option<CodeId> {
        if self.table.is_empty() {
            return None;
        }
        let key = Self::key(code);
        let mask = self.table.len() - 1;
        let mut i = self.first(key);
        loop {
            let e = self.table[i];
            if e.id == Self::EMPTY {
                return None;
            }
            if e.key == key && (key[1] != Self::LONG || text(e.id) == code) {
                return Some(e.id);
            }
            i = (i + 1) & mask;
        }
    }
}

/// Trims and upper-cases a code (ASCII; other characters are kept as they are).
pub fn normalize_code(code: &str) -> String {
    code.trim().to_ascii_uppercase()
}

/// A compiled, immutable DRG grouper (`Send + Sync`). Build it with [`Grouper::compile`]
/// or load it with [`Grouper::load`](crate::Grouper::load).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Grouper {
    pub(crate) info: SchemeInfo,
    pub(crate) codes: Codes,
    /// u64 words per code row: the slot bits, then one word packing the code's MCC,
    /// CC and principal exclusion-table ids (16 bits each), so that a case reads one
    /// short row per code for everything.
    pub(crate) words: usize,
    /// `(codes + 1) × words`; the last row (the unknown code) is empty.
    pub(crate) membership: Vec<u64>,
    /// Exclusion-table names; id `i` is `tables[i - 1]`.
    pub(crate) tables: Vec<String>,
    pub(crate) slots: Vec<Slot>,
    pub(crate) trauma: Vec<TraumaTable>,
    pub(crate) nodes: Vec<Node>,
    pub(crate) children: Vec<NodeId>,
    pub(crate) value_sets: Vec<Vec<u16>>,
    pub(crate) depts: Vec<String>,
    pub(crate) discharge_ways: Vec<String>,
    pub(crate) mdcs: Vec<CMdc>,
    /// Per code id (+1): the MDCs (bit i = `mdcs[i]`, at most 64) whose entry rule can
    /// hold with the code as principal diagnosis / as principal procedure (the rule
    /// evaluated knowing only that code). Empty when > 64 MDCs.
    pub(crate) mdc_by_pdx: Vec<u64>,
    pub(crate) mdc_by_ppx: Vec<u64>,
    /// Per code id (+1), likewise: the MDCs where some ADRG rule (or the QY check) can
    /// still hold. An MDC none of whose rules can hold falls through, so grouping skips
    /// it; explanations do not, to show it entered.
    pub(crate) runnable_by_pdx: Vec<u64>,
    pub(crate) runnable_by_ppx: Vec<u64>,
    pub(crate) entries: Vec<CEntry>,
    /// What grouping reads of each entry, packed apart from the explanation texts:
    /// its filter and its rule.
    pub(crate) entry_hot: Vec<(Filter, NodeId)>,
    pub(crate) results: Vec<ResultInfo>,
    pub(crate) no_match: ResultId,
    pub(crate) invalid: ResultId,
    pub(crate) retry: Option<CRetry>,
    pub(crate) validation: CValidation,
    pub(crate) warnings: Vec<String>,
    /// Workbook schemes: per exclusion-table id (`i - 1`), the slot of its members; a
    /// complication is excluded when the principal diagnosis is in that slot. Empty for
    /// folder schemes (excluded when the principal has the same table).
    pub(crate) exclusion_slots: Vec<u32>,
    /// The source format (explanations print workbook rules as written).
    pub(crate) format: SchemeFormat,
    /// Derived on compile and load ([`Grouper::derive_tables`]), not stored: what
    /// grouping reads of each code id (+1), in one record of half a cache line (see
    /// [`CodeFacts`]), and the slot lists too long for a record.
    #[serde(skip)]
    pub(crate) facts: Vec<CodeFacts>,
    #[serde(skip)]
    pub(crate) more_slots: Vec<u16>,
    /// Derived likewise: the few slots of each code that rules read of a secondary
    /// diagnosis or procedure (most lists are tested of the principal codes only):
    /// `secondary_slots[secondary_at[c]..secondary_at[c + 1]]`, for the codes whose
    /// [`CodeFacts::len`] has the [`SECONDARY`] bit.
    #[serde(skip)]
    pub(crate) secondary_at: Vec<u32>,
    #[serde(skip)]
    pub(crate) secondary_slots: Vec<u16>,
    /// Derived likewise: which entries of an MDC the principal codes let through their
    /// filters.
    #[serde(skip)]
    pub(crate) entry_masks: EntryMasks,
    /// Derived likewise: every rule grouping evaluates as a straight-line program, and
    /// the MDCs' and entries' fields grouping reads (see [`crate::program`]).
    #[serde(skip)]
    pub(crate) hot: Hot,
}

/// Which entries of an MDC can pass their filters given the case's principal diagnosis
/// and principal procedure, as bit masks over the MDC's `entries` (bit `k` =
/// `entries[k]`), so grouping visits only those instead of testing every filter. Per
/// MDC and role (0 = principal diagnosis, 1 = principal procedure): the entries without
/// a filter of that role, and per list slot the entries whose filter of that role is
/// the slot. Grouping ors the rows of the principal code's slots (a handful) rather
/// than testing the MDC's filters (dozens). An MDC of more than 64 entries lets every
/// entry through (its filters are then tested one by one, as always).
#[derive(Debug, Clone, Default)]
pub(crate) struct EntryMasks {
    /// Per MDC and role: the entries without a filter of that role.
    pub free: Vec<[u64; 2]>,
    /// Per role, MDC after MDC, slot after slot: the entries of the MDC whose filter of
    /// that role is the slot (`by_slot[role][i * slots + s]`); empty beyond 64 MDCs.
    pub by_slot: [Vec<u64>; 2],
}

/// How many slots a [`CodeFacts`] record holds itself.
pub(crate) const INLINE_SLOTS: usize = 4;

/// The most list slots a scheme may have (slot ids and counts are 15-bit in
/// [`CodeFacts`]; CHS-DRG 3.0 has 783).
pub(crate) const MAX_SLOTS: usize = 1 << 14;

/// The bit of [`CodeFacts::len`] saying that rules read some of the code's slots of a
/// secondary diagnosis or procedure ([`Grouper::secondary_slots`]).
pub(crate) const SECONDARY: u16 = 1 << 15;

/// Everything grouping reads of one code, in 32 bytes: generated cases draw their codes
/// from tens of thousands, so a code's data is cold, and one record per code means one
/// cache miss per code of a case instead of one per table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C, align(32))]
pub(crate) struct CodeFacts {
    /// The runnable-MDC masks with the code as principal diagnosis and as principal
    /// procedure ([`Grouper::runnable_by_pdx`], all ones when the scheme has none).
    pub runnable: [u64; 2],
    /// MCC, CC and principal exclusion-table ids (0 = none).
    pub tables: [u16; 3],
    /// How many list slots the code is in (marked when it is the principal diagnosis
    /// or procedure); the [`SECONDARY`] bit is set when some are read of it as a
    /// secondary code too.
    pub len: u16,
    /// Its slots when `len <= INLINE_SLOTS`; else the first two hold the offset of its
    /// slots in [`Grouper::more_slots`] (low half, high half).
    pub slots: [u16; INLINE_SLOTS],
}

/// The slot-name prefix of an exclusion table's members (workbook schemes).
pub(crate) const EXCLUSION_SLOT: &str = "排除表 ";

struct Builder<'s> {
    scheme: &'s Scheme,
    problems: Vec<String>,
    warnings: Vec<String>,
    code_ids: BTreeMap<String, CodeId>,
    slot_ids: BTreeMap<(String, Option<String>), u32>,
    trauma_ids: BTreeMap<String, u32>,
    nodes: Vec<Node>,
    children: Vec<NodeId>,
    value_sets: Vec<Vec<u16>>,
    depts: Vec<String>,
    discharge_ways: Vec<String>,
    results: Vec<ResultInfo>,
    result_ids: BTreeMap<String, ResultId>,
    drg_names: BTreeMap<&'s str, &'s str>,
    stated: BTreeMap<&'s str, &'s ResultInfo>,
    uses_los: bool,
}

impl Grouper {
    /// Checks and compiles a scheme. All problems found are reported together, each
    /// naming the file, item and field at fault.
    pub fn compile(scheme: &Scheme) -> Result<Grouper, SchemeError> {
        let mut b = Builder {
            scheme,
            problems: Vec::new(),
            warnings: Vec::new(),
            code_ids: BTreeMap::new(),
            slot_ids: BTreeMap::new(),
            trauma_ids: BTreeMap::new(),
            nodes: Vec::new(),
            children: Vec::new(),
            value_sets: Vec::new(),
            depts: Vec::new(),
            discharge_ways: Vec::new(),
            results: Vec::new(),
            result_ids: BTreeMap::new(),
            drg_names: BTreeMap::new(),
            stated: scheme
                .result_columns
                .iter()
                .map(|r| (r.code.as_str(), r))
                .collect(),
            uses_los: false,
        };
        let mut grouper = b.build();
        grouper.derive_tables();
        if b.problems.is_empty() {
            Ok(grouper)
        } else {
            Err(SchemeError::Invalid(b.problems))
        }
    }

    /// Builds the tables derived from the membership matrix (not stored in a compiled
    /// file): each code's [`CodeFacts`]. Reads only indices
    /// [`Grouper::check_invariants`] has checked (slot ids below `u16::MAX`, fewer than
    /// `u32::MAX` memberships).
    pub(crate) fn derive_tables(&mut self) {
        let w = self.words;
        self.facts.clear();
        self.more_slots.clear();
        self.secondary_at.clear();
        self.secondary_at.push(0);
        self.secondary_slots.clear();
        let roles = self.slot_roles();
        let secondary = |slot: u16| roles.get(slot as usize).is_some_and(|r| r & 0b1010 != 0);
        let mut slots: Vec<u16> = Vec::new();
        for (c, row) in self.membership.chunks(w).enumerate() {
            slots.clear();
            for (k, &word) in row[..w - 1].iter().enumerate() {
                let mut bits = word;
                while bits != 0 {
                    slots.push((k * 64) as u16 + bits.trailing_zeros() as u16);
                    bits &= bits - 1;
                }
            }
            let packed = row[w - 1];
            let mut f = CodeFacts {
                runnable: [
                    self.runnable_by_pdx.get(c).copied().unwrap_or(u64::MAX),
                    self.runnable_by_ppx.get(c).copied().unwrap_or(u64::MAX),
                ],
                tables: [packed as u16, (packed >> 16) as u16, (packed >> 32) as u16],
                len: slots.len() as u16,
                slots: [0; INLINE_SLOTS],
            };
            let before = self.secondary_slots.len();
            self.secondary_slots
                .extend(slots.iter().copied().filter(|&s| secondary(s)));
            if self.secondary_slots.len() > before {
                f.len |= SECONDARY;
            }
            self.secondary_at.push(self.secondary_slots.len() as u32);
            if slots.len() <= INLINE_SLOTS {
                f.slots[..slots.len()].copy_from_slice(&slots);
            } else {
                let at = self.more_slots.len() as u32;
                f.slots[0] = at as u16;
                f.slots[1] = (at >> 16) as u16;
                self.more_slots.extend_from_slice(&slots);
            }
            self.facts.push(f);
        }
        self.derive_entry_masks();
        self.derive_programs();
    }

    /// Per list slot, the roles of the case's bit sets it is read in (bit `r` for role
    /// `r` of `group::roles`): by a list atom of any rule (every atom the programs and
    /// the tree evaluator test), by an entry's filter, or as an exclusion table's
    /// members (of the principal diagnosis). Grouping marks a code's slots in a role
    /// only where they are read.
    fn slot_roles(&self) -> Vec<u8> {
        let mut roles = vec![0u8; self.slots.len()];
        let mut read = |set: CodeSet, slot: u32| {
            if let Some(r) = roles.get_mut(slot as usize) {
                for role in crate::group::roles(set) {
                    *r |= 1 << role;
                }
            }
        };
        for node in &self.nodes {
            if let Node::InList(set, slot) = *node {
                read(set, slot);
            }
        }
        for (f, _) in &self.entry_hot {
            if f.pdx != NO_SLOT {
                read(CodeSet::PrincipalDx, f.pdx);
            }
            if f.ppx != NO_SLOT {
                read(CodeSet::PrincipalProc, f.ppx);
            }
        }
        for &slot in &self.exclusion_slots {
            read(CodeSet::PrincipalDx, slot);
        }
        roles
    }

    /// Builds [`Hot`]: the programs of every MDC entry rule, QY check, entry rule and
    /// split condition, and the fields grouping reads beside them.
    fn derive_programs(&mut self) {
        let mut t = Translator::new(&self.nodes, &self.children, self.words - 1);
        let mut hot = Hot::default();
        for m in &self.mdcs {
            let entry = t.program(m.entry, &mut hot.ops);
            let (qy, qy_after, qy_result) = match &m.qy {
                Some(q) => (t.program(q.rule, &mut hot.ops), q.after, q.result),
                None => (program::NONE, 0, 0),
            };
            hot.mdcs.push(HotMdc {
                entry,
                qy,
                qy_after,
                qy_result,
                entries: hot.entries.len() as u32,
                len: m.entries.len() as u32,
                // (No runnable masks beyond 64 MDCs.)
                entered_if_runnable: self.mdcs.len() <= 64
                    && [CodeSet::PrincipalDx, CodeSet::PrincipalProc]
                        .into_iter()
                        .any(|set| self.reads_only(m.entry, set)),
            });
            for &ei in &m.entries {
                let e = &self.entries[ei as usize];
                let (filter, rule) = self.entry_hot[ei as usize];
                let rule = t.program(rule, &mut hot.ops);
                let tests = hot.tests.len() as u32;
                for test in &e.tests {
                    let cond = t.program(test.cond, &mut hot.ops);
                    hot.tests.push((cond, test.result));
                }
                hot.entries.push(HotEntry {
                    filter,
                    rule_is_filter: self.is_filter(self.entry_hot[ei as usize].1, filter),
                    rule,
                    tests,
                    len: e.tests.len() as u32,
                    fallback: e.fallback.unwrap_or(program::NONE),
                    index: ei,
                });
            }
        }
        self.hot = hot;
    }

    /// Does rule `id` read nothing but lists of `set` (a principal code) and constants?
    /// Its value is then decided by that code alone.
    fn reads_only(&self, id: NodeId, set: CodeSet) -> bool {
        match self.nodes.get(id as usize) {
            Some(&Node::Const(_)) => true,
            Some(&Node::InList(s, _)) => s == set,
            Some(&Node::Not(a)) => self.reads_only(a, set),
            Some(&(Node::And(start, len) | Node::Or(start, len))) => self
                .children
                .get(start as usize..start as usize + len as usize)
                .is_some_and(|kids| kids.iter().all(|&k| self.reads_only(k, set))),
            _ => false,
        }
    }

    /// Is rule `id` an atom of `filter`, or an `and` of such atoms? It then holds
    /// whenever the filter passes.
    fn is_filter(&self, id: NodeId, filter: Filter) -> bool {
        let atom = |id: NodeId| match self.nodes.get(id as usize) {
            Some(&Node::InList(CodeSet::PrincipalDx, slot)) => slot == filter.pdx,
            Some(&Node::InList(CodeSet::PrincipalProc, slot)) => slot == filter.ppx,
            _ => false,
        };
        match self.nodes.get(id as usize) {
            Some(&Node::And(start, len)) => self
                .children
                .get(start as usize..start as usize + len as usize)
                .is_some_and(|kids| kids.iter().all(|&k| atom(k))),
            _ => atom(id),
        }
    }

    /// Builds [`EntryMasks`] from the MDCs' entries and their filters.
    fn derive_entry_masks(&mut self) {
        let slots = self.slots.len();
        let mut masks = EntryMasks::default();
        if self.mdcs.len() <= 64 {
            masks.by_slot = [
                vec![0; self.mdcs.len() * slots],
                vec![0; self.mdcs.len() * slots],
            ];
        }
        for (i, m) in self.mdcs.iter().enumerate() {
            let mut none = [0u64; 2];
            if m.entries.len() > 64 || masks.by_slot[0].is_empty() {
                none = [u64::MAX; 2];
            } else {
                for (k, &e) in m.entries.iter().enumerate() {
                    let f = self.entry_hot[e as usize].0;
                    for (role, slot) in [f.pdx, f.ppx].into_iter().enumerate() {
                        match masks.by_slot[role].get_mut(i * slots + slot as usize) {
                            Some(row) if slot != NO_SLOT && (slot as usize) < slots => {
                                *row |= 1 << k
                            }
                            _ => none[role] |= 1 << k,
                        }
                    }
                }
            }
            masks.free.push(none);
        }
        self.entry_masks = masks;
    }

    /// Name, version and content hash of the compiled scheme.
    pub fn info(&self) -> &SchemeInfo {
        &self.info
    }

    /// Non-fatal findings of the compiler (lists no rule uses, shadowed DRG tests…).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Number of interned codes.
    pub fn code_count(&self) -> usize {
        self.codes.normalized.len()
    }

    /// All result codes the grouper can produce (DRGs, fallbacks, QY results, no-match).
    pub fn results(&self) -> &[ResultInfo] {
        &self.results
    }
}

impl<'s> Builder<'s> {
    fn problem(&mut self, msg: String) {
        self.problems.push(msg);
    }

    fn build(&mut self) -> Grouper {
        let s = self.scheme;
        let r = &s.rules;
        if r.validation.variant != "standard" {
            self.problem(format!(
                "scheme.json: validation.variant: unknown variant `{}` (only `standard` is defined)",
                r.validation.variant
            ));
        }
        for d in &r.drgs {
            self.drg_names.insert(&d.drg, &d.name);
        }
        self.intern_codes();
        let n = self.code_ids.len();

        // Exclusion tables.
        // Table ids are 16-bit (packed three to a word with each code's row); id 0 = none.
        let mut table_ids: BTreeMap<&str, u16> = BTreeMap::new();
        let files = [
            ("mcc.csv", &s.mcc),
            ("cc.csv", &s.cc),
            ("pdx_exclusion_table.csv", &s.pdx_exclusion),
        ];
        'tables: for (file, rows) in files {
            for t in rows {
                if table_ids.contains_key(t.table.as_str()) {
                    continue;
                }
                let Ok(next) = u16::try_from(table_ids.len() + 1) else {
                    self.problems.push(format!(
                        "{file}: line {}, field `exclusion_table`: `{}` is exclusion table number {}; a scheme holds at most {} distinct tables",
                        t.line,
                        t.table,
                        table_ids.len() + 1,
                        u16::MAX
                    ));
                    break 'tables;
                };
                table_ids.insert(t.table.as_str(), next);
            }
        }
        let tables: Vec<String> = {
            let mut v = vec![String::new(); table_ids.len()];
            for (name, id) in &table_ids {
                v[*id as usize - 1] = name.to_string();
            }
            v
        };
        let mut attr = |file: &str, rows: &[crate::scheme::CodeTable], what: &str| {
            let mut out = vec![0u16; n + 1];
            for t in rows {
                if t.table.is_empty() {
                    self.problems.push(format!(
                        "{file}: line {}, field `exclusion_table`: empty table id for {what} `{}`",
                        t.line, t.code
                    ));
                    continue;
                }
                let id = self.code_ids[&normalize_code(&t.code)] as usize;
                let Some(&tid) = table_ids.get(t.table.as_str()) else {
                    continue; // beyond the table limit, reported above
                };
                if out[id] != 0 && out[id] != tid {
                    self.problems.push(format!(
                        "{file}: line {}, field `exclusion_table`: {what} `{}` is listed with two exclusion tables ({} and {})",
                        t.line, t.code, tables[out[id] as usize - 1], t.table
                    ));
                }
                out[id] = tid;
            }
            out
        };
        let mcc = attr("mcc.csv", &s.mcc, "MCC");
        let cc = attr("cc.csv", &s.cc, "CC");
        let pdx_table = attr(
            "pdx_exclusion_table.csv",
            &s.pdx_exclusion,
            "principal diagnosis",
        );

        // Results and validation of the dispatch.
        if r.dispatch.no_match_result.trim().is_empty() {
            self.problem(
                "scheme.json: dispatch.no_match_result: empty (every unmatched case would be reported as grouped, MDC `MDC0`); the format's no-match result is `0000`".into(),
            );
        } else if ResultInfo::classify(&r.dispatch.no_match_result, "").status
            != Status::Ungroupable
        {
            self.warnings.push(format!(
                "scheme.json: dispatch.no_match_result: `{}` is not an ungroupable result (`0000` or `X00`): unmatched cases will be reported as {:?}",
                r.dispatch.no_match_result,
                ResultInfo::classify(&r.dispatch.no_match_result, "").status
            ));
        }
        let no_match = self.result(&r.dispatch.no_match_result.clone());
        let invalid = {
            let id = self.results.len() as ResultId;
            self.results
                .push(s.invalid_result.clone().unwrap_or_else(|| ResultInfo {
                    code: "0000".into(),
                    status: Status::Invalid,
                    mdc: "0000".into(),
                    adrg: "00".into(),
                    drg: "0000".into(),
                    name: String::new(),
                }));
            id
        };
        let retry = match &r.dispatch.retry_on_no_match {
            None => None,
            Some(rt) => {
                if rt.kind != "each_secondary_procedure_alone" {
                    self.problem(format!(
                        "scheme.json: dispatch.retry_on_no_match.kind: unknown kind `{}` (only `each_secondary_procedure_alone` is defined)",
                        rt.kind
                    ));
                }
                Some(CRetry {
                    when: self.result(&rt.when_result),
                    min_procedures: rt.min_procedures,
                })
            }
        };

        // Entries.
        let mut entry_index: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, e) in r.adrgs.iter().enumerate() {
            if entry_index.insert(&e.adrg, i).is_some() {
                self.problem(format!(
                    "scheme.json: adrgs[{i}].adrg: duplicate rule entry id `{}`",
                    e.adrg
                ));
            }
        }
        let mut drg_index: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, d) in r.drgs.iter().enumerate() {
            if drg_index.insert(&d.drg, i).is_some() {
                self.problem(format!(
                    "scheme.json: drgs[{i}].drg: duplicate DRG `{}`",
                    d.drg
                ));
            }
        }
        let mut entries = Vec::with_capacity(r.adrgs.len());
        for (i, e) in r.adrgs.iter().enumerate() {
            let at = format!("scheme.json: adrgs[{i}] ({})", e.adrg);
            let rule = self.rule(&e.rule, &format!("{at}.rule"));
            let mut tests = Vec::new();
            let mut always = false;
            for (k, code) in e.drgs.iter().enumerate() {
                let Some(&di) = drg_index.get(code.as_str()) else {
                    self.problem(format!(
                        "{at}.drgs[{k}]: DRG `{code}` is not defined in scheme.json → drgs"
                    ));
                    continue;
                };
                let d = &r.drgs[di];
                if always {
                    self.warnings.push(format!(
                        "{at}: DRG `{code}` can never be chosen: an earlier DRG test of the entry is always true"
                    ));
                }
                if matches!(d.condition, Rule::True {}) {
                    always = true;
                }
                let cond = self.rule(
                    &d.condition,
                    &format!("scheme.json: drgs[{di}] ({code}).condition"),
                );
                tests.push(CTest {
                    result: self.result(code),
                    cond,
                    cond_text: d
                        .source_text
                        .clone()
                        .unwrap_or_else(|| d.condition.to_string()),
                    label: d.source_label.clone(),
                });
            }
            let fallback = (!e.fallback_result.is_empty()).then(|| self.result(&e.fallback_result));
            entries.push(CEntry {
                id: e.adrg.clone(),
                code: e.code().to_string(),
                name: e.name.clone(),
                rule,
                rule_text: e.source_text.clone().unwrap_or_else(|| e.rule.to_string()),
                tests,
                fallback,
                label: e.source_label.clone(),
            });
        }
        for (i, d) in r.drgs.iter().enumerate() {
            if d.statically_reachable == Some(false) {
                self.warnings.push(format!(
                    "scheme.json: drgs[{i}] ({}): marked statically unreachable (an earlier test of its entry shadows it)",
                    d.drg
                ));
            }
        }

        // MDCs and dispatch order.
        let mut mdc_index: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, m) in r.mdcs.iter().enumerate() {
            if mdc_index.insert(&m.mdc, i).is_some() {
                self.problem(format!(
                    "scheme.json: mdcs[{i}].mdc: duplicate MDC `{}`",
                    m.mdc
                ));
            }
        }
        let mut mdcs = Vec::new();
        let mut seen_mdc = BTreeSet::new();
        for (k, code) in r.dispatch.mdc_order.iter().enumerate() {
            let Some(&mi) = mdc_index.get(code.as_str()) else {
                self.problem(format!(
                    "scheme.json: dispatch.mdc_order[{k}]: MDC `{code}` is not defined in mdcs"
                ));
                continue;
            };
            if !seen_mdc.insert(code.as_str()) {
                self.problem(format!(
                    "scheme.json: dispatch.mdc_order[{k}]: MDC `{code}` is listed twice"
                ));
                continue;
            }
            let m = &r.mdcs[mi];
            let at = format!("scheme.json: mdcs[{mi}] ({})", m.mdc);
            let entry = self.rule(&m.entry_rule, &format!("{at}.entry_rule"));
            let qy = match &m.qy_check {
                Some(q) if q.enabled => {
                    let rule = self.rule(&q.rule, &format!("{at}.qy_check.rule"));
                    if q.result.chars().count() < 3 {
                        self.problem(format!(
                            "{at}.qy_check.result: `{}` is not a result code such as `BQY`",
                            q.result
                        ));
                    }
                    Some(CQy {
                        rule,
                        rule_text: q.rule.to_string(),
                        after: q.after_adrg_count,
                        result: self.result(&q.result),
                    })
                }
                _ => None,
            };
            let mut list = Vec::new();
            for (j, id) in m.adrgs.iter().enumerate() {
                match entry_index.get(id.as_str()) {
                    None => self.problem(format!(
                        "{at}.adrgs[{j}]: rule entry `{id}` is not defined in scheme.json → adrgs"
                    )),
                    Some(&ei) => {
                        if r.adrgs[ei].mdc != m.mdc {
                            self.problem(format!(
                                "{at}.adrgs[{j}]: rule entry `{id}` belongs to `{}`",
                                r.adrgs[ei].mdc
                            ));
                        }
                        list.push(ei as u32);
                    }
                }
            }
            mdcs.push(CMdc {
                code: m.mdc.clone(),
                name: m.name.clone(),
                entry,
                filter: self.filter(entry),
                entry_rule: m
                    .source_text
                    .clone()
                    .unwrap_or_else(|| m.entry_rule.to_string()),
                qy,
                entries: list,
                label: m.source_label.clone(),
            });
        }
        // What no path from the dispatcher reaches.
        for item in SchemeGraph::build(s).unreachable() {
            match item {
                Item::Dispatch => {}
                Item::Mdc(c) => self.problem(format!(
                    "scheme.json: mdcs ({c}): never dispatched: missing from dispatch.mdc_order"
                )),
                Item::Entry(c) => self.problem(format!(
                    "scheme.json: adrgs ({c}): orphan rule entry: no dispatched MDC lists it in mdcs[].adrgs"
                )),
                Item::Drg(c) => self.problem(format!(
                    "scheme.json: drgs ({c}): can never be reached: no dispatched rule entry tests it"
                )),
                // A workbook has no operating-room list of its own.
                Item::List(c) if c == OR_PROCEDURES && s.format == SchemeFormat::Workbook => {}
                Item::List(c) => self
                    .warnings
                    .push(format!("scheme.json: lists.{c}: orphan list: no reachable rule reads it")),
            }
        }

        // Workbook schemes: each exclusion table is a slot of its member principal diagnoses.
        let exclusion_slots: Vec<u32> = if s.format == SchemeFormat::Workbook {
            tables
                .iter()
                .map(|t| self.slot(&format!("{EXCLUSION_SLOT}{t}"), None))
                .collect()
        } else {
            Vec::new()
        };
        if self.slot_ids.len() > MAX_SLOTS {
            self.problem(format!(
                "scheme.json: the rules read {} distinct lists (list slots); a scheme holds at most {MAX_SLOTS}",
                self.slot_ids.len()
            ));
        }
        let (words, mut membership, trauma) = self.membership(n);
        for m in &s.exclusion_members {
            if let Some(&tid) = table_ids.get(m.table.as_str()) {
                let slot = exclusion_slots[tid as usize - 1] as usize;
                let id = self.code_ids[&normalize_code(&m.code)] as usize;
                membership[id * words + slot / 64] |= 1u64 << (slot % 64);
            }
        }
        for id in 0..=n {
            membership[id * words + words - 1] =
                u64::from(mcc[id]) | u64::from(cc[id]) << 16 | u64::from(pdx_table[id]) << 32;
        }
        let [mdc_by_pdx, mdc_by_ppx, runnable_by_pdx, runnable_by_ppx] = mdc_masks(
            &mdcs,
            &entries,
            &self.nodes,
            &self.children,
            &membership,
            words,
            n,
        );
        let entry_hot = entries
            .iter()
            .map(|e: &CEntry| (self.filter(e.rule), e.rule))
            .collect();
        Grouper {
            entry_hot,
            mdc_by_pdx,
            mdc_by_ppx,
            runnable_by_pdx,
            runnable_by_ppx,
            info: s.info.clone(),
            codes: self.codes(n),
            words,
            membership,
            tables,
            slots: by_id(&self.slot_ids)
                .into_iter()
                .map(|(list, group)| Slot {
                    list: list.clone(),
                    group: group.clone(),
                })
                .collect(),
            trauma,
            nodes: std::mem::take(&mut self.nodes),
            children: std::mem::take(&mut self.children),
            value_sets: std::mem::take(&mut self.value_sets),
            depts: std::mem::take(&mut self.depts),
            discharge_ways: std::mem::take(&mut self.discharge_ways),
            mdcs,
            entries,
            results: std::mem::take(&mut self.results),
            no_match,
            invalid,
            retry,
            validation: CValidation {
                requires_los: self.uses_los,
            },
            warnings: std::mem::take(&mut self.warnings),
            exclusion_slots,
            format: s.format,
            facts: Vec::new(),
            more_slots: Vec::new(),
            secondary_at: Vec::new(),
            secondary_slots: Vec::new(),
            entry_masks: EntryMasks::default(),
            hot: Hot::default(),
        }
    }

    /// Collects every code of the scheme, normalised, and checks that no two spellings
    /// collapse into one.
    fn intern_codes(&mut self) {
        let s = self.scheme;
        let mut spellings: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
        let mut add = |c: &'s str| {
            spellings.entry(normalize_code(c)).or_default().insert(c);
        };
        for l in s.rules.lists.values() {
            l.codes.iter().for_each(|c| add(c));
        }
        for t in s.mcc.iter().chain(&s.cc).chain(&s.pdx_exclusion) {
            add(&t.code);
        }
        s.exclusion_members.iter().for_each(|t| add(&t.code));
        s.or_procedures.iter().for_each(|c| add(c));
        for (c, _) in s.dx_names.iter().chain(&s.proc_names) {
            add(c);
        }
        for (_, to) in s.dx_code_map.iter().chain(&s.proc_code_map) {
            add(to);
        }
        for (norm, set) in &spellings {
            if set.len() > 1 {
                self.problems.push(format!(
                    "codes {set:?} differ only in case or spaces; they would all read as `{norm}`"
                ));
            }
            if norm.is_empty() {
                self.problems
                    .push("an empty code appears in a list or table".into());
            }
        }
        self.code_ids = spellings
            .keys()
            .enumerate()
            .map(|(i, c)| (c.clone(), i as CodeId))
            .collect();
    }

    fn id(&self, code: &str) -> CodeId {
        self.code_ids[&normalize_code(code)]
    }

    fn codes(&self, n: usize) -> Codes {
        let s = self.scheme;
        let mut spelling = vec![Box::<str>::from(""); n];
        let mut flags = vec![0u8; n];
        let mut dx_name = vec![Box::<str>::from(""); n];
        let mut proc_name = vec![Box::<str>::from(""); n];
        let mut spell = |c: &str| {
            let id = self.id(c) as usize;
            if spelling[id].is_empty() {
                spelling[id] = c.into();
            }
            id
        };
        for (c, name) in &s.dx_names {
            let id = spell(c);
            flags[id] |= KNOWN_DX;
            dx_name[id] = name.as_str().into();
        }
        for (c, name) in &s.proc_names {
            let id = spell(c);
            flags[id] |= KNOWN_PROC;
            proc_name[id] = name.as_str().into();
        }
        for t in s
            .mcc
            .iter()
            .chain(&s.cc)
            .chain(&s.pdx_exclusion)
            .chain(&s.exclusion_members)
        {
            flags[spell(&t.code)] |= KNOWN_DX;
        }
        for c in &s.or_procedures {
            flags[spell(c)] |= KNOWN_PROC;
        }
        // A list is a diagnosis list or a procedure list by the rules that use it.
        let mut roles: BTreeMap<&str, u8> = BTreeMap::new();
        let mut visit = |rule: &'s Rule| {
            rule.visit(&mut |r| match r.shape() {
                Shape::InList(set, list) => {
                    *roles.entry(list).or_default() |=
                        if set.is_dx() { KNOWN_DX } else { KNOWN_PROC }
                }
                Shape::ProcGroup(list, _) => *roles.entry(list).or_default() |= KNOWN_PROC,
                Shape::TraumaSitesMin(list, _) => *roles.entry(list).or_default() |= KNOWN_DX,
                Shape::DistinctMin(set, list, _) => {
                    *roles.entry(list).or_default() |=
                        if set.is_dx() { KNOWN_DX } else { KNOWN_PROC }
                }
                _ => {}
            })
        };
        for m in &s.rules.mdcs {
            visit(&m.entry_rule);
            if let Some(q) = &m.qy_check {
                visit(&q.rule);
            }
        }
        s.rules.adrgs.iter().for_each(|e| visit(&e.rule));
        s.rules.drgs.iter().for_each(|d| visit(&d.condition));
        for (id, l) in &s.rules.lists {
            let role = roles
                .get(id.as_str())
                .copied()
                .unwrap_or(KNOWN_DX | KNOWN_PROC);
            for c in &l.codes {
                flags[spell(c)] |= role;
            }
        }
        for (_, to) in s.dx_code_map.iter().chain(&s.proc_code_map) {
            spell(to);
        }
        let map = |pairs: &[(String, String)]| {
            let mut v: Vec<(Box<str>, CodeId)> = pairs
                .iter()
                .map(|(from, to)| (normalize_code(from).into_boxed_str(), self.id(to)))
                .collect();
            v.sort();
            v.dedup_by(|a, b| a.0 == b.0);
            v
        };
        let mut codes = Codes {
            normalized: self.code_ids.keys().collect(),
            spelling: spelling.iter().collect(),
            flags,
            dx_name: dx_name.iter().collect(),
            proc_name: proc_name.iter().collect(),
            dx_map: map(&s.dx_code_map),
            proc_map: map(&s.proc_code_map),
            index: CodeIndex::default(),
        };
        codes.rebuild_index();
        codes
    }

    /// Interns a result code.
    fn result(&mut self, code: &str) -> ResultId {
        if let Some(&id) = self.result_ids.get(code) {
            return id;
        }
        let name = self.drg_names.get(code).copied().unwrap_or("");
        let id = self.results.len() as ResultId;
        self.results.push(match self.stated.get(code) {
            Some(&stated) => stated.clone(),
            None => ResultInfo::classify(code, name),
        });
        self.result_ids.insert(code.to_string(), id);
        id
    }

    /// The necessary principal-code condition of a compiled rule (see [`Filter`]).
    fn filter(&self, id: NodeId) -> Filter {
        let mut f = Filter {
            pdx: NO_SLOT,
            ppx: NO_SLOT,
        };
        match self.nodes[id as usize] {
            Node::InList(CodeSet::PrincipalDx, slot) => f.pdx = slot,
            Node::InList(CodeSet::PrincipalProc, slot) => f.ppx = slot,
            Node::And(start, len) => {
                for &c in &self.children[start as usize..(start + len) as usize] {
                    let g = self.filter(c);
                    if f.pdx == NO_SLOT {
                        f.pdx = g.pdx;
                    }
                    if f.ppx == NO_SLOT {
                        f.ppx = g.ppx;
                    }
                }
            }
            // A slot every alternative needs is needed (`(ZYSS in A and …) or (ZYSS in A and …)`).
            Node::Or(start, len) if len > 0 => {
                let each: Vec<Filter> = self.children[start as usize..(start + len) as usize]
                    .iter()
                    .map(|&c| self.filter(c))
                    .collect();
                let common = |slot: fn(&Filter) -> u32| {
                    let first = slot(&each[0]);
                    if each.iter().all(|g| slot(g) == first) {
                        first
                    } else {
                        NO_SLOT
                    }
                };
                f.pdx = common(|g| g.pdx);
                f.ppx = common(|g| g.ppx);
            }
            _ => {}
        }
        f
    }

    fn push(&mut self, node: Node) -> NodeId {
        self.nodes.push(node);
        (self.nodes.len() - 1) as NodeId
    }

    fn list_exists(&mut self, list: &str, at: &str) -> bool {
        if list == OR_PROCEDURES || self.scheme.rules.lists.contains_key(list) {
            true
        } else {
            self.problems
                .push(format!("{at}: unknown list id `{list}`"));
            false
        }
    }

    fn slot(&mut self, list: &str, group: Option<&str>) -> u32 {
        let next = self.slot_ids.len() as u32;
        *self
            .slot_ids
            .entry((list.to_string(), group.map(str::to_string)))
            .or_insert(next)
    }

    fn values(&mut self, values: &[String], dept: bool) -> u32 {
        let pool = if dept {
            &mut self.depts
        } else {
            &mut self.discharge_ways
        };
        let mut ids: Vec<u16> = values
            .iter()
            .filter(|v| !v.is_empty())
            .filter_map(|v| match pool.iter().position(|p| p == v) {
                Some(i) => Some(i as u16),
                None => {
                    let id = u16::try_from(pool.len()).ok()?;
                    pool.push(v.clone());
                    Some(id)
                }
            })
            .collect();
        if pool.len() == usize::from(u16::MAX) + 1
            && values.iter().any(|v| !v.is_empty() && !pool.contains(v))
        {
            let what = if dept {
                "departments"
            } else {
                "discharge ways"
            };
            self.problems.push(format!(
                "scheme.json: rules name more than {} distinct {what}",
                usize::from(u16::MAX) + 1
            ));
        }
        ids.sort_unstable();
        ids.dedup();
        self.value_sets.push(ids);
        (self.value_sets.len() - 1) as u32
    }

    /// Compiles a rule; problems name `at` (file, item and field).
    fn rule(&mut self, rule: &Rule, at: &str) -> NodeId {
        match rule.shape() {
            Shape::Const(b) => self.push(Node::Const(b)),
            Shape::And(args) | Shape::Or(args) => {
                let ids: Vec<NodeId> = args
                    .iter()
                    .enumerate()
                    .map(|(i, a)| self.rule(a, &format!("{at}.args[{i}]")))
                    .collect();
                let start = self.children.len() as u32;
                self.children.extend(ids);
                let len = args.len() as u32;
                self.push(if matches!(rule, Rule::And { .. }) {
                    Node::And(start, len)
                } else {
                    Node::Or(start, len)
                })
            }
            Shape::Not(arg) => {
                let a = self.rule(arg, &format!("{at}.arg"));
                self.push(Node::Not(a))
            }
            Shape::InList(set, list) => {
                if !self.list_exists(list, at) {
                    return self.push(Node::Const(false));
                }
                let slot = self.slot(list, None);
                self.push(Node::InList(set, slot))
            }
            Shape::ProcGroup(list, group) => {
                if !self.list_exists(list, at) {
                    return self.push(Node::Const(false));
                }
                let grouped = self
                    .scheme
                    .rules
                    .lists
                    .get(list)
                    .is_some_and(|l| l.proc_group.is_some());
                if !grouped {
                    self.problems.push(format!(
                        "{at}: proc_group_present on list `{list}`, which has no proc_group labels"
                    ));
                }
                let slot = self.slot(list, Some(group));
                self.push(Node::InList(CodeSet::AnyProc, slot))
            }
            Shape::HasProcedure => self.push(Node::HasProcedure),
            Shape::SexEq(v) => {
                if v != 1 && v != 2 {
                    self.problems.push(format!(
                        "{at}: sex_eq value {v}: sex is 1 (male) or 2 (female)"
                    ));
                }
                self.push(Node::SexEq(v))
            }
            Shape::Present(f) => self.push(Node::Present(f)),
            Shape::Compare(f, c, v) => {
                self.uses_los |= f == Field::Los;
                self.push(Node::Compare(f, c, v))
            }
            Shape::DeptIn(values) => {
                let set = self.values(values, true);
                self.push(Node::DeptIn(set))
            }
            Shape::DischargeWayIn(values) => {
                let set = self.values(values, false);
                self.push(Node::DischargeWayIn(set))
            }
            Shape::TraumaSitesMin(table, min) => {
                if !self.list_exists(table, at) {
                    return self.push(Node::Const(false));
                }
                let has_sites = self
                    .scheme
                    .rules
                    .lists
                    .get(table)
                    .is_some_and(|l| l.trauma_site.is_some());
                if !has_sites {
                    self.problems.push(format!(
                        "{at}: trauma_sites_min on list `{table}`, which has no trauma_site column"
                    ));
                    return self.push(Node::Const(false));
                }
                let next = self.trauma_ids.len() as u32;
                let t = *self.trauma_ids.entry(table.to_string()).or_insert(next);
                self.push(Node::TraumaSitesMin(t, min))
            }
            Shape::DistinctMin(set, list, min) => {
                if !self.list_exists(list, at) {
                    return self.push(Node::Const(false));
                }
                let slot = self.slot(list, None);
                self.push(Node::DistinctMin(set, slot, min))
            }
            Shape::HasMcc => self.push(Node::HasMcc),
            Shape::HasCc => self.push(Node::HasCc),
        }
    }

    /// Builds the code-major membership matrix and the trauma tables.
    fn membership(&mut self, n: usize) -> (usize, Vec<u64>, Vec<TraumaTable>) {
        let s = self.scheme;
        let words = self.slot_ids.len().div_ceil(64) + 1;
        let mut bits = vec![0u64; (n + 1) * words];
        let mut problems = Vec::new();
        for ((list, group), &slot) in &self.slot_ids {
            let mut set = |code: &str| {
                let id = self.code_ids[&normalize_code(code)] as usize;
                bits[id * words + slot as usize / 64] |= 1u64 << (slot % 64);
            };
            if list == OR_PROCEDURES {
                s.or_procedures.iter().for_each(|c| set(c));
                continue;
            }
            let Some(l) = s.rules.lists.get(list) else {
                continue;
            };
            match group {
                None => l.codes.iter().for_each(|c| set(c)),
                Some(g) => {
                    let Some(labels) = &l.proc_group else {
                        continue;
                    };
                    if labels.len() != l.codes.len() {
                        problems.push(format!(
                            "scheme.json: lists.{list}.proc_group: {} labels for {} codes",
                            labels.len(),
                            l.codes.len()
                        ));
                        continue;
                    }
                    // The label of a code is the label of its first occurrence.
                    let mut first: BTreeMap<&str, &str> = BTreeMap::new();
                    for (c, lab) in l.codes.iter().zip(labels) {
                        first.entry(c.as_str()).or_insert(lab.as_str());
                    }
                    for (c, lab) in first {
                        if lab == g {
                            set(c);
                        }
                    }
                }
            }
        }
        let mut trauma: Vec<TraumaTable> = Vec::new();
        for list in by_id(&self.trauma_ids) {
            let l = &s.rules.lists[list];
            let sites_col = l.trauma_site.as_deref().unwrap_or_default();
            if sites_col.len() != l.codes.len() {
                problems.push(format!(
                    "scheme.json: lists.{list}.trauma_site: {} sites for {} codes",
                    sites_col.len(),
                    l.codes.len()
                ));
                continue;
            }
            let mut sites: Vec<String> = Vec::new();
            let mut site_of = vec![0u8; n + 1];
            let mut conflicts = 0;
            for (c, site) in l.codes.iter().zip(sites_col) {
                let si = match sites.iter().position(|x| x == site) {
                    Some(i) => i,
                    None => {
                        sites.push(site.clone());
                        sites.len() - 1
                    }
                };
                if si >= 64 {
                    problems.push(format!(
                        "scheme.json: lists.{list}.trauma_site: more than 64 distinct sites"
                    ));
                    break;
                }
                let id = self.code_ids[&normalize_code(c)] as usize;
                if site_of[id] != 0 && site_of[id] != si as u8 + 1 {
                    conflicts += 1;
                }
                // A code listed under two sites counts for the later one.
                site_of[id] = si as u8 + 1;
            }
            if conflicts > 0 {
                self.warnings.push(format!(
                    "scheme.json: lists.{list}: {conflicts} code(s) listed under two trauma sites; the later site counts"
                ));
            }
            trauma.push(TraumaTable {
                list: list.clone(),
                sites,
                site_of,
            });
        }
        self.problems.extend(problems);
        (words, bits, trauma)
    }
}

/// The keys of an id map in id order.
fn by_id<K>(map: &BTreeMap<K, u32>) -> Vec<&K> {
    let mut v: Vec<(&K, u32)> = map.iter().map(|(k, &id)| (k, id)).collect();
    v.sort_by_key(|&(_, id)| id);
    v.into_iter().map(|(k, _)| k).collect()
}

/// For every code (and the unknown code), the MDCs whose entry rule can still hold when
/// the code is the principal diagnosis, and when it is the principal procedure (see
/// [`Grouper::mdc_by_pdx`]): the rule is evaluated knowing only that code — its
/// principal-diagnosis (resp. procedure) tests — and every other test unknown, so a
/// rule such as `(ZYZD in Z01 and …) or (ZYZD in Z02 and …)` rules itself out for a
/// diagnosis in neither list. Then, among those, the MDCs where some ADRG rule (or the
/// QY check) can still hold ([`Grouper::runnable_by_pdx`]).
fn mdc_masks(
    mdcs: &[CMdc],
    entries: &[CEntry],
    nodes: &[Node],
    children: &[NodeId],
    membership: &[u64],
    words: usize,
    n: usize,
) -> [Vec<u64>; 4] {
    if mdcs.len() > 64 {
        return Default::default();
    }
    let mask = |code: usize, dx: bool| {
        let known = Known {
            nodes,
            children,
            row: &membership[code * words..(code + 1) * words],
            dx,
        };
        let (mut entry, mut runnable) = (0u64, 0u64);
        for (i, mdc) in mdcs.iter().enumerate() {
            if known.value(mdc.entry) == Some(false) {
                continue;
            }
            entry |= 1 << i;
            let can = mdc.qy.is_some()
                || mdc
                    .entries
                    .iter()
                    .any(|&e| known.value(entries[e as usize].rule) != Some(false));
            if can {
                runnable |= 1 << i;
            }
        }
        (entry, runnable)
    };
    let (pdx, run_pdx) = (0..=n).map(|c| mask(c, true)).unzip();
    let (ppx, run_ppx) = (0..=n).map(|c| mask(c, false)).unzip();
    [pdx, ppx, run_pdx, run_ppx]
}

/// A rule's value when only the principal diagnosis (`dx`) or the principal procedure
/// is known: its membership row.
struct Known<'a> {
    nodes: &'a [Node],
    children: &'a [NodeId],
    row: &'a [u64],
    dx: bool,
}

impl Known<'_> {
    /// `Some(value)` when the known code decides the rule, `None` when it does not.
    fn value(&self, id: NodeId) -> Option<bool> {
        let has = |slot: u32| self.row[slot as usize / 64] >> (slot % 64) & 1 != 0;
        let kids = |start: u32, len: u32| &self.children[start as usize..(start + len) as usize];
        match self.nodes[id as usize] {
            Node::Const(b) => Some(b),
            Node::InList(CodeSet::PrincipalDx, slot) if self.dx => Some(has(slot)),
            Node::InList(CodeSet::PrincipalProc, slot) if !self.dx => Some(has(slot)),
            Node::InList(CodeSet::AnyDx, slot) if self.dx && has(slot) => Some(true),
            Node::InList(CodeSet::AnyProc, slot) if !self.dx && has(slot) => Some(true),
            Node::Not(a) => self.value(a).map(|b| !b),
            Node::And(start, len) => self.fold(kids(start, len), false),
            Node::Or(start, len) => self.fold(kids(start, len), true),
            _ => None,
        }
    }

    /// `and` (`decider` false) or `or` (`decider` true): a child of the deciding value
    /// decides; children all known and none deciding give the other value; else unknown.
    fn fold(&self, kids: &[NodeId], decider: bool) -> Option<bool> {
        let mut value = Some(!decider);
        for &c in kids {
            match self.value(c) {
                Some(v) if v == decider => return Some(decider),
                Some(_) => {}
                None => value = None,
            }
        }
        value
    }
}
