//! Every customer filed under a number on the STOP list (`sms_opt_outs`, migration 11) is
//! opted out, with a ledger entry each. Migration 11 listed the numbers of the customers an
//! SMS reply had opted out; other customers filed under the same number kept their consent,
//! though only the number's owner can undo a STOP (by replying START).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or_default();
        let listed = "c.sms_consent <> 'opted_out' AND c.phone IN (SELECT phone FROM sms_opt_outs)";
        // The ledger first: the update below removes the customers it selects from `listed`.
        for sql in [
            format!(
                "INSERT INTO consent_changes (id, customer_id, state, source, actor, created_at)
                SELECT 'cons_' || c.id || '_number', c.id, 'opted_out', 'sms',
                    'Their number replied STOP earlier', {now}
                FROM customers c WHERE {listed}"
            ),
            format!(
                "UPDATE customers SET sms_consent = 'opted_out', updated_at = {now}
                WHERE id IN (SELECT c.id FROM customers c WHERE {listed})"
            ),
        ] {
            db.execute_unprepared(&sql).await?;
        }
        Ok(())
    }

    /// The opt-outs stay: they are the customers' consent now, with their ledger entries.
    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}
