//! `POST /v1/customers/import`: a CSV file, streamed: rows are parsed and stored in batches as
//! they arrive, so a large file never sits in memory whole.

use super::{
    api_auth::Caller,
    error::{ApiError, ErrorBody},
};
use crate::startup::AppState;
use app::{
    dto::{CurrentUser, CustomerInput},
    error::AppError,
};
use axum::{body::Body, extract::State, Extension, Json};
use futures::{StreamExt, TryStreamExt};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::HashMap;
use utoipa::ToSchema;

/// Rows written per transaction.
const BATCH_ROWS: usize = 500;
/// Rejections listed in the answer (all are counted).
const MAX_LISTED_REJECTIONS: usize = 1000;
const KNOWN_COLUMNS: [&str; 6] = [
    "source_id",
    "name",
    "phone",
    "email",
    "timezone",
    "sms_consent",
];

#[derive(Serialize, ToSchema)]
pub struct ImportResult {
    pub created: u64,
    pub updated: u64,
    /// Rejected rows (the header is row 1), at most 1,000 of them.
    pub rejected: Vec<RejectedRow>,
    pub rejected_count: u64,
}

#[derive(Serialize, ToSchema)]
pub struct RejectedRow {
    pub row: u64,
    pub error: String,
}

enum Column {
    Field(&'static str),
    Metadata(String),
}

/// Imports customers from CSV (header row; columns source_id, name, phone, email, timezone,
/// sms_consent and metadata.<key>). Valid rows are stored even when others are rejected.
#[utoipa::path(post, path = "/v1/customers/import", tag = "customers", security(("bearer" = [])),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = ImportResult), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn import(
    Caller(caller): Caller,
    State(state): State<AppState>,
    body: Body,
) -> Result<Json<ImportResult>, ApiError> {
    import_csv(&state, body, &format!("api key {}", caller.name))
        .await
        .map(Json)
}

/// The same import for the signed-in UI (session cookie; cross-site requests are refused
/// by the guard in front of every non-API route).
pub async fn import_from_ui(
    user: Option<Extension<CurrentUser>>,
    State(state): State<AppState>,
    body: Body,
) -> Result<Json<ImportResult>, ApiError> {
    let Some(Extension(user)) = user else {
        return Err(ApiError(AppError::unauthorized()));
    };
    import_csv(&state, body, &user.email).await.map(Json)
}

async fn import_csv(state: &AppState, body: Body, actor: &str) -> Result<ImportResult, ApiError> {
    let stream = body.into_data_stream().map_err(std::io::Error::other);
    let reader = tokio_util::io::StreamReader::new(stream);
    let mut csv = csv_async::AsyncReaderBuilder::new()
        .flexible(true)
        .has_headers(false)
        .create_reader(reader);
    let mut records = csv.byte_records();

    let header = match records.next().await {
        Some(Ok(h)) => h,
        Some(Err(e)) => return Err(invalid(format!("The header row could not be read: {e}"))),
        None => {
            return Err(invalid(
                "The file is empty; send a header row and one row per customer.".into(),
            ))
        }
    };
    let columns = parse_header(&header)?;
    let mut result = ImportResult {
        created: 0,
        updated: 0,
        rejected: Vec::new(),
        rejected_count: 0,
    };
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut batch: Vec<(u64, CustomerInput)> = Vec::with_capacity(BATCH_ROWS);
    let mut row: u64 = 1;

    while let Some(record) = records.next().await {
        row += 1;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                reject(&mut result, row, format!("The row could not be read: {e}"));
                continue;
            }
        };
        if record.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)) {
            continue;
        }
        match to_input(&columns, &record) {
            Err(e) => reject(&mut result, row, e),
            Ok(input) => {
                if let Some(sid) = &input.source_id {
                    if let Some(first) = seen.insert(sid.clone(), row) {
                        seen.insert(sid.clone(), first);
                        reject(
                            &mut result,
                            row,
                            format!("source_id {sid:?} already appears in row {first}."),
                        );
                        continue;
                    }
                }
                batch.push((row, input));
                if batch.len() >= BATCH_ROWS {
                    store(state, std::mem::take(&mut batch), actor, &mut result).await?;
                }
            }
        }
    }
    store(state, batch, actor, &mut result).await?;
    result.rejected.sort_by_key(|r| r.row);
    Ok(result)
}

async fn store(
    state: &AppState,
    batch: Vec<(u64, CustomerInput)>,
    actor: &str,
    result: &mut ImportResult,
) -> Result<(), ApiError> {
    if batch.is_empty() {
        return Ok(());
    }
    for (row, outcome) in state.customers.import_batch(batch, actor).await? {
        match outcome {
            Ok(true) => result.created += 1,
            Ok(false) => result.updated += 1,
            Err(e) => reject(result, row, describe(&e)),
        }
    }
    Ok(())
}

fn reject(result: &mut ImportResult, row: u64, error: String) {
    result.rejected_count += 1;
    if result.rejected.len() < MAX_LISTED_REJECTIONS {
        result.rejected.push(RejectedRow { row, error });
    }
}

/// "phone: … ; email: …" for field errors.
fn describe(e: &AppError) -> String {
    match e.fields() {
        Some(f) if !f.is_empty() => f
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join("; "),
        _ => e.to_string(),
    }
}

fn invalid(message: String) -> ApiError {
    ApiError(AppError::invalid(message))
}

fn parse_header(header: &csv_async::ByteRecord) -> Result<Vec<Column>, ApiError> {
    let mut columns = Vec::new();
    for (i, raw) in header.iter().enumerate() {
        let raw = if i == 0 {
            raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw)
        } else {
            raw
        };
        let name = std::str::from_utf8(raw)
            .map_err(|_| invalid(format!("Header column {} is not valid UTF-8.", i + 1)))?
            .trim()
            .to_ascii_lowercase();
        if let Some(key) = name.strip_prefix("metadata.").filter(|k| !k.is_empty()) {
            columns.push(Column::Metadata(key.to_owned()));
        } else if let Some(known) = KNOWN_COLUMNS.iter().find(|k| **k == name) {
            columns.push(Column::Field(known));
        } else {
            return Err(invalid(format!(
                "Unknown column {name:?}. Use source_id, name, phone, email, timezone, sms_consent and metadata.<key>."
            )));
        }
    }
    if !columns
        .iter()
        .any(|c| matches!(c, Column::Field("source_id")))
    {
        return Err(invalid("The header needs a source_id column, so that importing again updates instead of duplicating.".into()));
    }
    Ok(columns)
}

fn to_input(columns: &[Column], record: &csv_async::ByteRecord) -> Result<CustomerInput, String> {
    if record.len() > columns.len() {
        return Err(format!(
            "The row has {} values but the header has {} columns.",
            record.len(),
            columns.len()
        ));
    }
    let mut input = CustomerInput::default();
    let mut metadata = Map::new();
    for (column, raw) in columns.iter().zip(record.iter()) {
        let value = std::str::from_utf8(raw)
            .map_err(|_| "The row is not valid UTF-8.".to_owned())?
            .trim();
        match column {
            Column::Metadata(key) => {
                if !value.is_empty() {
                    metadata.insert(key.clone(), typed(value));
                }
            }
            Column::Field(name) => {
                let v = (!value.is_empty()).then(|| value.to_owned());
                match *name {
                    "source_id" => input.source_id = v,
                    "name" => input.name = v,
                    "phone" => input.phone = v,
                    "email" => input.email = v,
                    "timezone" => input.timezone = v,
                    "sms_consent" => input.sms_consent = v,
                    _ => {}
                }
            }
        }
    }
    if input.source_id.is_none() {
        return Err("source_id is empty.".into());
    }
    if !metadata.is_empty() {
        input.metadata = Some(metadata);
    }
    Ok(input)
}

/// Keeps numbers and booleans typed; everything else stays text. A value becomes a number
/// only when the number reads back as the same text, so nothing typed is lost: `02134` (a
/// zip code), `+34612345678`, `1.10` (a version) and `19.90` stay text as written.
fn typed(value: &str) -> Value {
    match value {
        "true" => return Value::Bool(true),
        "false" => return Value::Bool(false),
        _ => {}
    }
    if let Ok(i) = value.parse::<i64>() {
        if i.to_string() == value {
            return Value::from(i);
        }
    }
    if value.contains('.') {
        if let Some(n) = value
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .and_then(serde_json::Number::from_f64)
            .filter(|n| n.to_string() == value)
        {
            return Value::Number(n);
        }
    }
    Value::String(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::typed;
    use serde_json::json;

    #[test]
    fn metadata_values_keep_their_types_but_codes_stay_text() {
        assert_eq!(typed("42"), json!(42));
        assert_eq!(typed("-3.5"), json!(-3.5));
        assert_eq!(typed("true"), json!(true));
        assert_eq!(typed("02134"), json!("02134"));
        assert_eq!(typed("0.5"), json!(0.5));
        assert_eq!(typed("gold"), json!("gold"));
        assert_eq!(typed("+34612345678"), json!("+34612345678"));
        assert_eq!(typed("1.10"), json!("1.10"));
        assert_eq!(typed("19.90"), json!("19.90"));
        assert_eq!(typed("-0"), json!("-0"));
        assert_eq!(typed("-7"), json!(-7));
    }
}
