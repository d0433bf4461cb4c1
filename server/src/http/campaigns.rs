//! `/v1/campaigns`, `/v1/publications`, `/v1/redemptions` and `/v1/promotions/tiers`.

use super::{
    api_auth::Caller,
    api_keys::{page, page_of, rfc3339, ListParams},
    error::{ApiError, ErrorBody},
    extract::{ApiJson, ApiQuery},
};
use crate::startup::AppState;
use app::{
    dto::{
        CampaignInput, CampaignView, Discount as DiscountDto, PromotionTierInput,
        PromotionTierView, Publication as PublicationDto, VoucherView,
    },
    error::AppError,
    ports::Campaigns,
};
use axum::{
    extract::{Path, State},
    http::StatusCode,
    Json,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, Serialize, ToSchema, Clone)]
pub struct Discount {
    /// `PERCENT` or `AMOUNT`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent_off: Option<f64>,
    /// In the currency's minor unit: 1000 is 10.00.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount_off: Option<i64>,
}

impl From<Discount> for DiscountDto {
    fn from(d: Discount) -> Self {
        Self {
            kind: d.kind,
            percent_off: d.percent_off,
            amount_off: d.amount_off,
        }
    }
}

impl From<DiscountDto> for Discount {
    fn from(d: DiscountDto) -> Self {
        Self {
            kind: d.kind,
            percent_off: d.percent_off,
            amount_off: d.amount_off,
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct VoucherTemplate {
    pub discount: Discount,
    /// `{"pattern": "SUMMER-####"}` (`#` digit, `?` letter) or
    /// `{"length": 8, "charset": "alphanumeric"|"alphabetic"|"numbers"|"<characters>", "prefix"?, "postfix"?}`.
    #[schema(value_type = Object)]
    pub code_config: Value,
}

#[derive(Deserialize, ToSchema)]
pub struct CampaignRequest {
    pub name: String,
    /// `DISCOUNT_COUPONS` (the only type so far).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub vouchers_count: u64,
    pub voucher: VoucherTemplate,
    /// RFC 3339, or a date (`2026-12-31`: codes work through that day, UTC).
    pub expiration_date: Option<String>,
    pub validity_after_publication_hours: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct Counts {
    pub total: u64,
    pub published: u64,
    pub redeemed: u64,
}

#[derive(Serialize, ToSchema)]
pub struct Generation {
    /// `generating`, `ready` or `failed`.
    pub status: String,
    pub generated: u64,
    pub total: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CampaignVoucher {
    pub discount: Discount,
    #[schema(value_type = Object)]
    pub code_config: Value,
}

#[derive(Serialize, ToSchema)]
pub struct Campaign {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub vouchers_count: u64,
    pub voucher: CampaignVoucher,
    /// The code shape in words, with how many codes it allows.
    pub code_shape: String,
    pub expiration_date: Option<String>,
    pub validity_after_publication_hours: Option<u32>,
    pub generation: Generation,
    pub counts: Counts,
    pub created_at: String,
}

impl From<CampaignView> for Campaign {
    fn from(c: CampaignView) -> Self {
        Self {
            id: c.id,
            name: c.name,
            kind: "DISCOUNT_COUPONS".into(),
            vouchers_count: c.vouchers_count,
            voucher: CampaignVoucher {
                discount: c.discount.into(),
                code_config: c.code_config,
            },
            code_shape: c.code_shape,
            expiration_date: c.expiration_date.map(rfc3339),
            validity_after_publication_hours: c.validity_hours,
            generation: Generation {
                status: c.status,
                generated: c.generated,
                total: c.vouchers_count,
                failure: c.failure,
            },
            counts: Counts {
                total: c.generated,
                published: c.published,
                redeemed: c.redeemed,
            },
            created_at: rfc3339(c.created_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CampaignList {
    pub data: Vec<Campaign>,
    pub has_more: bool,
}

#[derive(Serialize, ToSchema)]
pub struct QrAsset {
    pub url: String,
}

#[derive(Serialize, ToSchema)]
pub struct Assets {
    pub qr: QrAsset,
}

#[derive(Serialize, ToSchema)]
pub struct Voucher {
    pub code: String,
    pub campaign: String,
    /// `available`, `published`, `redeemed` or `expired`.
    pub state: String,
    pub customer: Option<String>,
    pub published_at: Option<String>,
    pub expiration_date: Option<String>,
    pub redeemed_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assets: Option<Assets>,
}

impl From<VoucherView> for Voucher {
    fn from(v: VoucherView) -> Self {
        Self {
            code: v.code,
            campaign: v.campaign_id,
            state: v.state,
            customer: v.customer_id,
            published_at: v.published_at.map(rfc3339),
            expiration_date: v.expires_at.map(rfc3339),
            redeemed_at: v.redeemed_at.map(rfc3339),
            assets: v.qr_url.map(|url| Assets {
                qr: QrAsset { url },
            }),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct VoucherList {
    pub data: Vec<Voucher>,
    pub has_more: bool,
    /// Pass as `starting_after` for the next page.
    pub next_starting_after: Option<String>,
}

#[derive(Deserialize, IntoParams)]
pub struct VoucherParams {
    /// Matches the code, or the holder's name, phone or id.
    pub q: Option<String>,
    pub limit: Option<u64>,
    pub starting_after: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct PublicationRequest {
    /// The campaign's id.
    pub campaign: String,
    /// The customer's id or source_id.
    pub customer: String,
    /// Your own reference for this publication.
    pub source_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PublishedVoucher {
    pub code: String,
    pub campaign: String,
    pub customer: String,
    pub published_at: String,
    pub expiration_date: Option<String>,
    pub assets: Assets,
}

#[derive(Serialize, ToSchema)]
pub struct PublicationResponse {
    pub voucher: PublishedVoucher,
}

impl From<PublicationDto> for PublicationResponse {
    fn from(p: PublicationDto) -> Self {
        Self {
            voucher: PublishedVoucher {
                code: p.code,
                campaign: p.campaign_id,
                customer: p.customer_id,
                published_at: rfc3339(p.published_at),
                expiration_date: p.expires_at.map(rfc3339),
                assets: Assets {
                    qr: QrAsset { url: p.qr_url },
                },
            },
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct RedemptionRequest {
    pub code: String,
    /// When given, the code must be this customer's (id or source_id).
    pub customer: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RedemptionResponse {
    /// `SUCCESS`.
    pub result: String,
    pub voucher: Voucher,
}

#[derive(Deserialize, ToSchema)]
pub struct Condition {
    /// Minor units.
    pub cart_total_gte: Option<i64>,
}

#[derive(Deserialize, ToSchema)]
pub struct PromotionTierRequest {
    pub name: String,
    /// The text customers see.
    pub banner: String,
    pub discount: Discount,
    pub condition: Option<Condition>,
}

#[derive(Serialize, ToSchema)]
pub struct PromotionTier {
    pub id: String,
    pub name: String,
    pub banner: String,
    pub discount: Discount,
    #[schema(value_type = Object)]
    pub condition: Value,
    pub created_at: String,
}

impl From<PromotionTierView> for PromotionTier {
    fn from(t: PromotionTierView) -> Self {
        let condition = match t.cart_total_gte {
            Some(v) => serde_json::json!({ "cart_total_gte": v }),
            None => serde_json::json!({}),
        };
        Self {
            id: t.id,
            name: t.name,
            banner: t.banner,
            discount: t.discount.into(),
            condition,
            created_at: rfc3339(t.created_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct PromotionTierList {
    pub data: Vec<PromotionTier>,
    pub has_more: bool,
}

/// `2026-12-31T18:00:00Z`, or `2026-12-31` meaning through the end of that day (UTC).
pub fn parse_expiration(text: &str) -> Result<i64, AppError> {
    let t = text.trim();
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(t) {
        return Ok(dt.timestamp_millis());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        if let Some(end) = d.and_hms_milli_opt(23, 59, 59, 999) {
            return Ok(end.and_utc().timestamp_millis());
        }
    }
    Err(AppError::validation(
        "expiration_date",
        "Use a date (2026-12-31) or an RFC 3339 time (2026-12-31T18:00:00Z).",
    ))
}

/// Creates a campaign; up to 10,000 codes are ready in the answer, larger campaigns report
/// `generation.generated` while their codes are drawn in the background.
#[utoipa::path(post, path = "/v1/campaigns", tag = "campaigns", security(("bearer" = [])), request_body = CampaignRequest,
    responses((status = 201, body = Campaign), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    _: Caller,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CampaignRequest>,
) -> Result<(StatusCode, Json<Campaign>), ApiError> {
    if let Some(kind) = body.kind.as_deref() {
        if kind != "DISCOUNT_COUPONS" {
            return Err(AppError::validation("type", "Use DISCOUNT_COUPONS.").into());
        }
    }
    let expiration_date = body
        .expiration_date
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(parse_expiration)
        .transpose()?;
    let created = state
        .campaigns
        .create(CampaignInput {
            name: body.name,
            discount: body.voucher.discount.into(),
            code_config: body.voucher.code_config,
            vouchers_count: body.vouchers_count,
            expiration_date,
            validity_hours: body.validity_after_publication_hours,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

#[utoipa::path(get, path = "/v1/campaigns", tag = "campaigns", security(("bearer" = [])), params(ListParams),
    responses((status = 200, body = CampaignList), (status = 401, body = ErrorBody)))]
pub async fn list(
    _: Caller,
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<CampaignList>, ApiError> {
    let (rows, has_more) = page_of(state.campaigns.list().await?, |c| &c.id, params)?;
    Ok(Json(CampaignList {
        data: rows.into_iter().map(Campaign::from).collect(),
        has_more,
    }))
}

/// A campaign with its counts (total, published, redeemed) and generation progress.
#[utoipa::path(get, path = "/v1/campaigns/{id}", tag = "campaigns", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Campaign), (status = 404, body = ErrorBody)))]
pub async fn get(
    _: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Campaign>, ApiError> {
    Ok(Json(state.campaigns.get(&id).await?.into()))
}

/// The campaign's codes with holder and state, in generation order.
#[utoipa::path(get, path = "/v1/campaigns/{id}/vouchers", tag = "campaigns", security(("bearer" = [])),
    params(("id" = String, Path), VoucherParams),
    responses((status = 200, body = VoucherList), (status = 404, body = ErrorBody)))]
pub async fn vouchers(
    _: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<VoucherParams>,
) -> Result<Json<VoucherList>, ApiError> {
    let page = page(ListParams {
        limit: params.limit,
        starting_after: params.starting_after,
    })?;
    let found = state
        .campaigns
        .vouchers(&id, params.q.as_deref().unwrap_or_default(), page)
        .await?;
    Ok(Json(VoucherList {
        next_starting_after: found.next_after.clone(),
        data: found.items.into_iter().map(Voucher::from).collect(),
        has_more: found.has_more,
    }))
}

/// Gives a customer a code of the campaign: the same one on every call (201 the first time,
/// 200 after). 409 when every code is taken.
#[utoipa::path(post, path = "/v1/publications", tag = "campaigns", security(("bearer" = [])), request_body = PublicationRequest,
    responses((status = 201, body = PublicationResponse), (status = 200, body = PublicationResponse), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn publish(
    _: Caller,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<PublicationRequest>,
) -> Result<(StatusCode, Json<PublicationResponse>), ApiError> {
    let p = state
        .campaigns
        .publish(&body.campaign, &body.customer, body.source_id)
        .await?;
    let status = if p.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(p.into())))
}

/// Redeems a code; 409 when it was redeemed already, has expired or belongs to someone else.
#[utoipa::path(post, path = "/v1/redemptions", tag = "campaigns", security(("bearer" = [])), request_body = RedemptionRequest,
    responses((status = 200, body = RedemptionResponse), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn redeem(
    _: Caller,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RedemptionRequest>,
) -> Result<Json<RedemptionResponse>, ApiError> {
    let v = state
        .campaigns
        .redeem(&body.code, body.customer.as_deref())
        .await?;
    Ok(Json(RedemptionResponse {
        result: "SUCCESS".into(),
        voucher: v.into(),
    }))
}

/// A cart-level promotion (no code) that a distribution can announce.
#[utoipa::path(post, path = "/v1/promotions/tiers", tag = "campaigns", security(("bearer" = [])), request_body = PromotionTierRequest,
    responses((status = 201, body = PromotionTier), (status = 422, body = ErrorBody)))]
pub async fn create_tier(
    _: Caller,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<PromotionTierRequest>,
) -> Result<(StatusCode, Json<PromotionTier>), ApiError> {
    let tier = state
        .campaigns
        .create_promotion_tier(PromotionTierInput {
            name: body.name,
            banner: body.banner,
            discount: body.discount.into(),
            cart_total_gte: body.condition.and_then(|c| c.cart_total_gte),
        })
        .await?;
    Ok((StatusCode::CREATED, Json(tier.into())))
}

#[utoipa::path(get, path = "/v1/promotions/tiers", tag = "campaigns", security(("bearer" = [])), params(ListParams),
    responses((status = 200, body = PromotionTierList)))]
pub async fn list_tiers(
    _: Caller,
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<PromotionTierList>, ApiError> {
    let tiers = state.campaigns.promotion_tiers().await?;
    let (rows, has_more) = page_of(tiers, |t| &t.id, params)?;
    Ok(Json(PromotionTierList {
        data: rows.into_iter().map(PromotionTier::from).collect(),
        has_more,
    }))
}
