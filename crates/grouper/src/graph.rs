//! The scheme as a graph (petgraph): dispatch → MDC → ADRG rule entry → DRG, and every
//! rule → the lists it reads. Used to find what can never be reached (orphan entries,
//! DRGs, lists) and to draw the scheme as Graphviz DOT (`drgdip scheme graph`).

use std::collections::BTreeMap;
use std::fmt::Write;

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::{Dfs, EdgeRef};

use crate::rule::{Rule, Shape};
use crate::scheme::{OR_PROCEDURES, Scheme};

/// What a graph node stands for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Item {
    /// The dispatcher (root).
    Dispatch,
    /// An MDC.
    Mdc(String),
    /// An ADRG rule entry.
    Entry(String),
    /// A DRG.
    Drg(String),
    /// A code list.
    List(String),
}

impl Item {
    fn dot_id(&self) -> String {
        match self {
            Item::Dispatch => "dispatch".into(),
            Item::Mdc(c) => format!("mdc_{c}"),
            Item::Entry(c) => format!("entry_{c}"),
            Item::Drg(c) => format!("drg_{c}"),
            Item::List(c) => format!("list_{c}"),
        }
        .replace(|c: char| !c.is_ascii_alphanumeric() && c != '_', "_")
    }
}

/// The dependency graph of a scheme.
pub struct SchemeGraph {
    graph: DiGraph<Item, ()>,
    root: NodeIndex,
}

impl SchemeGraph {
    /// Builds the graph. Unknown references are simply absent (the compiler reports them).
    pub fn build(scheme: &Scheme) -> SchemeGraph {
        let r = &scheme.rules;
        let mut graph = DiGraph::new();
        let mut index: BTreeMap<Item, NodeIndex> = BTreeMap::new();
        let mut node = |graph: &mut DiGraph<Item, ()>, item: Item| {
            *index
                .entry(item.clone())
                .or_insert_with(|| graph.add_node(item))
        };
        let root = node(&mut graph, Item::Dispatch);
        for m in &r.mdcs {
            node(&mut graph, Item::Mdc(m.mdc.clone()));
        }
        for e in &r.adrgs {
            node(&mut graph, Item::Entry(e.adrg.clone()));
        }
        for d in &r.drgs {
            node(&mut graph, Item::Drg(d.drg.clone()));
        }
        for id in r.lists.keys() {
            node(&mut graph, Item::List(id.clone()));
        }
        node(&mut graph, Item::List(OR_PROCEDURES.into()));
        let lists_of = |rule: &Rule| {
            let mut out = Vec::new();
            rule.visit(&mut |x| match x.shape() {
                Shape::InList(_, l)
                | Shape::ProcGroup(l, _)
                | Shape::TraumaSitesMin(l, _)
                | Shape::DistinctMin(_, l, _) => out.push(l.to_string()),
                _ => {}
            });
            out
        };
        let mut edge = |graph: &mut DiGraph<Item, ()>, from: NodeIndex, to: Item| {
            let to = node(graph, to);
            graph.update_edge(from, to, ());
        };
        let at = |graph: &DiGraph<Item, ()>, item: &Item| {
            graph.node_indices().find(|&i| &graph[i] == item)
        };
        for code in &r.dispatch.mdc_order {
            if r.mdcs.iter().any(|m| &m.mdc == code) {
                edge(&mut graph, root, Item::Mdc(code.clone()));
            }
        }
        for m in &r.mdcs {
            let from = at(&graph, &Item::Mdc(m.mdc.clone())).expect("added above");
            for l in lists_of(&m.entry_rule) {
                edge(&mut graph, from, Item::List(l));
            }
            if let Some(q) = m.qy_check.as_ref().filter(|q| q.enabled) {
                for l in lists_of(&q.rule) {
                    edge(&mut graph, from, Item::List(l));
                }
            }
            for e in &m.adrgs {
                if r.adrgs.iter().any(|x| &x.adrg == e) {
                    edge(&mut graph, from, Item::Entry(e.clone()));
                }
            }
        }
        for e in &r.adrgs {
            let from = at(&graph, &Item::Entry(e.adrg.clone())).expect("added above");
            for l in lists_of(&e.rule) {
                edge(&mut graph, from, Item::List(l));
            }
            for d in &e.drgs {
                if r.drgs.iter().any(|x| &x.drg == d) {
                    edge(&mut graph, from, Item::Drg(d.clone()));
                }
            }
        }
        for d in &r.drgs {
            let from = at(&graph, &Item::Drg(d.drg.clone())).expect("added above");
            for l in lists_of(&d.condition) {
                edge(&mut graph, from, Item::List(l));
            }
        }
        SchemeGraph { graph, root }
    }

    /// Items no path from the dispatcher reaches, in a stable order.
    pub fn unreachable(&self) -> Vec<Item> {
        let mut seen = vec![false; self.graph.node_count()];
        let mut dfs = Dfs::new(&self.graph, self.root);
        while let Some(n) = dfs.next(&self.graph) {
            seen[n.index()] = true;
        }
        let mut out: Vec<Item> = self
            .graph
            .node_indices()
            .filter(|n| !seen[n.index()])
            .map(|n| self.graph[n].clone())
            .collect();
        out.sort();
        out
    }

    /// Number of nodes and edges.
    pub fn size(&self) -> (usize, usize) {
        (self.graph.node_count(), self.graph.edge_count())
    }

    /// Graphviz DOT of dispatch → MDC → entry → DRG (lists are left out unless
    /// `with_lists`, as they make the drawing unreadable for national schemes).
    pub fn to_dot(&self, with_lists: bool) -> String {
        let mut out =
            String::from("digraph scheme {\n  rankdir=LR;\n  node [shape=box, fontsize=10];\n");
        let keep = |i: &Item| with_lists || !matches!(i, Item::List(_));
        for n in self.graph.node_indices() {
            let item = &self.graph[n];
            if !keep(item) {
                continue;
            }
            let (label, shape) = match item {
                Item::Dispatch => ("dispatch".to_string(), "oval"),
                Item::Mdc(c) => (c.clone(), "folder"),
                Item::Entry(c) => (c.clone(), "box"),
                Item::Drg(c) => (c.clone(), "ellipse"),
                Item::List(c) => (c.clone(), "note"),
            };
            let _ = writeln!(
                out,
                "  {} [label=\"{label}\", shape={shape}];",
                item.dot_id()
            );
        }
        for e in self.graph.edge_references() {
            let (a, b) = (&self.graph[e.source()], &self.graph[e.target()]);
            if keep(a) && keep(b) {
                let _ = writeln!(out, "  {} -> {};", a.dot_id(), b.dot_id());
            }
        }
        out.push_str("}\n");
        out
    }
}
