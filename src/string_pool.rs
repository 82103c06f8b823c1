//! Shared strings: one allocation per distinct namespace, node or container name,
//! however many pods and series carry it.
//!
//! Also the hasher of the exporter's hot maps (the pod index, the join): foldhash,
//! several times faster than the standard SipHash on short names, and still seeded
//! at random per process.

use std::sync::Arc;

pub use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

#[derive(Debug, Default)]
pub struct StringPool {
    strings: HashSet<Arc<str>>,
}

impl StringPool {
    /// The pooled copy of `text`, added on first sight.
    pub fn get(&mut self, text: &str) -> Arc<str> {
        if let Some(known) = self.strings.get(text) {
            return known.clone();
        }
        let shared: Arc<str> = Arc::from(text);
        self.strings.insert(shared.clone());
        shared
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_strings_share_one_allocation() {
        let mut pool = StringPool::default();
        let a = pool.get("node-1");
        let b = pool.get(&String::from("node-1"));
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &pool.get("node-2")));
    }
}
