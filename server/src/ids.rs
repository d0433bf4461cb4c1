//! Public identifiers: a type prefix and a ULID, so ids sort by creation time (which is
//! what `starting_after` pagination walks) and say what they name.

pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", ulid::Ulid::new().to_string().to_lowercase())
}

/// Milliseconds since the Unix epoch: the one time format stored in the database.
pub fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A message's public id: `msg_` and its number in the delivery queue.
pub fn message_id(n: i64) -> String {
    format!("msg_{n}")
}

/// Reads a message id (`msg_42`; the bare number is accepted too).
pub fn parse_message_id(id: &str) -> Option<i64> {
    id.strip_prefix("msg_")
        .unwrap_or(id)
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn message_ids_round_trip_and_refuse_anything_else() {
        assert_eq!(super::message_id(42), "msg_42");
        assert_eq!(super::parse_message_id("msg_42"), Some(42));
        assert_eq!(super::parse_message_id("42"), Some(42));
        for bad in ["msg_", "msg_x", "abc", "msg_-1", "0", ""] {
            assert_eq!(super::parse_message_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn ids_carry_their_prefix_and_sort_by_creation() {
        let a = super::new_id("usr");
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = super::new_id("usr");
        assert!(a.starts_with("usr_") && a.len() == 30);
        assert!(a < b);
    }
}
