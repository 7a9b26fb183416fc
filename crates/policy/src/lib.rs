//! Portcullis policy engine: AWS IAM policy documents evaluated against execute-api
//! requests, with explained decisions. Pure: no I/O, no async.
//!
//! - [`tree`]: the positioned input policies are compiled from, and load errors;
//! - [`pattern`]: `*`/`?` wildcards and policy variables, compiled once;
//! - [`condition`]: the condition operator families;
//! - [`context`]: the condition keys a request offers;
//! - [`policy`]: documents, statements, evaluation (explicit Deny wins, no Allow denies),
//!   explanations, and the combination with a resource policy.
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        reason = "tests assert by unwrapping"
    )
)]

pub mod condition;
pub mod context;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod pattern;
pub mod policy;
pub mod tree;

pub use context::{Context, MapContext, Values};
pub use policy::{
    Applies, ArnBase, Decision, Effect, Explanation, Outcome, Policy, PolicyKind, Request,
    StatementRef, Trace, combine, evaluate, explain,
};
pub use tree::{Node, PolicyError, Pos, Tree};

/// The candidate closest to `word` (case-insensitive edit distance at most 2), for
/// "did you mean" hints.
pub fn suggest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let w: Vec<char> = word.to_lowercase().chars().collect();
    candidates
        .iter()
        .map(|c| {
            (
                distance(&w, &c.to_lowercase().chars().collect::<Vec<_>>()),
                *c,
            )
        })
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn distance(a: &[char], b: &[char]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev.get(j).copied().unwrap_or(0) + usize::from(ca != cb);
            let del = prev.get(j + 1).copied().unwrap_or(0) + 1;
            let ins = cur.get(j).copied().unwrap_or(0) + 1;
            cur.push(sub.min(del).min(ins));
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or(0)
}
