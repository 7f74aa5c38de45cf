//! The rule language of NHSA's CHS-DRG workbook (`ZYSS in OP_BB2 and QTZD in MCC`):
//! tokens, a parser into a small syntax tree whose atoms keep their place in the text,
//! and the translation of that tree into the engine's declarative [`Rule`]s.
//!
//! Grammar (`and` binds tighter than `or`; keywords in any letter case):
//!
//! ```text
//! rule   := ε | or
//! or     := and ("or" and)*
//! and    := unary ("and" unary)*
//! unary  := "not" unary | "(" or ")" | atom
//! atom   := "1" | "0"
//!         | VAR ["not"] "in" sets            ZYSS in OP_BB2, ZYSS not in OP_ALL
//!         | "{" VAR ("," VAR)* "}" ["not"] "in" sets
//!         | VAR CMP NUMBER                   NL>=70, XB = 1
//!         | "length" "(" SET "∩" "{" VAR ("," VAR)* "}" ")" CMP NUMBER
//! sets   := SET | "{" SET ("," SET)* "}"
//! CMP    := ">=" | "<=" | ">" | "<" | "=" | "=="
//! ```

use std::collections::BTreeSet;
use std::fmt;

use crate::rule::{Cmp, CodeSet, Field, Rule};

/// A variable of the workbook language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Var {
    /// `ZYZD`: the principal diagnosis.
    Zyzd,
    /// `QTZD`: the other diagnoses.
    Qtzd,
    /// `ZYSS`: the principal procedure.
    Zyss,
    /// `QTSS`: the other procedures.
    Qtss,
    /// `NL`: age in years.
    Nl,
    /// `XSRTL`: newborn age in days.
    Xsrtl,
    /// `XSRTZ`: birth weight in grams.
    Xsrtz,
    /// `XB`: sex (1 male, 2 female).
    Xb,
}

impl Var {
    /// The variable as written in the workbook.
    pub fn name(self) -> &'static str {
        match self {
            Var::Zyzd => "ZYZD",
            Var::Qtzd => "QTZD",
            Var::Zyss => "ZYSS",
            Var::Qtss => "QTSS",
            Var::Nl => "NL",
            Var::Xsrtl => "XSRTL",
            Var::Xsrtz => "XSRTZ",
            Var::Xb => "XB",
        }
    }

    fn parse(s: &str) -> Option<Var> {
        Some(match s.to_ascii_uppercase().as_str() {
            "ZYZD" => Var::Zyzd,
            "QTZD" => Var::Qtzd,
            "ZYSS" => Var::Zyss,
            "QTSS" => Var::Qtss,
            "NL" => Var::Nl,
            "XSRTL" => Var::Xsrtl,
            "XSRTZ" => Var::Xsrtz,
            "XB" => Var::Xb,
            _ => return None,
        })
    }

    /// True for the four code variables (diagnoses and procedures).
    pub fn is_code(self) -> bool {
        matches!(self, Var::Zyzd | Var::Qtzd | Var::Zyss | Var::Qtss)
    }

    /// True for the two diagnosis variables.
    pub fn is_dx(self) -> bool {
        matches!(self, Var::Zyzd | Var::Qtzd)
    }

    /// The codes a code variable names in a case's diagnoses `dx` and procedures `px`
    /// (principal first): `ZYZD` the first diagnosis, `QTZD` the others, `ZYSS`/`QTSS`
    /// the same for procedures; nothing for the other variables.
    pub fn codes<'c, T>(self, dx: &'c [T], px: &'c [T]) -> &'c [T] {
        let (codes, principal) = match self {
            Var::Zyzd => (dx, true),
            Var::Qtzd => (dx, false),
            Var::Zyss => (px, true),
            Var::Qtss => (px, false),
            _ => return &[],
        };
        if principal {
            &codes[..codes.len().min(1)]
        } else {
            codes.get(1..).unwrap_or(&[])
        }
    }
}

/// A set name with its 1-based character position in the rule text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetRef {
    /// The name as written (`OP_BB2`, `MCC`).
    pub name: String,
    /// 1-based character position.
    pub pos: usize,
}

/// An atom of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AtomKind {
    /// `V in S`, `{V, W} in {S1, S2}`, with `not` when negated: some value of some
    /// variable is in some set (negated: none is).
    In {
        /// The variables (any of them).
        vars: Vec<Var>,
        /// The sets (any of them).
        sets: Vec<SetRef>,
        /// `not in`.
        negated: bool,
    },
    /// `length(S ∩ {ZYSS, QTSS}) >= 2`: the number of distinct codes of the variables in `S`.
    Length {
        /// The set.
        set: SetRef,
        /// The variables whose codes are counted.
        vars: Vec<Var>,
        /// The comparison.
        cmp: Cmp,
        /// The right-hand side.
        value: i64,
    },
    /// `NL>=70`, `XB = 1`.
    Compare {
        /// The variable.
        var: Var,
        /// The comparison.
        cmp: Cmp,
        /// The right-hand side.
        value: i64,
    },
}

/// An atom with where it stands in the rule text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Atom {
    /// What it tests.
    pub kind: AtomKind,
    /// 1-based character position of its first character.
    pub pos: usize,
    /// The atom's text as written (spaces folded).
    pub text: String,
    /// 1-based position of the variable (for errors about it).
    pub var_pos: usize,
}

/// A parsed rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// `1` or an empty cell (true), `0` (false).
    Const(bool),
    /// All of.
    And(Vec<Expr>),
    /// Any of.
    Or(Vec<Expr>),
    /// Negation.
    Not(Box<Expr>),
    /// An atom.
    Atom(Atom),
}

impl Expr {
    /// Visits every atom, left to right.
    pub fn atoms<'a>(&'a self, f: &mut impl FnMut(&'a Atom)) {
        match self {
            Expr::Const(_) => {}
            Expr::And(v) | Expr::Or(v) => v.iter().for_each(|e| e.atoms(f)),
            Expr::Not(e) => e.atoms(f),
            Expr::Atom(a) => f(a),
        }
    }
}

/// A syntax error, at a 1-based character position of the rule text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based character position.
    pub pos: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at character {}: {}", self.pos, self.message)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Num(i64),
    Cmp(Cmp),
    LParen,
    RParen,
    LBrace,
    RBrace,
    Comma,
    Cap,
    End,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Num(n) => format!("`{n}`"),
            Tok::Cmp(c) => format!("`{}`", cmp_text(*c)),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::LBrace => "`{`".into(),
            Tok::RBrace => "`}`".into(),
            Tok::Comma => "`,`".into(),
            Tok::Cap => "`∩`".into(),
            Tok::End => "the end of the rule".into(),
        }
    }
}

/// The comparison as the workbook writes it.
pub fn cmp_text(c: Cmp) -> &'static str {
    match c {
        Cmp::Eq => "=",
        other => other.symbol(),
    }
}

/// (token, start char position 1-based, end char position exclusive 1-based)
type Spanned = (Tok, usize, usize);

fn lex(text: &str) -> Result<Vec<Spanned>, ParseError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let single = match c {
            '(' | '（' => Some(Tok::LParen),
            ')' | '）' => Some(Tok::RParen),
            '{' => Some(Tok::LBrace),
            '}' => Some(Tok::RBrace),
            ',' | '，' => Some(Tok::Comma),
            '∩' => Some(Tok::Cap),
            _ => None,
        };
        if let Some(t) = single {
            out.push((t, start, start + 1));
            i += 1;
            continue;
        }
        if c.is_ascii_digit() {
            let mut j = i;
            while j < chars.len() && chars[j].is_ascii_digit() {
                j += 1;
            }
            let s: String = chars[i..j].iter().collect();
            let n = s.parse::<i64>().map_err(|_| ParseError {
                pos: start,
                message: format!("number `{s}` is too large"),
            })?;
            out.push((Tok::Num(n), start, j + 1));
            i = j;
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' {
            let mut j = i;
            while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_') {
                j += 1;
            }
            out.push((Tok::Ident(chars[i..j].iter().collect()), start, j + 1));
            i = j;
            continue;
        }
        let next = chars.get(i + 1).copied();
        let (cmp, len) = match (c, next) {
            ('>', Some('=')) => (Cmp::Ge, 2),
            ('<', Some('=')) => (Cmp::Le, 2),
            ('=', Some('=')) => (Cmp::Eq, 2),
            ('>', _) => (Cmp::Gt, 1),
            ('<', _) => (Cmp::Lt, 1),
            ('=', _) => (Cmp::Eq, 1),
            _ => {
                return Err(ParseError {
                    pos: start,
                    message: format!("unexpected character `{c}`"),
                });
            }
        };
        out.push((Tok::Cmp(cmp), start, start + len));
        i += len;
    }
    out.push((Tok::End, chars.len() + 1, chars.len() + 1));
    Ok(out)
}

struct Parser {
    chars: Vec<char>,
    toks: Vec<Spanned>,
    at: usize,
}

fn is_kw(t: &Tok, kw: &str) -> bool {
    matches!(t, Tok::Ident(s) if s.eq_ignore_ascii_case(kw))
}

/// Parses a cleaned rule cell. An empty text is [`Expr::Const`]`(true)`.
pub fn parse(text: &str) -> Result<Expr, ParseError> {
    let toks = lex(text)?;
    let mut p = Parser {
        chars: text.chars().collect(),
        toks,
        at: 0,
    };
    if matches!(p.peek(), Tok::End) {
        return Ok(Expr::Const(true));
    }
    let e = p.or()?;
    match p.peek() {
        Tok::End => Ok(e),
        Tok::RParen => Err(p.err_here("`)` without a matching `(`".into())),
        t => Err(p.err_here(format!(
            "expected `and`, `or` or the end of the rule, found {}",
            t.describe()
        ))),
    }
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.at].0
    }

    fn pos(&self) -> usize {
        self.toks[self.at].1
    }

    fn bump(&mut self) -> Spanned {
        let t = self.toks[self.at].clone();
        if self.at + 1 < self.toks.len() {
            self.at += 1;
        }
        t
    }

    fn err_here(&self, message: String) -> ParseError {
        ParseError {
            pos: self.pos(),
            message,
        }
    }

    fn expect(&mut self, want: Tok, what: &str) -> Result<Spanned, ParseError> {
        if *self.peek() == want {
            Ok(self.bump())
        } else {
            Err(self.err_here(format!("expected {what}, found {}", self.peek().describe())))
        }
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut args = vec![self.and()?];
        while is_kw(self.peek(), "or") {
            self.bump();
            args.push(self.and()?);
        }
        Ok(if args.len() == 1 {
            args.pop().expect("one")
        } else {
            Expr::Or(args)
        })
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut args = vec![self.unary()?];
        while is_kw(self.peek(), "and") {
            self.bump();
            args.push(self.unary()?);
        }
        Ok(if args.len() == 1 {
            args.pop().expect("one")
        } else {
            Expr::And(args)
        })
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        if is_kw(self.peek(), "not") {
            self.bump();
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if *self.peek() == Tok::LParen {
            let (_, open, _) = self.bump();
            let e = self.or()?;
            if *self.peek() != Tok::RParen {
                return Err(self.err_here(format!(
                    "expected `)` to close the `(` at character {open}, found {}",
                    self.peek().describe()
                )));
            }
            self.bump();
            return Ok(e);
        }
        self.atom()
    }

    fn var(&mut self) -> Result<(Var, usize), ParseError> {
        let pos = self.pos();
        match self.peek().clone() {
            Tok::Ident(s) => match Var::parse(&s) {
                Some(v) => {
                    self.bump();
                    Ok((v, pos))
                }
                None => Err(self.err_here(format!(
                    "unknown variable `{s}` (the variables are ZYZD, QTZD, ZYSS, QTSS, NL, XSRTL, XSRTZ, XB)"
                ))),
            },
            t => Err(self.err_here(format!("expected a variable, found {}", t.describe()))),
        }
    }

    fn set_name(&mut self) -> Result<SetRef, ParseError> {
        let pos = self.pos();
        match self.peek().clone() {
            Tok::Ident(s) if !s.eq_ignore_ascii_case("and") && !s.eq_ignore_ascii_case("or") => {
                self.bump();
                Ok(SetRef { name: s, pos })
            }
            t => Err(self.err_here(format!("expected a set name, found {}", t.describe()))),
        }
    }

    fn sets(&mut self) -> Result<Vec<SetRef>, ParseError> {
        if *self.peek() != Tok::LBrace {
            return Ok(vec![self.set_name()?]);
        }
        self.bump();
        let mut sets = vec![self.set_name()?];
        while *self.peek() == Tok::Comma {
            self.bump();
            sets.push(self.set_name()?);
        }
        self.expect(Tok::RBrace, "`,` or `}` in the list of sets")?;
        Ok(sets)
    }

    fn vars_braced(&mut self) -> Result<(Vec<Var>, usize), ParseError> {
        self.expect(Tok::LBrace, "`{`")?;
        let (v, pos) = self.var()?;
        let mut vars = vec![v];
        while *self.peek() == Tok::Comma {
            self.bump();
            vars.push(self.var()?.0);
        }
        self.expect(Tok::RBrace, "`,` or `}` in the list of variables")?;
        Ok((vars, pos))
    }

    fn number(&mut self) -> Result<i64, ParseError> {
        match self.peek().clone() {
            Tok::Num(n) => {
                self.bump();
                Ok(n)
            }
            t => Err(self.err_here(format!("expected a number, found {}", t.describe()))),
        }
    }

    fn cmp(&mut self) -> Result<Cmp, ParseError> {
        match self.peek().clone() {
            Tok::Cmp(c) => {
                self.bump();
                Ok(c)
            }
            t => Err(self.err_here(format!(
                "expected `in`, `not in` or a comparison (>=, <=, >, <, =), found {}",
                t.describe()
            ))),
        }
    }

    fn text(&self, from: usize) -> String {
        let end = self.toks[self.at.saturating_sub(1)].2;
        let s: String = self.chars[from - 1..end - 1].iter().collect();
        s
    }

    fn atom(&mut self) -> Result<Expr, ParseError> {
        let start = self.pos();
        match self.peek().clone() {
            Tok::Num(n) => {
                self.bump();
                match n {
                    1 => Ok(Expr::Const(true)),
                    0 => Ok(Expr::Const(false)),
                    _ => Err(ParseError {
                        pos: start,
                        message: format!("a number alone must be 1 (true) or 0 (false), not {n}"),
                    }),
                }
            }
            Tok::LBrace => {
                let (vars, var_pos) = self.vars_braced()?;
                let kind = self.in_tail(vars)?;
                Ok(self.finish(kind, start, var_pos))
            }
            Tok::Ident(s) if s.eq_ignore_ascii_case("length") => {
                self.bump();
                self.expect(Tok::LParen, "`(` after `length`")?;
                let set = self.set_name()?;
                self.expect(Tok::Cap, "`∩`")?;
                let (vars, var_pos) = self.vars_braced()?;
                self.expect(Tok::RParen, "`)` closing `length(`")?;
                let cmp = self.cmp()?;
                let value = self.number()?;
                Ok(self.finish(
                    AtomKind::Length {
                        set,
                        vars,
                        cmp,
                        value,
                    },
                    start,
                    var_pos,
                ))
            }
            Tok::Ident(_) => {
                let (var, var_pos) = self.var()?;
                let kind = if matches!(self.peek(), Tok::Cmp(_)) {
                    let cmp = self.cmp()?;
                    let value = self.number()?;
                    AtomKind::Compare { var, cmp, value }
                } else {
                    self.in_tail(vec![var])?
                };
                Ok(self.finish(kind, start, var_pos))
            }
            t => Err(self.err_here(format!(
                "expected a condition such as `ZYZD in DI_X`, found {}",
                t.describe()
            ))),
        }
    }

    fn in_tail(&mut self, vars: Vec<Var>) -> Result<AtomKind, ParseError> {
        let negated = is_kw(self.peek(), "not");
        if negated {
            self.bump();
        }
        if !is_kw(self.peek(), "in") {
            return Err(self.err_here(format!(
                "expected `in`{}, found {}",
                if negated {
                    ""
                } else {
                    ", `not in` or a comparison"
                },
                self.peek().describe()
            )));
        }
        self.bump();
        let sets = self.sets()?;
        Ok(AtomKind::In {
            vars,
            sets,
            negated,
        })
    }

    fn finish(&self, kind: AtomKind, start: usize, var_pos: usize) -> Expr {
        Expr::Atom(Atom {
            kind,
            pos: start,
            text: self.text(start),
            var_pos,
        })
    }
}

/// A translation error: position in the rule text and message.
pub type TranslateError = ParseError;

/// The names of the two complication sets.
pub const MCC: &str = "MCC";
/// See [`MCC`].
pub const CC: &str = "CC";

/// Translates a parsed rule into a [`Rule`]. `sets` are the set ids of the `集合` sheet;
/// every problem found is pushed to `errors` (a false rule stands in for a bad atom).
pub fn translate(expr: &Expr, sets: &BTreeSet<String>, errors: &mut Vec<TranslateError>) -> Rule {
    match expr {
        Expr::Const(true) => Rule::True {},
        Expr::Const(false) => Rule::False {},
        Expr::And(v) => Rule::And {
            args: v.iter().map(|e| translate(e, sets, errors)).collect(),
        },
        Expr::Or(v) => Rule::Or {
            args: v.iter().map(|e| translate(e, sets, errors)).collect(),
        },
        Expr::Not(e) => Rule::Not {
            arg: Box::new(translate(e, sets, errors)),
        },
        Expr::Atom(a) => match atom(a, sets) {
            Ok(r) => r,
            Err(e) => {
                errors.push(e);
                Rule::False {}
            }
        },
    }
}

fn one_or(mut args: Vec<Rule>, and: bool) -> Rule {
    if args.len() == 1 {
        args.pop().expect("one")
    } else if and {
        Rule::And { args }
    } else {
        Rule::Or { args }
    }
}

/// Which code set of the engine a group of variables of one kind reads.
fn code_set(vars: &[Var]) -> Option<CodeSet> {
    let has = |v| vars.contains(&v);
    Some(
        match (
            has(Var::Zyzd),
            has(Var::Qtzd),
            has(Var::Zyss),
            has(Var::Qtss),
        ) {
            (true, true, false, false) => CodeSet::AnyDx,
            (true, false, false, false) => CodeSet::PrincipalDx,
            (false, true, false, false) => CodeSet::SecondaryDx,
            (false, false, true, true) => CodeSet::AnyProc,
            (false, false, true, false) => CodeSet::PrincipalProc,
            (false, false, false, true) => CodeSet::SecondaryProc,
            _ => return None,
        },
    )
}

fn in_list(set: CodeSet, list: &str) -> Rule {
    let list = list.to_string();
    match set {
        CodeSet::PrincipalDx => Rule::PrincipalDxIn { list },
        CodeSet::SecondaryDx => Rule::SecondaryDxIn { list },
        CodeSet::AnyDx => Rule::AnyDxIn { list },
        CodeSet::PrincipalProc => Rule::PrincipalProcIn { list },
        CodeSet::SecondaryProc => Rule::SecondaryProcIn { list },
        CodeSet::AnyProc => Rule::AnyProcIn { list },
    }
}

fn atom(a: &Atom, sets: &BTreeSet<String>) -> Result<Rule, TranslateError> {
    let err = |pos: usize, message: String| ParseError { pos, message };
    match &a.kind {
        AtomKind::In {
            vars,
            sets: names,
            negated,
        } => {
            if let Some(v) = vars.iter().find(|v| !v.is_code()) {
                return Err(err(
                    a.var_pos,
                    format!(
                        "`{}` is a number: test it with a comparison, not `in`",
                        v.name()
                    ),
                ));
            }
            let dx: Vec<Var> = vars.iter().copied().filter(|v| v.is_dx()).collect();
            let px: Vec<Var> = vars.iter().copied().filter(|v| !v.is_dx()).collect();
            let mut any = Vec::new();
            for s in names {
                if s.name == MCC || s.name == CC {
                    if vars.as_slice() != [Var::Qtzd] {
                        return Err(err(
                            s.pos,
                            format!("`{}` is tested on QTZD only (`QTZD in {}`)", s.name, s.name),
                        ));
                    }
                    any.push(if s.name == MCC {
                        Rule::HasMcc {}
                    } else {
                        Rule::HasCc {}
                    });
                    continue;
                }
                if !sets.contains(&s.name) {
                    return Err(err(
                        s.pos,
                        format!(
                            "unknown set `{}`: no row of the 集合 sheet has this 集合编号",
                            s.name
                        ),
                    ));
                }
                for group in [&dx, &px] {
                    if group.is_empty() {
                        continue;
                    }
                    let set = code_set(group).expect("one kind, no duplicates matter");
                    any.push(in_list(set, &s.name));
                }
            }
            let rule = one_or(any, false);
            Ok(if *negated {
                Rule::Not {
                    arg: Box::new(rule),
                }
            } else {
                rule
            })
        }
        AtomKind::Length {
            set,
            vars,
            cmp,
            value,
        } => {
            if set.name == MCC || set.name == CC || !sets.contains(&set.name) {
                return Err(err(
                    set.pos,
                    format!(
                        "unknown set `{}`: no row of the 集合 sheet has this 集合编号",
                        set.name
                    ),
                ));
            }
            let kind = match code_set(vars) {
                Some(CodeSet::AnyProc) => CodeSet::AnyProc,
                Some(CodeSet::AnyDx) => CodeSet::AnyDx,
                _ => {
                    return Err(err(
                        a.var_pos,
                        "length(S ∩ {…}) counts the codes of {ZYSS, QTSS} or of {ZYZD, QTZD}"
                            .into(),
                    ));
                }
            };
            let at_least = |min: i64| {
                let min = min.clamp(0, u32::MAX as i64) as u32;
                let list = set.name.clone();
                if kind == CodeSet::AnyProc {
                    Rule::DistinctProcInMin { list, min }
                } else {
                    Rule::DistinctDxInMin { list, min }
                }
            };
            let not = |r: Rule| Rule::Not { arg: Box::new(r) };
            let v = *value;
            Ok(match cmp {
                Cmp::Ge => at_least(v),
                Cmp::Gt => at_least(v + 1),
                Cmp::Lt => not(at_least(v)),
                Cmp::Le => not(at_least(v + 1)),
                Cmp::Eq => one_or(vec![at_least(v), not(at_least(v + 1))], true),
            })
        }
        AtomKind::Compare { var, cmp, value } => {
            let field = match var {
                Var::Nl => Field::Age,
                Var::Xsrtl => Field::AgeDays,
                Var::Xsrtz => Field::Weight,
                Var::Xb => {
                    return match (cmp, value) {
                        (Cmp::Eq, 1 | 2) => Ok(Rule::SexEq {
                            value: *value as u8,
                        }),
                        _ => Err(err(
                            a.var_pos,
                            "XB (sex) is compared as `XB = 1` (male) or `XB = 2` (female)".into(),
                        )),
                    };
                }
                v => {
                    return Err(err(
                        a.var_pos,
                        format!(
                            "`{}` holds codes: test it with `in`, not a comparison",
                            v.name()
                        ),
                    ));
                }
            };
            Ok(Rule::compare(field, *cmp, *value))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sets() -> BTreeSet<String> {
        ["OP_A", "OP_B", "DI_A", "DI_B"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    fn rule(text: &str) -> Rule {
        let mut errors = Vec::new();
        let r = translate(&parse(text).expect("parses"), &sets(), &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        r
    }

    fn json(r: &Rule) -> String {
        serde_json::to_string(r).unwrap()
    }

    fn error(text: &str) -> ParseError {
        match parse(text) {
            Err(e) => e,
            Ok(e) => {
                let mut errors = Vec::new();
                translate(&e, &sets(), &mut errors);
                errors.into_iter().next().expect("an error")
            }
        }
    }

    #[test]
    fn empty_and_one_are_true() {
        assert_eq!(rule(""), Rule::True {});
        assert_eq!(rule("1"), Rule::True {});
        assert_eq!(rule("(1)"), Rule::True {});
    }

    /// Each rule text translates to the rule written as JSON beside it.
    fn translates(pairs: &[(&str, &str)]) {
        for (text, want) in pairs {
            assert_eq!(json(&rule(text)), *want, "{text}");
        }
    }

    #[test]
    fn each_variable_reads_its_codes() {
        translates(&[
            ("ZYZD in DI_A", r#"{"op":"principal_dx_in","list":"DI_A"}"#),
            ("QTZD in DI_A", r#"{"op":"secondary_dx_in","list":"DI_A"}"#),
            (
                "ZYSS in OP_A",
                r#"{"op":"principal_proc_in","list":"OP_A"}"#,
            ),
            (
                "QTSS in OP_A",
                r#"{"op":"secondary_proc_in","list":"OP_A"}"#,
            ),
        ]);
    }

    #[test]
    fn not_in_negates() {
        translates(&[(
            "ZYSS not in OP_A",
            r#"{"op":"not","arg":{"op":"principal_proc_in","list":"OP_A"}}"#,
        )]);
    }

    #[test]
    fn braced_variables_and_sets_are_any_of() {
        translates(&[
            (
                "{ZYSS, QTSS} in OP_A",
                r#"{"op":"any_proc_in","list":"OP_A"}"#,
            ),
            ("{ZYZD,QTZD} in DI_A", r#"{"op":"any_dx_in","list":"DI_A"}"#),
            (
                "ZYZD in {DI_A, DI_B}",
                r#"{"op":"or","args":[{"op":"principal_dx_in","list":"DI_A"},{"op":"principal_dx_in","list":"DI_B"}]}"#,
            ),
        ]);
    }

    #[test]
    fn complications() {
        translates(&[
            ("QTZD in MCC", r#"{"op":"has_mcc"}"#),
            ("QTZD in CC", r#"{"op":"has_cc"}"#),
            (
                "QTZD in {MCC, CC}",
                r#"{"op":"or","args":[{"op":"has_mcc"},{"op":"has_cc"}]}"#,
            ),
        ]);
    }

    #[test]
    fn length_counts_distinct_procedures() {
        translates(&[
            (
                "length(OP_A ∩ {ZYSS, QTSS})>=2",
                r#"{"op":"distinct_proc_in_min","list":"OP_A","min":2}"#,
            ),
            (
                "length(OP_A ∩ {ZYSS, QTSS}) > 2",
                r#"{"op":"distinct_proc_in_min","list":"OP_A","min":3}"#,
            ),
        ]);
    }

    #[test]
    fn comparisons() {
        translates(&[
            ("NL>=70", r#"{"op":"age_years_ge","value":70}"#),
            ("NL<=6", r#"{"op":"age_years_le","value":6}"#),
            ("NL=0", r#"{"op":"age_years_eq","value":0}"#),
            ("XSRTL<29", r#"{"op":"age_days_lt","value":29}"#),
            ("XSRTZ>2499", r#"{"op":"weight_gt","value":2499}"#),
            ("XB = 1", r#"{"op":"sex_eq","value":1}"#),
        ]);
    }

    #[test]
    fn and_binds_tighter_than_or() {
        assert_eq!(
            rule("ZYZD in DI_A or ZYSS in OP_A and NL>=70"),
            Rule::Or {
                args: vec![
                    Rule::PrincipalDxIn {
                        list: "DI_A".into()
                    },
                    Rule::And {
                        args: vec![
                            Rule::PrincipalProcIn {
                                list: "OP_A".into()
                            },
                            Rule::AgeYearsGe { value: 70 },
                        ]
                    },
                ]
            }
        );
        assert_eq!(
            rule("(ZYZD in DI_A OR ZYSS in OP_A) AND NL>=70"),
            Rule::And {
                args: vec![
                    Rule::Or {
                        args: vec![
                            Rule::PrincipalDxIn {
                                list: "DI_A".into()
                            },
                            Rule::PrincipalProcIn {
                                list: "OP_A".into()
                            },
                        ]
                    },
                    Rule::AgeYearsGe { value: 70 },
                ]
            }
        );
    }

    #[test]
    fn atoms_keep_their_text_and_place() {
        let e = parse("(NL=0) and  {ZYSS, QTSS} in OP_A").unwrap();
        let mut seen = Vec::new();
        e.atoms(&mut |a| seen.push((a.pos, a.text.clone())));
        assert_eq!(
            seen,
            vec![(2, "NL=0".into()), (13, "{ZYSS, QTSS} in OP_A".into())]
        );
    }

    #[test]
    fn errors_name_the_place() {
        assert_eq!(error("ZYZD in DI_A and").pos, 17);
        let e = error("ZYZD in DI_A and FOO in DI_B");
        assert_eq!(
            (e.pos, e.message.starts_with("unknown variable `FOO`")),
            (18, true)
        );
        let e = error("ZYZD in DI_X");
        assert_eq!(e.pos, 9);
        assert!(e.message.contains("unknown set `DI_X`"), "{}", e.message);
        assert_eq!(error("(ZYZD in DI_A").pos, 14);
        assert_eq!(error("ZYZD in DI_A)").pos, 13);
        assert_eq!(error("NL >= x").pos, 7);
        assert_eq!(error("ZYZD # DI_A").pos, 6);
        assert_eq!(error("NL in DI_A").pos, 1);
        assert_eq!(error("ZYZD >= 3").pos, 1);
        assert_eq!(error("XB = 3").pos, 1);
        assert_eq!(error("ZYZD in MCC").pos, 9);
        assert_eq!(error("length(OP_A ∩ {ZYSS})>=2").pos, 16);
        assert_eq!(error("7").pos, 1);
    }
}
