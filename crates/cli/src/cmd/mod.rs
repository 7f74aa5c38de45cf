//! One module per command.

pub mod pay_io;
pub mod price;
pub mod report;
pub mod settle;
