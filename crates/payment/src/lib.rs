//! drgdip payment: from priced cases to money flows.
//!
//! - [`benefits`]: deductibles, reimbursement ratios and annual caps → the patient's
//!   share and the fund's share of each claim, with per-person yearly accumulators
//!   processed in date order.
//! - [`budget`]: the pooled fund split into risk reserve, city reserve, allocations and
//!   remainder, to the fen.
//! - [`settle`]: per-hospital year-end settlement (final DRG rate, DIP settlement point
//!   value, advances, deposits, assessment, audit deductions, special cases).
//! - [`retention`]: surplus retention and deficit sharing by bands.
//! - [`community`]: the county medical community as a tree (petgraph) and the
//!   allocation of its total among members with minimum shares.
//!
//! Outpatient claims (CSV in, CSV out) are priced by
//! `drgdip_pipeline::outpatient::price_outpatient` with these benefit rules.
//!
//! The policy file is one TOML document ([`Policy::load`]); see `docs/policy.md`.
//! Money is `rust_decimal::Decimal` yuan under the rounding rule of
//! [`drgdip_pricing::money`].
//!
//! ```
//! use drgdip_payment::policy::default_surplus_bands;
//! use drgdip_payment::retention::settle_unit;
//! use rust_decimal::Decimal;
//!
//! // Budget 1,000,000, spent 880,000: surplus 120,000, kept 50,000 + 35,000 + 6,000.
//! let r = settle_unit(Decimal::from(1_000_000), Decimal::from(880_000),
//!                     &default_surplus_bands(), &[]);
//! assert_eq!(r.retained, Decimal::from(91_000));
//! assert_eq!(r.carried, Decimal::from(29_000));
//! ```

pub mod benefits;
pub mod budget;
pub mod community;
pub mod policy;
pub mod retention;
pub mod settle;

pub use policy::Policy;
