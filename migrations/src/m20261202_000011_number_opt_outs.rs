//! Numbers that replied STOP, kept apart from customers.
//!
//! Consent used to live on customers only: a STOP from a number no customer had yet changed
//! nothing, and a customer created or imported later with a number that had replied STOP
//! started out able to receive marketing. An opted-out number gets nothing more until it
//! replies START, whoever it is filed under. Filled from the customers opted out by an SMS
//! reply.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for sql in [
            "CREATE TABLE sms_opt_outs (
                phone VARCHAR(32) NOT NULL PRIMARY KEY,
                actor TEXT NULL,
                created_at BIGINT NOT NULL
            )",
            "INSERT INTO sms_opt_outs (phone, actor, created_at)
                SELECT c.phone, MAX(l.actor), MAX(l.created_at) FROM customers c
                JOIN consent_changes l ON l.customer_id = c.id AND l.source = 'sms' AND l.state = 'opted_out'
                WHERE c.sms_consent = 'opted_out' AND c.phone IS NOT NULL AND c.phone <> ''
                GROUP BY c.phone",
        ] {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE sms_opt_outs")
            .await
            .map(|_| ())
    }
}
