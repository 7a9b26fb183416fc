//! Web ACLs with AWS WAF (v2) semantics, as a pure library: a request view in, a verdict
//! with its reasons out. No I/O, no runtime.
//!
//! ```text
//! AWS JSON --parse--> WebAcl --evaluate(Request, Env)--> Verdict
//!                                                        (outcome, terminating rule,
//!                                                         matched rules, labels, headers)
//! ```
//!
//! - [`parse`] reads web ACLs, rule groups, IP sets and regex pattern sets in the shape
//!   `aws wafv2 get-*` prints, with every problem at its JSON path.
//! - [`acl`] holds the compiled forms and evaluates them: rules by priority, terminating
//!   and counting actions, labels seen by later rules, rule groups with overrides.
//! - [`field`] extracts the request components (`FieldToMatch`), [`transform`] applies AWS
//!   WAF's text transformations to them.
//! - [`managed`] holds the built-in managed rule groups, named and labelled as AWS names
//!   them; [`detect`] is the attack detection engine behind them.

pub mod acl;
pub mod detect;
pub mod field;
pub mod firewall;
pub mod geo;
pub mod ipset;
pub mod json;
pub mod managed;
pub mod matching;
pub mod parse;
pub mod prefilter;
pub mod rate;
pub mod request;
pub mod transform;

#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;

pub use acl::{Env, Geo, Outcome, Verdict, WebAcl};
pub use firewall::{Firewall, Sources};
pub use parse::{Catalog, Problem};
pub use request::Request;
pub use transform::{Transformation, apply_all};
