//! Limits password guessing: a few failures per address, more per client, within a window.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

pub const WINDOW: Duration = Duration::from_secs(15 * 60);
pub const MAX_FAILURES_PER_EMAIL: usize = 5;
pub const MAX_FAILURES_PER_CLIENT: usize = 20;
/// Entries kept before old ones are swept, so a flood of made-up addresses cannot grow memory.
const SWEEP_AT: usize = 10_000;

#[derive(Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, Vec<Instant>>>,
}

impl LoginThrottle {
    /// `Err(seconds)` until the caller may try again, when either key is over its limit.
    pub fn check(&self, email: &str, client: &str) -> Result<(), u64> {
        self.check_at(email, client, Instant::now())
    }

    pub fn record_failure(&self, email: &str, client: &str) {
        self.record_failure_at(email, client, Instant::now());
    }

    /// A successful sign-in clears the address's failures (not the client's).
    pub fn record_success(&self, email: &str) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(&email_key(email));
        }
    }

    fn check_at(&self, email: &str, client: &str, now: Instant) -> Result<(), u64> {
        let Ok(mut map) = self.failures.lock() else {
            return Ok(());
        };
        let mut wait = 0u64;
        for (key, max) in [
            (email_key(email), MAX_FAILURES_PER_EMAIL),
            (client_key(client), MAX_FAILURES_PER_CLIENT),
        ] {
            if let Some(times) = map.get_mut(&key) {
                times.retain(|t| now.duration_since(*t) < WINDOW);
                if times.len() >= max {
                    let oldest = times[times.len() - max];
                    let remaining = WINDOW.saturating_sub(now.duration_since(oldest));
                    wait = wait.max(remaining.as_secs().max(1));
                }
            }
        }
        if wait > 0 {
            Err(wait)
        } else {
            Ok(())
        }
    }

    fn record_failure_at(&self, email: &str, client: &str, now: Instant) {
        let Ok(mut map) = self.failures.lock() else {
            return;
        };
        if map.len() >= SWEEP_AT {
            map.retain(|_, times| {
                times
                    .last()
                    .is_some_and(|t| now.duration_since(*t) < WINDOW)
            });
        }
        for key in [email_key(email), client_key(client)] {
            map.entry(key).or_default().push(now);
        }
    }
}

fn email_key(email: &str) -> String {
    format!("email:{}", email.trim().to_lowercase())
}

fn client_key(client: &str) -> String {
    format!("client:{client}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sixth_guess_for_one_address_is_refused_until_the_window_passes() {
        let t = LoginThrottle::default();
        let start = Instant::now();
        for _ in 0..MAX_FAILURES_PER_EMAIL {
            assert!(t.check_at("a@x.io", "1.1.1.1", start).is_ok());
            t.record_failure_at("A@x.io", "1.1.1.1", start);
        }
        let wait = t.check_at("a@x.io", "2.2.2.2", start).unwrap_err();
        assert!(wait > 800 && wait <= 900, "{wait}");
        assert!(t.check_at("a@x.io", "2.2.2.2", start + WINDOW).is_ok());
    }

    #[test]
    fn one_client_guessing_many_addresses_is_refused() {
        let t = LoginThrottle::default();
        let now = Instant::now();
        for i in 0..MAX_FAILURES_PER_CLIENT {
            t.record_failure_at(&format!("u{i}@x.io"), "9.9.9.9", now);
        }
        assert!(t.check_at("new@x.io", "9.9.9.9", now).is_err());
        assert!(t.check_at("new@x.io", "8.8.8.8", now).is_ok());
    }

    #[test]
    fn success_clears_the_address() {
        let t = LoginThrottle::default();
        let now = Instant::now();
        for _ in 0..MAX_FAILURES_PER_EMAIL {
            t.record_failure_at("a@x.io", "1.1.1.1", now);
        }
        t.record_success("a@x.io");
        assert!(t.check_at("a@x.io", "3.3.3.3", now).is_ok());
    }
}
