use crate::{
    dto::{SegmentMember, SegmentView},
    error::AppError,
};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Members shown per page.
pub const MEMBERS_PER_PAGE: u64 = 50;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentDetail {
    pub segment: SegmentView,
    pub members: Vec<SegmentMember>,
    pub has_more: bool,
}

#[server(endpoint = "list_segments")]
pub async fn list_segments() -> Result<Vec<SegmentView>, AppError> {
    use super::context::*;
    respond(
        async {
            require_user()?;
            ports()?.segments.list().await
        }
        .await,
    )
}

#[server(endpoint = "get_segment_detail")]
pub async fn get_segment_detail(
    id: String,
    after: Option<String>,
) -> Result<SegmentDetail, AppError> {
    use super::context::*;
    use crate::ports::Page;
    respond(
        async {
            require_user()?;
            let segments = ports()?.segments;
            let segment = segments.get(&id).await?;
            let (members, has_more) = segments
                .members(
                    &id,
                    Page {
                        limit: MEMBERS_PER_PAGE,
                        starting_after: after.filter(|a| !a.is_empty()),
                    },
                )
                .await?;
            Ok(SegmentDetail {
                segment,
                members,
                has_more,
            })
        }
        .await,
    )
}

/// Splits a pasted list of customer ids or source ids (commas, spaces or lines).
pub fn split_customers(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Creates (no `id`) or updates a segment from the form. `filter` is the rule as JSON.
#[server(endpoint = "save_segment")]
pub async fn save_segment(
    id: Option<String>,
    name: String,
    kind: String,
    #[server(default)] filter: String,
    #[server(default)] customers: String,
) -> Result<SegmentView, AppError> {
    use super::context::*;
    use crate::dto::{segment::AUTO_UPDATE, SegmentInput};
    respond(
        async {
            require_user()?;
            let filter = if kind == AUTO_UPDATE {
                Some(parse_rule_json(&filter)?)
            } else {
                None
            };
            let segments = ports()?.segments;
            let saved = match id.filter(|i| !i.is_empty()) {
                Some(id) => segments.update(&id, &name, filter).await?,
                None => {
                    segments
                        .create(SegmentInput {
                            name,
                            kind,
                            filter,
                            customers: split_customers(&customers),
                        })
                        .await?
                }
            };
            redirect_form_post(&format!("/segments/{}?saved=1", saved.id));
            Ok(saved)
        }
        .await,
    )
}

#[cfg(feature = "ssr")]
fn parse_rule_json(text: &str) -> Result<serde_json::Value, AppError> {
    if text.trim().is_empty() {
        return Ok(serde_json::json!({"all": []}));
    }
    serde_json::from_str(text)
        .map_err(|e| AppError::validation("filter", format!("The rule is not valid JSON: {e}.")))
}

/// How many customers a rule matches now: the rule builder's live count.
#[server(endpoint = "count_segment_rule")]
pub async fn count_segment_rule(filter: String) -> Result<u64, AppError> {
    use super::context::*;
    use crate::domain::segment_rule::Rule;
    respond(
        async {
            require_user()?;
            let value = parse_rule_json(&filter)?;
            let rule = Rule::parse(&value, "filter")
                .map_err(|e| AppError::validation("filter", e.to_string()))?;
            ports()?.segments.count(&rule).await
        }
        .await,
    )
}

#[server(endpoint = "delete_segment")]
pub async fn delete_segment(id: String) -> Result<(), AppError> {
    use super::context::*;
    respond(
        async {
            require_user()?;
            ports()?.segments.delete(&id).await?;
            redirect_form_post("/segments");
            Ok(())
        }
        .await,
    )
}

/// Adds customers (ids or source ids, pasted) to a static segment; answers with how many entered.
#[server(endpoint = "add_segment_members")]
pub async fn add_segment_members(id: String, customers: String) -> Result<u64, AppError> {
    use super::context::*;
    respond(
        async {
            require_user()?;
            let list = split_customers(&customers);
            if list.is_empty() {
                return Err(AppError::validation(
                    "customers",
                    "Give at least one customer id or source id.",
                ));
            }
            let entered = ports()?.segments.add_members(&id, &list).await?;
            redirect_form_post(&format!("/segments/{id}?added={entered}"));
            Ok(entered)
        }
        .await,
    )
}

#[server(endpoint = "remove_segment_member")]
pub async fn remove_segment_member(id: String, customer_id: String) -> Result<(), AppError> {
    use super::context::*;
    respond(
        async {
            require_user()?;
            ports()?.segments.remove_member(&id, &customer_id).await?;
            redirect_form_post(&format!("/segments/{id}"));
            Ok(())
        }
        .await,
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn pasted_lists_split_on_commas_spaces_and_lines() {
        assert_eq!(
            super::split_customers("a, b;c\n d\t\te ,,"),
            vec!["a", "b", "c", "d", "e"]
        );
    }
}
