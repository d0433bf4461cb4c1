//! Integration tests through the real router, each on a fresh SQLite file and on a fresh
//! PostgreSQL database.

mod helpers;

mod accounts;
mod adapters;
mod campaigns;
mod cli;
mod crash;
mod customer_import;
mod customers;
mod delivery;
mod distributions;
mod guards;
mod integrations;
mod migrations;
mod providers;
mod rest;
mod segments;
mod webhooks;
