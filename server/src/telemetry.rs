use tracing_subscriber::{fmt, EnvFilter};

/// Structured logs to stderr, filtered by `CODECAST_LOG`.
pub fn init(filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = fmt().with_env_filter(filter).with_target(false).try_init();
}
