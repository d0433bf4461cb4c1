//! Integration tests through the real router, each on a fresh SQLite file and on a fresh
//! PostgreSQL database.

mod helpers;

mod accounts;
mod campaigns;
mod cli;
mod customer_import;
mod customers;
mod guards;
mod integrations;
mod providers;
mod rest;
mod segments;
mod webhooks;
