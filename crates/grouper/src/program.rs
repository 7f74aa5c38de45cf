//! Rules as straight-line programs, derived on compile and load (not stored).
//!
//! The rule arena ([`Node`]) is a tree of `and`/`or`/`not` over atoms; evaluating it
//! recursively fetches a node and its children per step. Grouping instead runs each
//! rule it evaluates as a *program*: its atoms in source order, each with the op to go
//! to when the atom is false and when it is true (or the verdict), the usual
//! short-circuit translation of a boolean expression: `a and b` goes from `a` to `b`
//! when `a` holds and to "false" when not, `a or b` the other way, `not a` swaps the
//! two exits of `a`. The result and the order of the atoms tested are those of the
//! tree walk.
//!
//! Most atoms are a bit of the case's bit sets ([`crate::group`]'s scratch: a list
//! slot of one or two code roles, or a case flag such as "has an MCC"), so an op is
//! one or two loads of hot memory; the other atoms (ages, lengths of stay, distinct
//! counts…) call the tree evaluator on their node, which is a leaf.

use crate::compile::{Filter, Node, NodeId, ResultId};
use crate::rule::{Cmp, Field};

/// Program exit: the rule holds.
pub(crate) const HOLDS: u32 = u32::MAX;
/// Program exit: the rule fails.
pub(crate) const FAILS: u32 = u32::MAX - 1;
/// No program / no result.
pub(crate) const NONE: u32 = u32::MAX;

/// The case flags, bits of the last word of the case's bit sets.
pub(crate) const FLAG_MCC: u8 = 0;
pub(crate) const FLAG_CC: u8 = 1;
pub(crate) const FLAG_PROCEDURE: u8 = 2;
pub(crate) const FLAG_MALE: u8 = 3;
pub(crate) const FLAG_FEMALE: u8 = 4;

/// A program longer than this (only a crafted artifact, whose rule graph shares nodes,
/// could make one) is left to the tree evaluator: one op calling it on the root.
const MAX_LEAVES: u32 = 1 << 16;

/// What an op tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Test {
    /// `(bits[word[0]] | bits[word[1]]) >> bit & 1` of the case's bit sets.
    Bit,
    /// A case field compared with `arg` (a missing field: false).
    Compare(Field, Cmp),
    /// The tree evaluator on node `arg`, a leaf.
    Node,
}

/// One atom of a program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Op {
    /// The next op when the atom is false (`next[0]`) and when it is true (`next[1]`),
    /// an index into [`Hot::ops`] or [`HOLDS`]/[`FAILS`].
    pub next: [u32; 2],
    pub test: Test,
    pub bit: u8,
    pub word: [u16; 2],
    /// The value compared with, or the node.
    pub arg: u32,
}

/// An MDC as grouping reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HotMdc {
    /// The entry rule's program.
    pub entry: u32,
    /// The QY check's program ([`NONE`] without one), its place and result.
    pub qy: u32,
    pub qy_after: u32,
    pub qy_result: ResultId,
    /// Its entries in order: `Hot::entries[entries..entries + len]`.
    pub entries: u32,
    pub len: u32,
    /// The entry rule reads the principal diagnosis only, or the principal procedure
    /// only, so it holds for every case whose principal codes leave the MDC runnable
    /// (`Grouper::runnable_by_pdx` is a subset of the MDCs whose entry rule the
    /// principal diagnosis leaves possible, and for such a rule possible is true).
    pub entered_if_runnable: bool,
}

/// An ADRG rule entry as grouping reads it (in its MDC's place).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HotEntry {
    /// The rule's necessary principal-code condition.
    pub filter: Filter,
    /// The rule's program.
    pub rule: u32,
    /// Its split tests: `Hot::tests[tests..tests + len]`.
    pub tests: u32,
    pub len: u32,
    /// The fallback result ([`NONE`] without one).
    pub fallback: ResultId,
    /// The rule is its filter (its principal-code conditions, and-ed): it holds for
    /// every case the entry masks let through.
    pub rule_is_filter: bool,
    /// Its index in the grouper's `entries` (for explanations).
    pub index: u32,
}

/// Every rule grouping evaluates, as programs, with the MDCs' and entries' hot fields
/// beside them (the compiled [`crate::Grouper`]'s `mdcs` and `entries` carry the texts
/// for explanations too).
#[derive(Debug, Clone, Default)]
pub(crate) struct Hot {
    pub ops: Vec<Op>,
    /// Per MDC in dispatch order.
    pub mdcs: Vec<HotMdc>,
    /// The MDCs' entries, MDC after MDC.
    pub entries: Vec<HotEntry>,
    /// The entries' split tests: (condition's program, result).
    pub tests: Vec<(u32, ResultId)>,
}

/// Translates rules of one arena into programs.
pub(crate) struct Translator<'a> {
    nodes: &'a [Node],
    children: &'a [NodeId],
    /// Words of one role in the case's bit sets; the flags word follows the four roles.
    role_words: usize,
    /// Leaves per node (memo; `u32::MAX` = not yet counted).
    leaves: Vec<u32>,
}

impl<'a> Translator<'a> {
    pub(crate) fn new(nodes: &'a [Node], children: &'a [NodeId], role_words: usize) -> Self {
        Translator {
            nodes,
            children,
            role_words,
            leaves: vec![u32::MAX; nodes.len()],
        }
    }

    fn kids(&self, start: u32, len: u32) -> &'a [NodeId] {
        &self.children[start as usize..(start + len) as usize]
    }

    /// The number of atoms of a rule (saturating).
    fn leaves(&mut self, id: NodeId) -> u32 {
        let memo = self.leaves[id as usize];
        if memo != u32::MAX {
            return memo;
        }
        let n = match self.nodes[id as usize] {
            Node::And(start, len) | Node::Or(start, len) if len > 0 => self
                .kids(start, len)
                .iter()
                .fold(0u32, |n, &c| n.saturating_add(self.leaves(c)))
                .min(u32::MAX - 1),
            Node::Not(a) => self.leaves(a),
            _ => 1,
        };
        self.leaves[id as usize] = n;
        n
    }

    /// Appends the program of rule `root` to `ops` and returns where it starts.
    pub(crate) fn program(&mut self, root: NodeId, ops: &mut Vec<Op>) -> u32 {
        let start = ops.len() as u32;
        let n = self.leaves(root);
        if n > MAX_LEAVES {
            ops.push(self.generic(root, [FAILS, HOLDS]));
            return start;
        }
        ops.resize(ops.len() + n as usize, self.generic(root, [FAILS; 2]));
        self.emit(root, start, [FAILS, HOLDS], ops);
        start
    }

    /// Writes the atoms of `id` at `ops[at..]`, leaving through `exits` ([false, true]).
    fn emit(&mut self, id: NodeId, at: u32, exits: [u32; 2], ops: &mut [Op]) {
        match self.nodes[id as usize] {
            Node::And(start, len) | Node::Or(start, len) if len > 0 => {
                // `and` goes on when a child holds, `or` when it fails.
                let on = usize::from(matches!(self.nodes[id as usize], Node::And(..)));
                let kids = self.kids(start, len);
                let mut pos = at;
                for (i, &c) in kids.iter().enumerate() {
                    let end = pos + self.leaves(c);
                    let mut out = exits;
                    if i + 1 < kids.len() {
                        out[on] = end;
                    }
                    self.emit(c, pos, out, ops);
                    pos = end;
                }
            }
            Node::Not(a) => self.emit(a, at, [exits[1], exits[0]], ops),
            _ => ops[at as usize] = self.atom(id, exits),
        }
    }

    fn generic(&self, id: NodeId, next: [u32; 2]) -> Op {
        Op {
            next,
            test: Test::Node,
            bit: 0,
            word: [0; 2],
            arg: id,
        }
    }

    /// One atom: a bit test where it is one, else a call of the tree evaluator.
    fn atom(&self, id: NodeId, next: [u32; 2]) -> Op {
        let sw = self.role_words;
        let flags = 4 * sw;
        let (word, bit) = match self.nodes[id as usize] {
            Node::InList(set, slot) => {
                let w = slot as usize / 64;
                (
                    crate::group::roles(set).map(|r| r * sw + w),
                    (slot % 64) as u8,
                )
            }
            Node::HasMcc => ([flags; 2], FLAG_MCC),
            Node::HasCc => ([flags; 2], FLAG_CC),
            Node::HasProcedure => ([flags; 2], FLAG_PROCEDURE),
            Node::SexEq(1) => ([flags; 2], FLAG_MALE),
            Node::SexEq(2) => ([flags; 2], FLAG_FEMALE),
            Node::Compare(field, cmp, value) => {
                return match i32::try_from(value) {
                    Ok(v) => Op {
                        next,
                        test: Test::Compare(field, cmp),
                        bit: 0,
                        word: [0; 2],
                        arg: v as u32,
                    },
                    Err(_) => self.generic(id, next),
                };
            }
            _ => return self.generic(id, next),
        };
        match word.map(u16::try_from) {
            [Ok(a), Ok(b)] => Op {
                next,
                test: Test::Bit,
                bit,
                word: [a, b],
                arg: id,
            },
            _ => self.generic(id, next),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Case;
    use crate::group::Env;

    /// A tiny deterministic generator (xorshift).
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    /// Every program of the demo scheme gives the tree evaluator's value, on random
    /// cases drawn from the scheme's own codes (most of which are in some list).
    #[test]
    fn programs_agree_with_the_tree_on_random_cases() {
        let g = crate::test_data::demo();
        let (mut held, mut failed) = (0u32, 0u32);
        each_random_case(&g, 0x9E37_79B9_7F4A_7C15, 3_000, |env| {
            let case = env.case;
            let mut check = |program: u32, node: NodeId| {
                let value = g.eval(node, env);
                assert_eq!(
                    g.holds(program, env),
                    value,
                    "rule node {node}, case {case:?}"
                );
                if value {
                    held += 1;
                } else {
                    failed += 1;
                }
            };
            for (m, h) in g.mdcs.iter().zip(&g.hot.mdcs) {
                check(h.entry, m.entry);
                if let Some(q) = &m.qy {
                    check(h.qy, q.rule);
                }
            }
            for h in &g.hot.entries {
                let e = &g.entries[h.index as usize];
                check(h.rule, e.rule);
                let tests = &g.hot.tests[h.tests as usize..(h.tests + h.len) as usize];
                for (t, &(program, _)) in e.tests.iter().zip(tests) {
                    check(program, t.cond);
                }
            }
        });
        // Both values occur often: the cases exercise the rules.
        assert!(
            held > 10_000 && failed > 10_000,
            "{held} held, {failed} failed"
        );
    }

    /// Runs `f` on `n` random cases drawn from the scheme's own codes (most of which are
    /// in some list) and the unknown code, each prepared.
    fn each_random_case(g: &crate::Grouper, seed: u64, n: u32, mut f: impl FnMut(&Env<'_>)) {
        let codes = g.code_count() as u64 + 1;
        let mut rng = Rng(seed);
        let mut scratch = g.scratch();
        let mut case = Case::default();
        for _ in 0..n {
            random_case(&mut rng, codes, &mut case);
            g.prepare(&case, &mut scratch);
            f(&Env {
                case: &case,
                px: &case.px,
                s: &scratch,
            });
        }
    }

    /// A random case of codes below `codes`.
    fn random_case(rng: &mut Rng, codes: u64, case: &mut Case) {
        case.clear();
        case.sex = Some(1 + rng.below(2) as u8);
        case.age = Some(rng.below(90) as i64);
        case.age_days = Some(rng.below(400) as i64);
        case.weight = (rng.below(3) > 0).then(|| 500 + rng.below(4000) as i64);
        case.los = Some(rng.below(60) as i64);
        for _ in 0..1 + rng.below(6) {
            case.dx.push(rng.below(codes) as u32);
        }
        for _ in 0..rng.below(4) {
            case.px.push(rng.below(codes) as u32);
        }
    }

    /// The shortcuts grouping takes agree with what they skip, on random cases of a
    /// scheme: an MDC entered without running its entry rule when runnable
    /// (`entered_if_runnable`) has that rule true; the entry masks let through exactly
    /// the entries whose filter passes; an entry let through without running its rule
    /// (`rule_is_filter`) has that rule true; secondary codes' slots left unmarked are
    /// read by no rule (the programs agree with the tree, which reads every slot).
    /// Returns how often each shortcut was taken.
    fn check_shortcuts(g: &crate::Grouper, cases: u32) -> [u32; 3] {
        let mut taken = [0u32; 3];
        each_random_case(g, 0x2545_F491_4F6C_DD1D, cases, |env| {
            let runnable = env.s.runnable[0] & env.s.runnable[1];
            for (i, (m, h)) in g.mdcs.iter().zip(&g.hot.mdcs).enumerate() {
                assert_eq!(g.holds(h.entry, env), g.eval(m.entry, env));
                if h.entered_if_runnable && runnable >> i & 1 != 0 {
                    assert!(g.eval(m.entry, env), "MDC {} entered unchecked", m.code);
                    taken[0] += 1;
                }
                if h.len > 64 {
                    continue;
                }
                let open = g.entry_mask(i, env);
                let entries = &g.hot.entries[h.entries as usize..][..h.len as usize];
                for (k, e) in entries.iter().enumerate() {
                    let through = open >> k & 1 != 0;
                    assert_eq!(through, g.pass(e.filter, env), "MDC {} entry {k}", m.code);
                    let rule = g.entries[e.index as usize].rule;
                    assert_eq!(g.holds(e.rule, env), g.eval(rule, env));
                    if through && e.rule_is_filter {
                        assert!(
                            g.eval(rule, env),
                            "MDC {} entry {k} matched unchecked",
                            m.code
                        );
                        taken[1] += 1;
                    }
                    taken[2] += u32::from(through);
                }
            }
        });
        taken
    }

    #[test]
    fn shortcuts_agree_on_the_demo_scheme() {
        let taken = check_shortcuts(&crate::test_data::demo(), 3_000);
        assert!(taken.iter().all(|&n| n > 100), "shortcuts taken: {taken:?}");
    }

    /// The same on CHS-DRG 3.0 read from NHSA's workbook (`../shared`, as the
    /// integration tests find it: required under `CI=true`).
    #[test]
    fn shortcuts_agree_on_chs_drg_3_0() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/schemes/chs-drg-3.0");
        if !dir.exists() {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!(
                    "{} is missing: CI must have ../shared beside it",
                    dir.display()
                );
            }
            eprintln!("SKIPPED: {} not found", dir.display());
            return;
        }
        let scheme = crate::Scheme::from_workbook(
            dir.join("chs-drg-3.0-workbook.xlsx"),
            Some(dir.join("errata.json").as_path()),
        )
        .unwrap();
        let g = crate::Grouper::compile(&scheme).unwrap();
        let taken = check_shortcuts(&g, 3_000);
        assert!(taken.iter().all(|&n| n > 100), "shortcuts taken: {taken:?}");
    }

    /// `and`, `or`, `not` nested, empty `and`/`or`, a shared node: the exits of each
    /// atom.
    #[test]
    fn nested_rules_become_short_circuit_jumps() {
        use crate::rule::CodeSet::{PrincipalDx, SecondaryDx};
        // 0: a, 1: b, 2: c, 3: and(a, not b), 4: not(3), 5: or(4, c), 6: and(), 7: or()
        let nodes = vec![
            Node::InList(PrincipalDx, 0),
            Node::InList(SecondaryDx, 1),
            Node::HasMcc,
            Node::And(0, 2),
            Node::Not(3),
            Node::Or(2, 2),
            Node::And(4, 0),
            Node::Or(4, 0),
            Node::Not(1),
        ];
        let children = vec![0, 8, 4, 2];
        let mut t = Translator::new(&nodes, &children, 2);
        let mut ops = Vec::new();
        let start = t.program(5, &mut ops);
        assert_eq!(start, 0);
        let exits: Vec<[u32; 2]> = ops.iter().map(|o| o.next).collect();
        // a false → not(and) true → rule true; a true → b;
        // b (under not) true → and false → not true → HOLDS; b false → and true → c.
        assert_eq!(exits, vec![[HOLDS, 1], [2, HOLDS], [FAILS, HOLDS]]);
        assert_eq!(
            (ops[0].word, ops[0].bit, ops[0].test),
            ([0, 0], 0, Test::Bit)
        );
        assert_eq!((ops[1].word, ops[1].bit), ([2, 2], 1));
        assert_eq!((ops[2].word, ops[2].bit), ([8, 8], FLAG_MCC));
        // Empty `and`/`or` are one generic atom (the tree says true / false).
        let at = t.program(6, &mut ops);
        assert_eq!(ops[at as usize], t.generic(6, [FAILS, HOLDS]));
        let at = t.program(7, &mut ops);
        assert_eq!(ops[at as usize], t.generic(7, [FAILS, HOLDS]));
    }

    /// A crafted rule graph sharing nodes (`and(x, x)` nested 40 deep: 2⁴⁰ atoms when
    /// unfolded) is left to the tree evaluator instead of unfolding it.
    #[test]
    fn a_rule_graph_sharing_nodes_is_not_unfolded() {
        let mut nodes = vec![Node::HasCc];
        let mut children = Vec::new();
        for i in 0..40u32 {
            children.extend([i, i]);
            nodes.push(Node::And(2 * i, 2));
        }
        let mut t = Translator::new(&nodes, &children, 1);
        let mut ops = Vec::new();
        let at = t.program(40, &mut ops);
        assert_eq!(ops.len(), 1);
        assert_eq!(ops[at as usize], t.generic(40, [FAILS, HOLDS]));
        // Below the limit, it is unfolded: 2¹⁰ atoms.
        let at = t.program(10, &mut ops) as usize;
        assert_eq!(ops.len() - at, 1 << 10);
    }
}
