use chrono::{DateTime, Utc};

/// A timestamp (ms since the epoch) as `2026-11-25 19:08 UTC`; the same text on server and
/// browser, so hydration matches.
pub fn format_timestamp(millis: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(millis)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "—".into())
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_render_in_utc() {
        assert_eq!(super::format_timestamp(0), "1970-01-01 00:00 UTC");
    }
}
