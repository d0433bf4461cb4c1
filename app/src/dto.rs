//! Wire types shared by server functions and the browser, one file per aggregate.

pub mod api_key;
pub mod customer;
pub mod session;
pub mod user;

pub use api_key::{ApiKeyView, CreatedApiKey};
pub use customer::{
    ConsentChange, CustomerInput, CustomerOption, CustomerPage, CustomerView, EventView,
};
pub use session::{CurrentUser, SessionInfo};
pub use user::UserView;
