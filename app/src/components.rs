//! Presentational pieces: they render what they are given and own no data.

pub mod brand;
pub mod csv_import;
pub mod empty_state;
pub mod form;
pub mod navigation;
pub mod rule_builder;
pub mod template_editor;
pub mod time;
