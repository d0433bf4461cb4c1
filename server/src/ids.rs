//! Public identifiers: a type prefix and a ULID, so ids sort by creation time (which is
//! what `starting_after` pagination walks) and say what they name.

pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", ulid::Ulid::new().to_string().to_lowercase())
}

/// Milliseconds since the Unix epoch: the one time format stored in the database.
pub fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_carry_their_prefix_and_sort_by_creation() {
        let a = super::new_id("usr");
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = super::new_id("usr");
        assert!(a.starts_with("usr_") && a.len() == 30);
        assert!(a < b);
    }
}
