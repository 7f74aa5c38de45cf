//! # drgdip
//!
//! Groups hospital discharges into CHS-DRG groups (and DIP disease types) and turns
//! them into money. This façade re-exports the workspace's library crates:
//!
//! - [`grouper`]: scheme → compiled tables → DRG group and DIP type, with explanations;
//! - [`io`]: streaming, parallel reading and writing of case files, synthetic cases;
//! - [`pricing`]: weights, scores, rates, point values, coefficients, outliers → the
//!   payment standard of a case;
//! - [`payment`]: patient share and fund outlay, budgets, settlement, surplus retention,
//!   community allocation;
//! - [`pipeline`]: the `price`, `settle` and `report` pipelines over readers and
//!   writers (CSV in, CSV out), for a service or a wrapper to call;
//! - [`arrow`]: grouping and pricing Arrow record batches and Parquet files (the
//!   Python package and Spark jobs run on it).
//!
//! ```no_run
//! use drgdip::grouper::{Grouper, Scheme};
//!
//! let grouper = Grouper::compile(&Scheme::from_dir("data/demo-scheme")?)?;
//! println!("{}", grouper.info().label());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod fuzz_entry;

pub use drgdip_arrow as arrow;
pub use drgdip_grouper as grouper;
pub use drgdip_io as io;
pub use drgdip_payment as payment;
pub use drgdip_pipeline as pipeline;
pub use drgdip_pricing as pricing;
