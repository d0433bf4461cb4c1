//! Schema migrations, run on SQLite and PostgreSQL alike. Timestamps are BIGINT milliseconds
//! since the Unix epoch: the same type, ordering and arithmetic on both databases.

pub use sea_orm_migration::prelude::*;

mod m20261125_000001_accounts;
mod m20261125_000002_customers;
mod m20261125_000003_events;
mod m20261125_000004_audience_codes;
mod m20261125_000005_integrations;
mod m20261126_000006_deliveries;
mod m20261126_000007_distributions;
mod m20261126_000008_publications_unchecked;
mod m20261126_000009_publication_marks_codes;
mod m20261202_000010_claims_without_leases;
mod m20261202_000011_number_opt_outs;
mod m20261202_000012_webhook_nonces;
mod m20261206_000013_listed_numbers_opted_out;
mod m20261206_000014_webhook_nonces_settled;
mod m20261206_000015_delivery_part_reports;
mod m20261206_000016_help_replies;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_accounts::Migration),
            Box::new(m20261125_000002_customers::Migration),
            Box::new(m20261125_000003_events::Migration),
            Box::new(m20261125_000004_audience_codes::Migration),
            Box::new(m20261125_000005_integrations::Migration),
            Box::new(m20261126_000006_deliveries::Migration),
            Box::new(m20261126_000007_distributions::Migration),
            Box::new(m20261126_000008_publications_unchecked::Migration),
            Box::new(m20261126_000009_publication_marks_codes::Migration),
            Box::new(m20261202_000010_claims_without_leases::Migration),
            Box::new(m20261202_000011_number_opt_outs::Migration),
            Box::new(m20261202_000012_webhook_nonces::Migration),
            Box::new(m20261206_000013_listed_numbers_opted_out::Migration),
            Box::new(m20261206_000014_webhook_nonces_settled::Migration),
            Box::new(m20261206_000015_delivery_part_reports::Migration),
            Box::new(m20261206_000016_help_replies::Migration),
        ]
    }
}
