//! Large buffers kept from one read for the next: the list body, the joined containers,
//! the gzip renderings.
//!
//! A buffer of a megabyte or more is mapped from the kernel when allocated and given
//! back when freed (the exporter's `main` sets glibc's mmap threshold, so that memory
//! between reads is not kept by chance). Each cold scrape would then write its list
//! body, its joined series and its compressed text into fresh pages, and every fresh
//! page costs a fault and the kernel's zeroing of it: at 150,000 pods some 15,000
//! faults a scrape, and on a virtual machine that hands free pages back to its host a
//! quarter of the scrape's CPU (BENCHMARKS.md). Kept here instead, the same pages serve
//! every read. They are held between reads, so the resident size between scrapes is
//! about the peak during one.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard};

/// The size from which glibc maps an allocation from the kernel, as `main` sets it;
/// smaller buffers are reused from the allocator's own free lists, and not kept here.
pub const MAPPED_BYTES: usize = 1 << 20;

/// Emptied buffers of `T`, one kept for each use (`K`: a list's path, a half of a
/// join), so that each use gets back its own, already the size it needs.
pub struct SpareBuffers<K, T> {
    kept: Mutex<HashMap<K, Vec<T>>>,
}

impl<K: Eq + Hash, T> Default for SpareBuffers<K, T> {
    fn default() -> Self {
        SpareBuffers {
            kept: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash, T> SpareBuffers<K, T> {
    fn kept(&self) -> MutexGuard<'_, HashMap<K, Vec<T>>> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An empty buffer with room for at least `capacity`: the one kept for `use_`,
    /// grown if need be, else a new one.
    pub fn take<Q>(&self, use_: &Q, capacity: usize) -> Vec<T>
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        let kept = self.kept().remove(use_);
        match kept {
            Some(mut buffer) => {
                buffer.reserve(capacity);
                buffer
            }
            None => Vec::with_capacity(capacity),
        }
    }

    /// Empties `buffer` and keeps it for the next [`take`](Self::take) for `use_`, in
    /// place of any kept for it, when it is large enough to be mapped from the kernel.
    pub fn keep(&self, use_: K, mut buffer: Vec<T>) {
        if buffer.capacity() * std::mem::size_of::<T>() < MAPPED_BYTES {
            return;
        }
        // Emptied before the lock is taken: dropping a large cluster's series takes
        // milliseconds.
        buffer.clear();
        let replaced = self.kept().insert(use_, buffer);
        drop(replaced);
    }

    /// How many buffers are kept.
    pub fn len(&self) -> usize {
        self.kept().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_buffer_is_taken_again_for_its_use_with_its_memory() {
        let spare = SpareBuffers::<&str, u64>::default();
        let mut buffer = spare.take(&"pods", 1 << 20);
        buffer.extend(0..1000);
        let address = buffer.as_ptr();
        spare.keep("pods", buffer);
        assert_eq!(spare.len(), 1);
        let other = spare.take(&"nodes", 10);
        assert_ne!(other.as_ptr(), address, "not another use's");
        let again = spare.take(&"pods", 1000);
        assert!(again.is_empty());
        assert_eq!(again.as_ptr(), address);
        assert!(spare.is_empty());
    }

    #[test]
    fn a_kept_buffer_too_small_is_grown() {
        let spare = SpareBuffers::<u8, u8>::default();
        spare.keep(0, Vec::with_capacity(2 << 20));
        assert!(spare.take(&0, 5 << 20).capacity() >= 5 << 20);
    }

    #[test]
    fn small_buffers_are_not_kept_and_one_is_kept_per_use() {
        let spare = SpareBuffers::<u8, u8>::default();
        spare.keep(0, Vec::with_capacity(MAPPED_BYTES - 1));
        assert!(spare.is_empty());
        spare.keep(0, Vec::with_capacity(2 << 20));
        spare.keep(0, Vec::with_capacity(3 << 20));
        spare.keep(1, Vec::with_capacity(MAPPED_BYTES));
        assert_eq!(spare.len(), 2);
        assert_eq!(spare.take(&0, 0).capacity(), 3 << 20, "the later one");
    }

    #[test]
    fn a_kept_buffer_is_emptied() {
        use std::sync::Arc;
        let item = Arc::new(());
        let spare = SpareBuffers::default();
        spare.keep((), vec![item.clone(); MAPPED_BYTES]);
        assert_eq!(Arc::strong_count(&item), 1, "the items were dropped");
        assert!(spare.take(&(), 1).is_empty());
    }
}
