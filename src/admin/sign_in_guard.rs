//! Slows down password guessing: after too many failed sign-ins from one address, or
//! against one account, further attempts are refused for a while, whatever the password.
//! Kept in memory per node; a success clears the address's and the account's failures.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed per address and per account within one window.
pub const MAX_FAILURES: u32 = 10;
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
const MAX_TRACKED: usize = 50_000;

#[derive(Default)]
pub struct SignInGuard {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl SignInGuard {
    /// How long the caller must wait before trying again, if it must.
    pub fn blocked_for(&self, ip: Option<IpAddr>, email: &str) -> Option<Duration> {
        let failures = self.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        Self::keys(ip, email)
            .iter()
            .filter_map(|key| failures.get(key))
            .filter(|(count, since)| *count >= MAX_FAILURES && since.elapsed() < WINDOW)
            .map(|(_, since)| WINDOW.saturating_sub(since.elapsed()))
            .max()
    }

    pub fn record_failure(&self, ip: Option<IpAddr>, email: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if failures.len() > MAX_TRACKED {
            failures.retain(|_, (_, since)| since.elapsed() < WINDOW);
        }
        for key in Self::keys(ip, email) {
            let entry = failures.entry(key).or_insert((0, Instant::now()));
            if entry.1.elapsed() >= WINDOW {
                *entry = (0, Instant::now());
            }
            entry.0 += 1;
        }
    }

    pub fn record_success(&self, ip: Option<IpAddr>, email: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for key in Self::keys(ip, email) {
            failures.remove(&key);
        }
    }

    fn keys(ip: Option<IpAddr>, email: &str) -> Vec<String> {
        let mut keys = vec![format!("account:{}", email.trim().to_lowercase())];
        if let Some(ip) = ip {
            keys.push(format!("address:{ip}"));
        }
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_many_failures_block_the_address_and_the_account() {
        let guard = SignInGuard::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..MAX_FAILURES {
            assert!(guard.blocked_for(Some(ip), "a@example.org").is_none());
            guard.record_failure(Some(ip), "a@example.org");
        }
        assert!(guard.blocked_for(Some(ip), "other@example.org").is_some(), "the address is blocked");
        assert!(guard.blocked_for(None, "A@example.org").is_some(), "the account is blocked");
        guard.record_success(Some(ip), "a@example.org");
        assert!(guard.blocked_for(Some(ip), "a@example.org").is_none());
    }
}
