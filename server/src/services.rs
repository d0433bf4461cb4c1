//! The server's implementations of the app's ports, also used by the REST API and the CLI.

pub mod accounts;
pub mod campaigns;
pub mod codes;
pub mod customers;
pub mod deliveries;
pub mod dispatch;
pub mod distributions;
pub mod integrations;
pub mod login_throttle;
pub mod phone;
pub mod rule_sql;
pub mod secret_box;
pub mod segments;
pub mod send;
pub mod tokens;
pub mod webhook_nonces;
