use crate::{
    dto::{CampaignView, PromotionTierView, Publication, VoucherPage},
    error::AppError,
};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Codes shown per page.
pub const CODES_PER_PAGE: u64 = 50;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignsOverview {
    pub campaigns: Vec<CampaignView>,
    pub tiers: Vec<PromotionTierView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignDetail {
    pub campaign: CampaignView,
    pub codes: VoucherPage,
}

#[server(endpoint = "list_campaigns")]
pub async fn list_campaigns() -> Result<CampaignsOverview, AppError> {
    use super::context::*;
    respond(
        async {
            require_user()?;
            let campaigns = ports()?.campaigns;
            Ok(CampaignsOverview {
                campaigns: campaigns.list().await?,
                tiers: campaigns.promotion_tiers().await?,
            })
        }
        .await,
    )
}

#[server(endpoint = "get_campaign_detail")]
pub async fn get_campaign_detail(
    id: String,
    query: String,
    after: Option<String>,
) -> Result<CampaignDetail, AppError> {
    use super::context::*;
    use crate::ports::Page;
    respond(
        async {
            require_user()?;
            let campaigns = ports()?.campaigns;
            let campaign = campaigns.get(&id).await?;
            let codes = campaigns
                .vouchers(
                    &id,
                    &query,
                    Page {
                        limit: CODES_PER_PAGE,
                        starting_after: after.filter(|a| !a.is_empty()),
                    },
                )
                .await?;
            Ok(CampaignDetail { campaign, codes })
        }
        .await,
    )
}

/// A decimal amount typed in a form ("10", "10.5", "10,50") in minor units.
pub fn parse_amount(text: &str) -> Option<i64> {
    let t = text.trim().replace(',', ".");
    let (whole, frac) = t.split_once('.').unwrap_or((&t, ""));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if whole.is_empty() && frac.is_empty() || frac.len() > 2 || !digits(whole) || !digits(frac) {
        return None;
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let frac: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().ok()? * 10,
        _ => frac.parse().ok()?,
    };
    whole.checked_mul(100)?.checked_add(frac)
}

/// The discount from a form's type and value fields.
#[cfg(feature = "ssr")]
fn discount_from_form(
    kind: &str,
    value: &str,
    field: &str,
) -> Result<crate::dto::Discount, AppError> {
    use crate::dto::Discount;
    match kind {
        "PERCENT" => match value
            .trim()
            .trim_end_matches('%')
            .replace(',', ".")
            .parse::<f64>()
        {
            Ok(p) => Ok(Discount {
                kind: kind.into(),
                percent_off: Some(p),
                amount_off: None,
            }),
            Err(_) => Err(AppError::validation(field, "Give a percentage such as 20.")),
        },
        "AMOUNT" => match parse_amount(value) {
            Some(a) => Ok(Discount {
                kind: kind.into(),
                percent_off: None,
                amount_off: Some(a),
            }),
            None => Err(AppError::validation(
                field,
                "Give an amount such as 10 or 9.99.",
            )),
        },
        _ => Err(AppError::validation(
            field,
            "Choose a percentage or an amount.",
        )),
    }
}

/// Creates a campaign from the form; the page follows generation progress.
#[allow(clippy::too_many_arguments)]
#[server(endpoint = "create_campaign")]
pub async fn create_campaign(
    name: String,
    discount_type: String,
    discount_value: String,
    code_mode: String,
    #[server(default)] pattern: String,
    #[server(default)] length: String,
    #[server(default)] charset: String,
    #[server(default)] prefix: String,
    #[server(default)] postfix: String,
    count: String,
    #[server(default)] expiration_date: String,
    #[server(default)] validity_hours: String,
) -> Result<CampaignView, AppError> {
    use super::context::*;
    use crate::dto::CampaignInput;
    use std::collections::BTreeMap;
    respond(
        async {
            require_user()?;
            let mut fields = BTreeMap::new();
            let discount = discount_from_form(&discount_type, &discount_value, "discount_value")
                .map_err(|e| fields.extend(e.fields().cloned().unwrap_or_default()))
                .ok();
            let opt = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
            let code_config = if code_mode == "length" {
                match length.trim().parse::<usize>() {
                    Ok(n) => serde_json::json!({"length": n, "charset": opt(&charset), "prefix": opt(&prefix), "postfix": opt(&postfix)}),
                    Err(_) => {
                        fields.insert("length".into(), "Give the number of random characters, such as 8.".into());
                        serde_json::Value::Null
                    }
                }
            } else {
                if pattern.trim().is_empty() {
                    fields.insert("pattern".into(), "Give a pattern such as SUMMER-#### (# a digit, ? a letter).".into());
                }
                serde_json::json!({"pattern": pattern.trim(), "prefix": opt(&prefix), "postfix": opt(&postfix)})
            };
            let count = match count.trim().replace([',', '_', ' '], "").parse::<u64>() {
                Ok(n) => n,
                Err(_) => {
                    fields.insert("count".into(), "Give how many codes to generate, such as 1000.".into());
                    0
                }
            };
            let expiration = match expiration_date.trim() {
                "" => None,
                d => match chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d") {
                    Ok(day) => day
                        .and_hms_milli_opt(23, 59, 59, 999)
                        .map(|t| t.and_utc().timestamp_millis()),
                    Err(_) => {
                        fields.insert("expiration_date".into(), "Use a date such as 2026-12-31.".into());
                        None
                    }
                },
            };
            let validity = match validity_hours.trim() {
                "" => None,
                h => match h.parse::<u32>() {
                    Ok(h) => Some(h),
                    Err(_) => {
                        fields.insert("validity_hours".into(), "Give whole hours, such as 48.".into());
                        None
                    }
                },
            };
            if !fields.is_empty() {
                return Err(AppError::validation_fields(fields));
            }
            let created = ports()?
                .campaigns
                .create(CampaignInput {
                    name,
                    discount: discount.unwrap_or_else(|| crate::dto::Discount { kind: String::new(), percent_off: None, amount_off: None }),
                    code_config,
                    vouchers_count: count,
                    expiration_date: expiration,
                    validity_hours: validity,
                })
                .await
                .map_err(|e| {
                    rename_fields(e, |k| match k {
                        "vouchers_count" => Some("count"),
                        "voucher.code_config" => Some("code_config"),
                        "validity_after_publication_hours" => Some("validity_hours"),
                        k if k.starts_with("voucher.discount") => Some("discount_value"),
                        _ => None,
                    })
                })?;
            redirect_form_post(&format!("/campaigns/{}", created.id));
            Ok(created)
        }
        .await,
    )
}

/// The services name fields as the API does; the forms' inputs are named differently.
#[cfg(feature = "ssr")]
fn rename_fields(e: AppError, form_name: fn(&str) -> Option<&'static str>) -> AppError {
    match e {
        AppError::ValidationFailed { fields, .. } => AppError::validation_fields(
            fields
                .into_iter()
                .map(|(k, v)| (form_name(&k).map_or(k, str::to_owned), v))
                .collect(),
        ),
        other => other,
    }
}

#[server(endpoint = "create_promotion_tier")]
pub async fn create_promotion_tier(
    name: String,
    banner: String,
    discount_type: String,
    discount_value: String,
    #[server(default)] cart_total_gte: String,
) -> Result<PromotionTierView, AppError> {
    use super::context::*;
    use crate::dto::PromotionTierInput;
    use std::collections::BTreeMap;
    respond(
        async {
            require_user()?;
            let mut fields = BTreeMap::new();
            let discount = discount_from_form(&discount_type, &discount_value, "discount_value")
                .map_err(|e| fields.extend(e.fields().cloned().unwrap_or_default()))
                .ok();
            let min = match cart_total_gte.trim() {
                "" => None,
                t => match parse_amount(t) {
                    Some(v) => Some(v),
                    None => {
                        fields.insert(
                            "cart_total_gte".into(),
                            "Give an amount such as 50 or 49.99.".into(),
                        );
                        None
                    }
                },
            };
            if !fields.is_empty() {
                return Err(AppError::validation_fields(fields));
            }
            let tier = ports()?
                .campaigns
                .create_promotion_tier(PromotionTierInput {
                    name,
                    banner,
                    discount: discount.unwrap_or_else(|| crate::dto::Discount {
                        kind: String::new(),
                        percent_off: None,
                        amount_off: None,
                    }),
                    cart_total_gte: min,
                })
                .await
                .map_err(|e| {
                    rename_fields(e, |k| {
                        if k.starts_with("discount") {
                            Some("discount_value")
                        } else if k.starts_with("condition") {
                            Some("cart_total_gte")
                        } else {
                            None
                        }
                    })
                })?;
            redirect_form_post("/campaigns?tier_saved=1");
            Ok(tier)
        }
        .await,
    )
}

/// Gives a customer (id or source id) their code of the campaign.
#[server(endpoint = "publish_code")]
pub async fn publish_code(campaign_id: String, customer: String) -> Result<Publication, AppError> {
    use super::context::*;
    respond(
        async {
            require_user()?;
            if customer.trim().is_empty() {
                return Err(AppError::validation(
                    "customer",
                    "Give a customer id or source id.",
                ));
            }
            let p = ports()?
                .campaigns
                .publish(&campaign_id, customer.trim(), None)
                .await?;
            redirect_form_post(&format!("/campaigns/{campaign_id}?q={}", p.code));
            Ok(p)
        }
        .await,
    )
}

#[cfg(test)]
mod tests {
    use super::parse_amount;

    #[test]
    fn amounts_parse_to_minor_units() {
        assert_eq!(parse_amount("10"), Some(1000));
        assert_eq!(parse_amount("10.5"), Some(1050));
        assert_eq!(parse_amount("9,99"), Some(999));
        assert_eq!(parse_amount(".5"), Some(50));
        assert_eq!(parse_amount("1.234"), None);
        assert_eq!(parse_amount("-3"), None);
        assert_eq!(parse_amount("abc"), None);
        assert_eq!(parse_amount(""), None);
    }
}
