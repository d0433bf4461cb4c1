//! The sandbox: accepts every message and records it, for demos and development. It counts
//! segments with the same function the editor shows.

use super::{Accepted, Failure, OutgoingSms, RawAnswer, SmsProvider};
use crate::ids::{new_id, now_millis};
use crate::services::rule_sql::Sql;
use async_trait::async_trait;
use sea_orm::{ConnectionTrait, DatabaseConnection};

pub struct Sandbox {
    pub db: DatabaseConnection,
    pub integration_id: String,
    pub sender: Option<String>,
}

#[async_trait]
impl SmsProvider for Sandbox {
    async fn send(&self, sms: &OutgoingSms) -> Result<Accepted, Failure> {
        let id = new_id("sbx");
        let segments = app::domain::sms::count(&sms.body, false).segments as u32;
        let mut q = Sql::new(self.db.get_database_backend());
        q.push("INSERT INTO sandbox_messages (id, integration_id, sender, recipient, body, segments, created_at) VALUES (")
            .bind(id.clone())
            .push(", ")
            .bind(self.integration_id.clone())
            .push(", ")
            .bind(self.sender.clone())
            .push(", ")
            .bind(sms.to.clone())
            .push(", ")
            .bind(sms.body.clone())
            .push(", ")
            .bind(i64::from(segments))
            .push(", ")
            .bind(now_millis())
            .push(")");
        match self.db.execute(q.statement()).await {
            Ok(_) => Ok(Accepted {
                raw: RawAnswer {
                    http_status: None,
                    body: serde_json::json!({"id": id, "segments": segments, "status": "recorded"})
                        .to_string(),
                },
                provider_id: id,
                segments: Some(segments),
            }),
            Err(e) => Err(Failure::Retryable {
                code: "storage".into(),
                message: format!("The sandbox could not record the message: {e}"),
                retry_after: None,
                throttled: false,
                raw: RawAnswer {
                    http_status: None,
                    body: String::new(),
                },
            }),
        }
    }
}
