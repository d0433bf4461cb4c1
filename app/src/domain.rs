//! Pure, wasm-safe rules shared by the browser and the server.

pub mod code_pattern;
pub mod consent;
pub mod email_address;
pub mod label;
pub mod message;
pub mod password;
pub mod provider;
pub mod role;
pub mod segment_rule;
pub mod sms;
pub mod template;

pub use email_address::EmailAddress;
pub use label::Label;
pub use password::Password;
pub use role::Role;
