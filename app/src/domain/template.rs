//! Message templates with Liquid merge tags: `Hi {{ customer.first_name | default: "there" }}`.
//!
//! A small, purpose-built Liquid subset (output tags with filters, `{{-`/`-}}` whitespace
//! control) rather than a general Liquid engine: SMS bodies need no loops or includes, the
//! browser preview runs it on every keystroke inside the WASM bundle, and we want errors that
//! point at the exact character and say what was expected. The server renders sent messages
//! with this same code.

mod data;
mod parser;
mod render;

pub use data::{
    qr_url, sample_customers, sample_promotion, sample_voucher, CustomerData, DistributionData,
    PromotionData, SampleCustomer, TagChoice, TemplateData, VoucherData, DEFAULT_UNSUBSCRIBE_TEXT,
    QR_TOKEN_CHARS, TAGS,
};
pub use parser::{Filter, Span};
pub use render::render;

use serde::{Deserialize, Serialize};

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub(crate) nodes: Vec<parser::Node>,
}

/// Where and what went wrong; positions are 1-based lines and columns (in characters) and
/// 0-based character offsets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateError {
    pub message: String,
    /// What the parser would have accepted at this point.
    pub expected: Option<String>,
    pub line: usize,
    pub column: usize,
    pub start: usize,
    pub end: usize,
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

/// A variable the template uses that no message can fill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnknownTag {
    pub name: String,
    pub line: usize,
    pub column: usize,
}

impl Template {
    /// Parses `source`, reporting every malformed tag (not just the first).
    pub fn parse(source: &str) -> Result<Self, Vec<TemplateError>> {
        parser::parse(source).map(|nodes| Self { nodes })
    }

    /// Variables used (`customer.first_name`, …), in order, with where they appear.
    pub fn variables(&self) -> Vec<(&str, Span)> {
        self.nodes
            .iter()
            .flat_map(parser::Node::variables)
            .collect()
    }

    /// Used variables that are not part of the template data.
    pub fn unknown_tags(&self) -> Vec<UnknownTag> {
        self.variables()
            .into_iter()
            .filter(|(name, _)| !data::is_known_variable(name))
            .map(|(name, span)| UnknownTag {
                name: name.to_owned(),
                line: span.line,
                column: span.column,
            })
            .collect()
    }

    /// True when any tag refers to `variable` (e.g. `voucher.qr_url`).
    pub fn uses(&self, variable: &str) -> bool {
        self.variables().iter().any(|(name, _)| *name == variable)
    }
}

#[cfg(test)]
mod tests;
