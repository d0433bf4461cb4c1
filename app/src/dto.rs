//! Wire types shared by server functions and the browser, one file per aggregate.

pub mod api_key;
pub mod campaign;
pub mod customer;
pub mod delivery;
pub mod distribution;
pub mod integration;
pub mod segment;
pub mod session;
pub mod user;

pub use api_key::{ApiKeyView, CreatedApiKey};
pub use campaign::{
    CampaignInput, CampaignView, Discount, PromotionTierInput, PromotionTierView, Publication,
    VoucherPage, VoucherView,
};
pub use customer::{
    ConsentChange, CustomerInput, CustomerOption, CustomerPage, CustomerView, EventView,
};
pub use delivery::{DeliveryView, SandboxMessage};
pub use distribution::{
    Audience, DistributionInput, DistributionStats, DistributionView, Exclusions, FailureGroup,
    MessageLine, MessagePage, Reminder, ReviewReport, SampleMessage, SendOutcome,
};
pub use integration::{IntegrationInput, IntegrationView, TestSendResult};
pub use segment::{CustomerSegment, SegmentInput, SegmentMember, SegmentView};
pub use session::{CurrentUser, SessionInfo};
pub use user::UserView;
