//! drgdip pricing: from a grouped case to its payment standard.
//!
//! A region's [policy](policy::PricingPolicy) gives DRG weights and rates, DIP point
//! values, hospital coefficients, primary-care groups (one price in the city, no hospital
//! coefficient) and outlier rules. A [`Pricer`] applies it to one case at a time and
//! returns the payment standard with its breakdown. Money is [`rust_decimal::Decimal`]
//! yuan, rounded by the one rule of [`money`].
//!
//! ```
//! use std::path::Path;
//! use drgdip_pricing::{CaseInput, GroupStatus, HospitalLevel, InsuranceType, Method, Pricer};
//! use rust_decimal::Decimal;
//!
//! let dir = std::env::temp_dir().join("drgdip-pricing-doc");
//! std::fs::create_dir_all(&dir).unwrap();
//! std::fs::write(dir.join("w.csv"), "group,weight\nXX11,1.5\n").unwrap();
//! let policy = drgdip_pricing::policy::pricing_from_str(r#"
//!     [policy]
//!     name = "example"
//!     region = "demo"
//!     [drg]
//!     weights = "w.csv"
//!     base_rate = 10000
//!     [coefficients]
//!     levels = { "3" = 1.1, "2" = 1.0, "1" = 0.9, "0" = 0.8 }
//! "#, &dir).unwrap();
//! let pricer = Pricer::new(policy);
//! let priced = pricer.price(&CaseInput {
//!     method: Method::Drg,
//!     status: GroupStatus::Grouped,
//!     group: "XX11",
//!     score: None,
//!     aux_coef: None,
//!     hospital_id: "H1",
//!     level: HospitalLevel::Third,
//!     insurance: InsuranceType::Employee,
//!     total_cost: Decimal::new(1500000, 2),
//!     primary_care: false,
//! }).unwrap();
//! assert_eq!(priced.payment_standard.to_string(), "16500.00"); // 1.5 × 10000 × 1.1
//! ```

pub mod codes;
pub mod error;
pub mod money;
pub mod policy;
pub mod price;
pub mod special;
pub mod toml_reader;

pub use codes::{Date, HospitalLevel, InsuranceType, Method};
pub use error::{PolicyError, PriceError};
pub use policy::PricingPolicy;
pub use price::{CaseInput, GroupStatus, Outlier, Priced, Pricer};
