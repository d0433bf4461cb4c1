#![recursion_limit = "256"]
//! The Codecast server: configuration, storage, services behind the app's ports, the REST API
//! and the Leptos SSR router. `main.rs` is only the command line around it.

pub mod cli;
pub mod configuration;
pub mod db;
pub mod http;
pub mod ids;
pub mod providers;
pub mod services;
pub mod startup;
pub mod telemetry;
