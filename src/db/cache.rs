//! Short-lived copies, in this process, of what every public request reads: a page by its
//! slug and its counter, and the targets a page's letters go to, by key. A burst of
//! visitors then costs no database round trip per request for them.
//!
//! Freshness: what this process writes (a page saved, an action counted, a target edited)
//! empties the copies at once, so its own visitors never see an older state than its own
//! writes. What other processes write (another app node, a command-line import) shows
//! within the time-to-live: a second for pages and targets, half a second for counters.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::db::counters::PageCounter;
use crate::db::pages::Page;
use crate::db::targets::Target;

pub const PAGE_TTL: Duration = Duration::from_secs(1);
pub const COUNTER_TTL: Duration = Duration::from_millis(500);
pub const TARGET_TTL: Duration = Duration::from_secs(1);
/// Requests for slugs that do not exist are remembered too; this bounds how many.
const MAX_ENTRIES: usize = 10_000;

/// Values cached under a slug (or a target's key), each with when it was read.
struct Shelf<T> {
    ttl: Duration,
    entries: RwLock<HashMap<String, (Instant, T)>>,
    /// Bumped by every local write: a value read before a write is not stored after it.
    epoch: AtomicU64,
}

impl<T: Clone> Shelf<T> {
    fn new(ttl: Duration) -> Self {
        Self { ttl, entries: RwLock::new(HashMap::new()), epoch: AtomicU64::new(0) }
    }

    fn get(&self, slug: &str) -> Option<T> {
        let entries = self.entries.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.get(slug).filter(|(read_at, _)| read_at.elapsed() < self.ttl).map(|(_, value)| value.clone())
    }

    fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Keeps `value`, read at `epoch`, unless a write happened since.
    fn put(&self, slug: &str, epoch: u64, read_at: Instant, value: T) {
        let mut entries = self.entries.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        if self.epoch() != epoch {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(slug.to_string(), (read_at, value));
    }

    fn clear(&self) {
        let mut entries = self.entries.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        self.epoch.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }
}

pub(crate) struct ReadCache {
    pages: Shelf<Option<Arc<Page>>>,
    counters: Shelf<Option<PageCounter>>,
    targets: Shelf<Option<Target>>,
}

impl Default for ReadCache {
    fn default() -> Self {
        Self { pages: Shelf::new(PAGE_TTL), counters: Shelf::new(COUNTER_TTL), targets: Shelf::new(TARGET_TTL) }
    }
}

/// A ticket for storing what is about to be read from the database.
pub(crate) struct Ticket {
    epoch: u64,
    read_at: Instant,
}

impl ReadCache {
    pub fn page(&self, slug: &str) -> Option<Option<Arc<Page>>> {
        self.pages.get(slug)
    }

    pub fn page_ticket(&self) -> Ticket {
        Ticket { epoch: self.pages.epoch(), read_at: Instant::now() }
    }

    pub fn put_page(&self, slug: &str, ticket: Ticket, page: Option<Arc<Page>>) {
        self.pages.put(slug, ticket.epoch, ticket.read_at, page);
    }

    pub fn counter(&self, slug: &str) -> Option<Option<PageCounter>> {
        self.counters.get(slug)
    }

    pub fn counter_ticket(&self) -> Ticket {
        Ticket { epoch: self.counters.epoch(), read_at: Instant::now() }
    }

    pub fn put_counter(&self, slug: &str, ticket: Ticket, counter: Option<PageCounter>) {
        self.counters.put(slug, ticket.epoch, ticket.read_at, counter);
    }

    pub fn target(&self, key: &str) -> Option<Option<Target>> {
        self.targets.get(key)
    }

    pub fn target_ticket(&self) -> Ticket {
        Ticket { epoch: self.targets.epoch(), read_at: Instant::now() }
    }

    pub fn put_target(&self, key: &str, ticket: Ticket, target: Option<Target>) {
        self.targets.put(key, ticket.epoch, ticket.read_at, target);
    }

    /// A target was created, changed or removed here.
    pub fn targets_changed(&self) {
        self.targets.clear();
    }

    /// A page or campaign changed here: its page and its counter (offset, goal, scope).
    pub fn pages_changed(&self) {
        self.pages.clear();
        self.counters.clear();
    }

    /// An action was counted or uncounted here.
    pub fn counts_changed(&self) {
        self.counters.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_read_before_a_local_write_is_not_kept() {
        let shelf: Shelf<i64> = Shelf::new(Duration::from_secs(60));
        let epoch = shelf.epoch();
        shelf.clear();
        shelf.put("a", epoch, Instant::now(), 1);
        assert_eq!(shelf.get("a"), None);
        shelf.put("a", shelf.epoch(), Instant::now(), 2);
        assert_eq!(shelf.get("a"), Some(2));
        shelf.clear();
        assert_eq!(shelf.get("a"), None);
    }

    #[test]
    fn values_expire() {
        let shelf: Shelf<i64> = Shelf::new(Duration::from_millis(100));
        shelf.put("a", shelf.epoch(), Instant::now() - Duration::from_millis(150), 1);
        assert_eq!(shelf.get("a"), None);
        shelf.put("a", shelf.epoch(), Instant::now(), 1);
        assert_eq!(shelf.get("a"), Some(1));
    }
}
