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

use bytes::Bytes;

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
    /// What it holds is taken as the size of its last use (see [`Self::keep_used`]).
    pub fn keep(&self, use_: K, buffer: Vec<T>) {
        let used = buffer.len();
        self.keep_used(use_, buffer, used);
    }

    /// [`keep`](Self::keep) for a buffer whose last use held `used` items (it may have
    /// been emptied already). One far larger than that use (a cluster that shrank, a
    /// list that failed) is shrunk to twice it, so that its pages go back to the kernel.
    pub fn keep_used(&self, use_: K, mut buffer: Vec<T>, used: usize) {
        let item = std::mem::size_of::<T>().max(1);
        if buffer.capacity() * item < MAPPED_BYTES {
            return;
        }
        // Emptied before the lock is taken: dropping a large cluster's series takes
        // milliseconds.
        buffer.clear();
        let room = used.saturating_mul(2).max(MAPPED_BYTES / item);
        if buffer.capacity() > room.saturating_mul(2) {
            buffer.shrink_to(room);
        }
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

impl<K: Eq + Hash> SpareBuffers<K, u8> {
    /// [`keep`](Self::keep) for bytes handed out as [`Bytes`] (a list body, a gzip
    /// body): kept only where nothing else still holds them (a response being sent).
    pub fn keep_bytes(&self, use_: K, bytes: Bytes) {
        if let Ok(buffer) = bytes.try_into_mut() {
            self.keep(use_, buffer.into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_buffer_is_taken_again_for_its_use_with_its_memory() {
        let spare = SpareBuffers::<&str, u64>::default();
        let mut buffer = spare.take(&"pods", 1 << 20);
        buffer.extend(0..1 << 19);
        let address = buffer.as_ptr();
        spare.keep("pods", buffer);
        assert_eq!(spare.len(), 1);
        let other = spare.take(&"nodes", 10);
        assert_ne!(other.as_ptr(), address, "not another use's");
        let again = spare.take(&"pods", 1 << 19);
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
        spare.keep(0, vec![0; 2 << 20]);
        spare.keep(0, vec![0; 3 << 20]);
        spare.keep(1, vec![0; MAPPED_BYTES]);
        assert_eq!(spare.len(), 2);
        assert_eq!(spare.take(&0, 0).capacity(), 3 << 20, "the later one");
    }

    #[test]
    fn a_buffer_far_larger_than_its_use_is_shrunk_to_twice_it() {
        let spare = SpareBuffers::<u8, u8>::default();
        let mut buffer = Vec::with_capacity(64 << 20);
        buffer.resize(3 << 20, 1);
        spare.keep(0, buffer);
        let kept = spare.take(&0, 0);
        assert!(
            kept.capacity() >= 6 << 20 && kept.capacity() < 12 << 20,
            "{}",
            kept.capacity()
        );
        // Used to a quarter of its room or more: kept as it is.
        spare.keep_used(1, Vec::with_capacity(16 << 20), 4 << 20);
        assert_eq!(spare.take(&1, 0).capacity(), 16 << 20);
        // Emptied before it was kept, with nothing used: shrunk, but to no less than
        // what is worth keeping.
        spare.keep_used(2, Vec::with_capacity(16 << 20), 0);
        assert!(spare.take(&2, 0).capacity() < 4 << 20);
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
