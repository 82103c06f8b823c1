//! The list body a cold scrape reads, asked to be backed by transparent huge pages.
//!
//! The body (27 MB in protobuf at 150,000 pods) is read into one buffer sized from its
//! Content-Length. A 2 MiB page takes one fault where 4 KiB pages take 512: the read
//! of that body took 28 to 35 ms against 38 to 40 without the advice (A/B, debug log's
//! `read_seconds`), with the same peak RSS, when each read filled a new buffer. Now the
//! buffer is kept from read to read (`spare_buffers`), so the advice pays on
//! the first read and wherever the body outgrows its buffer, and the huge pages save
//! TLB misses on every read. The joined containers were tried too, and left out: that
//! buffer grows past its first guess, and advised it cost 10 to 20 MiB of peak RSS for
//! no gain measurable above the machine's noise. Where the kernel has transparent huge
//! pages off (`never`), the advice does nothing.

/// The size of a transparent huge page on x86-64 and (with 4 KiB pages) arm64.
const HUGE_PAGE: usize = 2 * 1024 * 1024;

/// Advises the kernel to back `buffer`'s whole capacity with huge pages where it can
/// (the 2 MiB-aligned part of it); best done before the buffer is written. Returns
/// whether any of it was advised: not a buffer under two huge pages, nor where the
/// kernel refuses.
pub fn advise<T>(buffer: &mut Vec<T>) -> bool {
    let bytes = buffer.capacity() * std::mem::size_of::<T>();
    if bytes < 2 * HUGE_PAGE {
        return false;
    }
    let start = buffer.as_mut_ptr() as usize;
    let first = start.next_multiple_of(HUGE_PAGE);
    let end = (start + bytes) / HUGE_PAGE * HUGE_PAGE;
    if end <= first {
        return false;
    }
    // SAFETY: [first, end) lies within the buffer's allocation, which this exclusive
    // borrow keeps alive; MADV_HUGEPAGE changes how the kernel backs the range, never
    // what it holds.
    unsafe { libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_buffer_is_advised_and_keeps_what_it_holds() {
        let mut buffer: Vec<u64> = (0..1_000_000).collect();
        buffer.reserve(1_000_000);
        assert!(advise(&mut buffer));
        buffer.extend(1_000_000..2_000_000);
        assert!(buffer.iter().enumerate().all(|(i, &v)| v == i as u64));
    }

    #[test]
    fn a_small_buffer_is_left_alone() {
        let mut buffer = vec![7u8; 3 * 1024 * 1024];
        assert!(!advise(&mut buffer));
        assert!(!advise(&mut Vec::<u8>::new()));
        assert!(buffer.iter().all(|&b| b == 7));
    }
}
