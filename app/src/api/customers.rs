use crate::{
    dto::{ConsentChange, CustomerPage, CustomerSegment, CustomerView, EventView, VoucherView},
    error::AppError,
};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Customers shown per page in the UI.
pub const CUSTOMERS_PER_PAGE: u64 = 25;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerDetail {
    pub customer: CustomerView,
    pub consent_history: Vec<ConsentChange>,
    pub events: Vec<EventView>,
    pub default_country: String,
    pub segments: Vec<CustomerSegment>,
    pub codes: Vec<VoucherView>,
}

#[server(endpoint = "list_customers")]
pub async fn list_customers(
    query: String,
    after: Option<String>,
) -> Result<CustomerPage, AppError> {
    use super::context::*;
    use crate::ports::Page;
    respond(
        async {
            require_user()?;
            let page = Page {
                limit: CUSTOMERS_PER_PAGE,
                starting_after: after.filter(|a| !a.is_empty()),
            };
            let (items, has_more) = ports()?.customers.search(&query, page).await?;
            Ok(CustomerPage { items, has_more })
        }
        .await,
    )
}

#[server(endpoint = "get_customer_detail")]
pub async fn get_customer_detail(id: String) -> Result<CustomerDetail, AppError> {
    use super::context::*;
    respond(
        async {
            require_user()?;
            let ports = ports()?;
            let customer = ports.customers.get(&id).await?;
            let consent_history = ports.customers.consent_history(&customer.id).await?;
            let default_country = ports.customers.default_country().await?;
            let events = ports.customers.recent_events(&customer.id, 50).await?;
            let segments = ports.segments.of_customer(&customer.id).await?;
            let codes = ports.campaigns.of_customer(&customer.id).await?;
            Ok(CustomerDetail {
                customer,
                consent_history,
                events,
                default_country,
                segments,
                codes,
            })
        }
        .await,
    )
}

/// Creates (no `id`) or updates a customer from the form; answers with the saved customer.
#[allow(clippy::too_many_arguments)]
#[server(endpoint = "save_customer")]
pub async fn save_customer(
    id: Option<String>,
    source_id: String,
    name: String,
    email: String,
    phone: String,
    timezone: String,
    metadata: String,
    sms_consent: String,
) -> Result<CustomerView, AppError> {
    use super::context::*;
    use crate::dto::CustomerInput;
    respond(
        async {
            let user = require_user()?;
            let metadata = match metadata.trim() {
                "" => serde_json::Map::new(),
                text => match serde_json::from_str::<serde_json::Value>(text) {
                    Ok(serde_json::Value::Object(map)) => map,
                    Ok(_) => {
                        return Err(AppError::validation(
                            "metadata",
                            "Metadata must be a JSON object, like {\"tier\": \"gold\"}.",
                        ))
                    }
                    Err(e) => {
                        return Err(AppError::validation(
                            "metadata",
                            format!("This is not valid JSON: {e}."),
                        ))
                    }
                },
            };
            let input = CustomerInput {
                source_id: (!source_id.trim().is_empty()).then_some(source_id),
                name: Some(name),
                email: Some(email),
                phone: Some(phone),
                timezone: Some(timezone),
                metadata: Some(metadata),
                sms_consent: Some(sms_consent),
            };
            let customers = ports()?.customers;
            let actor = user.email.clone();
            let saved = match id.filter(|i| !i.is_empty()) {
                Some(id) => customers.update(&id, input, "ui", &actor).await?,
                None => customers.upsert(input, "ui", &actor).await?.0,
            };
            redirect_form_post(&format!("/customers/{}?saved=1", saved.id));
            Ok(saved)
        }
        .await,
    )
}

#[server(endpoint = "delete_customer")]
pub async fn delete_customer(id: String) -> Result<(), AppError> {
    use super::context::*;
    respond(
        async {
            require_user()?;
            ports()?.customers.delete(&id).await?;
            redirect_form_post("/customers");
            Ok(())
        }
        .await,
    )
}

/// The country national phone numbers are read in.
#[server(endpoint = "get_default_country")]
pub async fn get_default_country() -> Result<String, AppError> {
    use super::context::*;
    respond(
        async {
            require_user()?;
            ports()?.customers.default_country().await
        }
        .await,
    )
}

#[server(endpoint = "set_default_country")]
pub async fn set_default_country(country: String) -> Result<String, AppError> {
    use super::context::*;
    use crate::domain::Role;
    respond(
        async {
            require_role(Role::Admin)?;
            ports()?.customers.set_default_country(&country).await
        }
        .await,
    )
}
