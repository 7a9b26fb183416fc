//! What keeps the cost of a web ACL from growing with its rule count: every string match
//! and regex of the web ACL's own rules is compiled, per inspected component and
//! transformation chain, into one multi-pattern automaton (Aho-Corasick) and one
//! `RegexSet`. A request is scanned once per component; a rule that needs a string or
//! regex the scan did not find is skipped without being evaluated, since it cannot match.
//!
//! Skipping is exact: a rule is skipped only when a conjunct it cannot match without is
//! absent (a field whose oversize or invalid-JSON handling can match without a value never
//! lets a rule be skipped), and a rate-based rule is skipped only when its scope-down
//! statement could not match, in which case it would not have counted the request either.

use aho_corasick::AhoCorasick;

use crate::acl::{Inspect, Rule, Statement};
use crate::field::{Field, Invalid, Oversize};
use crate::request::Request;

/// One component and chain, with every needle and regex looked for in it.
#[derive(Debug)]
pub struct Scan {
    field: Field,
    chain: Vec<(u32, crate::transform::Transformation)>,
    needles: Vec<Vec<u8>>,
    needle_slots: Vec<usize>,
    regexes: Vec<String>,
    regex_slots: Vec<usize>,
    automaton: Option<AhoCorasick>,
    set: Option<regex::bytes::RegexSet>,
}

/// The compiled prefilter of a web ACL.
#[derive(Debug, Default)]
pub struct Prefilter {
    scans: Vec<Scan>,
    /// For each top-level rule, the slot it cannot match without.
    requires: Vec<Option<usize>>,
    /// For each slot, the rule that requires it.
    rule_of: Vec<usize>,
    /// The rules without a requirement.
    always: Vec<usize>,
    slots: usize,
}

/// Found slots of one request, as a bit set.
#[derive(Debug, Default)]
pub struct Found(Vec<u64>);

impl Found {
    fn set(&mut self, slot: usize) {
        if let Some(w) = self.0.get_mut(slot / 64) {
            *w |= 1 << (slot % 64);
        }
    }

    fn has(&self, slot: usize) -> bool {
        self.0
            .get(slot / 64)
            .is_some_and(|w| w & (1 << (slot % 64)) != 0)
    }
}

impl Prefilter {
    /// Analyses the top-level rules (in evaluation order).
    pub fn build(rules: &[Rule]) -> Self {
        let mut p = Prefilter::default();
        for rule in rules {
            let slot = p.require(&rule.statement);
            p.requires.push(slot);
        }
        for scan in &mut p.scans {
            if !scan.needles.is_empty() {
                scan.automaton = AhoCorasick::new(&scan.needles).ok();
            }
            if !scan.regexes.is_empty() {
                scan.set = regex::bytes::RegexSetBuilder::new(&scan.regexes)
                    .unicode(false)
                    .size_limit(64 << 20)
                    .build()
                    .ok();
            }
        }
        // A scan that failed to compile cannot clear anything: its rules are never skipped.
        let broken: Vec<usize> = p
            .scans
            .iter()
            .flat_map(|s| {
                let mut v = Vec::new();
                if s.automaton.is_none() {
                    v.extend(&s.needle_slots);
                }
                if s.set.is_none() {
                    v.extend(&s.regex_slots);
                }
                v
            })
            .collect();
        for r in &mut p.requires {
            if r.is_some_and(|s| broken.contains(&s)) {
                *r = None;
            }
        }
        p.rule_of = vec![usize::MAX; p.slots];
        for (i, r) in p.requires.iter().enumerate() {
            match r {
                Some(slot) => {
                    if let Some(x) = p.rule_of.get_mut(*slot) {
                        *x = i;
                    }
                }
                None => p.always.push(i),
            }
        }
        p
    }

    /// Whether the prefilter can skip anything.
    pub fn active(&self) -> bool {
        self.requires.iter().any(Option::is_some)
    }

    /// Scans the request once per component.
    pub fn scan(&self, req: &Request<'_>, body_limit: usize) -> Found {
        let mut found = Found(vec![0; self.slots.div_ceil(64)]);
        for s in &self.scans {
            s.field.matches(req, &s.chain, body_limit, &mut |value| {
                if let Some(ac) = &s.automaton {
                    for m in ac.find_overlapping_iter(value) {
                        if let Some(slot) = s.needle_slots.get(m.pattern().as_usize()) {
                            found.set(*slot);
                        }
                    }
                }
                if let Some(set) = &s.set {
                    for i in set.matches(value).iter() {
                        if let Some(slot) = s.regex_slots.get(i) {
                            found.set(*slot);
                        }
                    }
                }
                false
            });
        }
        found
    }

    /// Whether top-level rule `i` may match given what the scan found.
    pub fn may_match(&self, i: usize, found: &Found) -> bool {
        match self.requires.get(i) {
            Some(Some(slot)) => found.has(*slot),
            _ => true,
        }
    }

    /// The top-level rules that may match, in evaluation order: those without a
    /// requirement and those whose needle or regex was found. The cost depends on what was
    /// found, not on the number of rules.
    pub fn candidates(&self, found: &Found) -> Vec<usize> {
        let mut out = self.always.clone();
        for (w, word) in found.0.iter().enumerate() {
            let mut bits = *word;
            while bits != 0 {
                let slot = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                if let Some(rule) = self.rule_of.get(slot) {
                    out.push(*rule);
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The slot of a conjunct `s` cannot match without, registered in its scan.
    fn require(&mut self, s: &Statement) -> Option<usize> {
        match s {
            Statement::ByteMatch(i, needle, _) if prefilterable(i) => {
                let slot = self.next_slot();
                let scan = self.scan_for(i)?;
                scan.needles.push(needle.clone());
                scan.needle_slots.push(slot);
                Some(slot)
            }
            Statement::Regex(i, re) if prefilterable(i) => {
                let slot = self.next_slot();
                let scan = self.scan_for(i)?;
                scan.regexes.push(re.as_str().to_owned());
                scan.regex_slots.push(slot);
                Some(slot)
            }
            Statement::And(all) => all.iter().find_map(|c| self.require(c)),
            Statement::RateBased(r) => r.scope_down.as_ref().and_then(|s| self.require(s)),
            _ => None,
        }
    }

    fn next_slot(&mut self) -> usize {
        self.slots += 1;
        self.slots - 1
    }

    fn scan_for(&mut self, i: &Inspect) -> Option<&mut Scan> {
        let key = format!("{:?}{:?}", i.field, i.chain);
        let idx = match self
            .scans
            .iter()
            .position(|s| format!("{:?}{:?}", s.field, s.chain) == key)
        {
            Some(idx) => idx,
            None => {
                self.scans.push(Scan {
                    field: i.field.clone(),
                    chain: i.chain.clone(),
                    needles: Vec::new(),
                    needle_slots: Vec::new(),
                    regexes: Vec::new(),
                    regex_slots: Vec::new(),
                    automaton: None,
                    set: None,
                });
                self.scans.len() - 1
            }
        };
        self.scans.get_mut(idx)
    }
}

/// Whether a leaf's match implies its needle or regex was found in some value: not for
/// fields that can match without a value.
fn prefilterable(i: &Inspect) -> bool {
    match &i.field {
        Field::Body(o) | Field::HeaderOrder(o) => *o != Oversize::Match,
        Field::Headers(m) | Field::Cookies(m) => m.oversize != Oversize::Match,
        Field::JsonBody(j) => j.oversize != Oversize::Match && j.invalid != Some(Invalid::Match),
        _ => true,
    }
}
