//! Raw deflate streams: by Intel's ISA-L (igzip) at its level 1 with the default
//! `isal` feature, else by zlib-rs at its level 1 (pure Rust, for builds without nasm
//! and the autotools: `cargo build --no-default-features`, and the fuzz targets, whose
//! sanitizer flags ISA-L's static build does not take).
//!
//! On exposition text ISA-L's level 1 takes half the CPU of zlib-rs' level 1 and its
//! output is a quarter smaller (BENCHMARKS.md has the measurement): it finds matches
//! with vector instructions chosen for the CPU it runs on, and writes each block with
//! Huffman codes built for it. Compressing is the largest single cost of a cold scrape;
//! ISA-L is called through its C interface here and nowhere else.

#[cfg(feature = "isal")]
pub use by_isal::RawDeflate;
#[cfg(not(feature = "isal"))]
pub use by_zlib::RawDeflate;

#[cfg(feature = "isal")]
mod by_isal {
    use std::alloc::{alloc_zeroed, handle_alloc_error, Layout};

    use isal_sys::igzip_lib as isal;

    /// Output is written into spare room of at least this many bytes.
    const OUT_ROOM: usize = 64 * 1024;

    /// One raw deflate stream (no gzip or zlib wrapper), written a chunk at a time and
    /// ended either as the final part of a stream or on a byte boundary, so that another
    /// stream's blocks can follow it.
    pub struct RawDeflate {
        /// ISA-L's state: 80 KiB, with its history inline, so on the heap.
        stream: Box<isal::isal_zstream>,
        /// The match-finding tables of level 1, which `stream` points into: owned here so
        /// that they live as long as it does, and never moved (a boxed slice).
        _level_buf: Box<[u8]>,
        out: Vec<u8>,
    }

    impl Default for RawDeflate {
        fn default() -> Self {
            Self::new()
        }
    }

    impl RawDeflate {
        pub fn new() -> Self {
            Self::writing_into(Vec::new())
        }

        /// A stream whose bytes are appended to `out` (a buffer kept from an earlier
        /// stream, so that its pages are not faulted in again).
        pub fn writing_into(out: Vec<u8>) -> Self {
            let layout = Layout::new::<isal::isal_zstream>();
            // SAFETY: the layout is the stream's own (not zero-sized); all-zero bytes are a
            // valid isal_zstream (integers, arrays of integers and null pointers), and the
            // allocation is handed to a Box with that same layout.
            let mut stream = unsafe {
                let pointer = alloc_zeroed(layout).cast::<isal::isal_zstream>();
                if pointer.is_null() {
                    handle_alloc_error(layout);
                }
                Box::from_raw(pointer)
            };
            // SAFETY: `stream` is a valid, exclusively borrowed isal_zstream.
            unsafe { isal::isal_deflate_init(&mut *stream) };
            let mut level_buf = vec![0u8; isal::ISAL_DEF_LVL1_DEFAULT as usize].into_boxed_slice();
            stream.level = 1;
            stream.level_buf = level_buf.as_mut_ptr();
            stream.level_buf_size = level_buf.len() as u32;
            stream.gzip_flag = isal::IGZIP_DEFLATE as u16;
            stream.flush = isal::NO_FLUSH as u16;
            stream.end_of_stream = 0;
            RawDeflate {
                stream,
                _level_buf: level_buf,
                out,
            }
        }

        /// Compresses `text` onto the stream.
        pub fn write(&mut self, text: &[u8]) {
            for piece in text.chunks(u32::MAX as usize) {
                self.run(piece);
            }
        }

        /// Ends the stream and returns its bytes: as the final part of a deflate stream
        /// when `last`, else with a sync flush (the blocks so far, then an empty stored
        /// block, which ends on a byte boundary) and not marked final.
        pub fn finish(mut self, last: bool) -> Vec<u8> {
            self.stream.flush = isal::SYNC_FLUSH as u16;
            self.stream.end_of_stream = u16::from(last);
            self.run(&[]);
            if last {
                debug_assert_eq!(
                    self.stream.internal_state.state,
                    isal::isal_zstate_state_ZSTATE_END
                );
            }
            self.out
        }

        /// Feeds `input` to ISA-L until it has taken all of it and had room to say all it
        /// has to say: a call that returns with output room left over has written all it
        /// could (the header's words: "the function returns when either the input buffer
        /// is empty or the output buffer is full").
        fn run(&mut self, input: &[u8]) {
            self.stream.next_in = input.as_ptr().cast_mut();
            self.stream.avail_in = input.len() as u32;
            loop {
                self.out.reserve(OUT_ROOM.max(input.len() / 2));
                let room = self.out.spare_capacity_mut();
                let room_len = room.len().min(u32::MAX as usize);
                self.stream.next_out = room.as_mut_ptr().cast::<u8>();
                self.stream.avail_out = room_len as u32;
                // SAFETY: next_in/avail_in describe `input`, which ISA-L only reads, and
                // next_out/avail_out the vector's spare capacity; level_buf is alive in
                // `self`. ISA-L writes at most avail_out bytes and reports what it did not.
                let code = unsafe { isal::isal_deflate(&mut *self.stream) };
                clear_vector_upper_halves();
                assert_eq!(code, isal::COMP_OK as i32, "isal_deflate failed");
                let written = room_len - self.stream.avail_out as usize;
                // SAFETY: ISA-L initialised the first `written` bytes of the spare capacity.
                unsafe { self.out.set_len(self.out.len() + written) };
                if self.stream.avail_in == 0 && self.stream.avail_out > 0 {
                    break;
                }
            }
            // The input is borrowed for this call only.
            self.stream.next_in = std::ptr::null_mut();
        }
    }

    /// `vzeroupper`, after each call into ISA-L: its vector code can return with the upper
    /// halves of the vector registers dirty, and until they are cleared every SSE
    /// instruction of the Rust code that runs next on the thread (float formatting, the
    /// copies of label text) pays for them. Measured at 150,000 pods: without this, writing
    /// the text took longer than ISA-L saved (a cold scrape's rendering 195 against 175 ms
    /// with zlib-rs); with it, 115 ms.
    #[inline]
    fn clear_vector_upper_halves() {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: the CPU has AVX; vzeroupper only zeroes the registers' upper halves,
            // which no Rust code here keeps anything in across this call.
            unsafe { std::arch::asm!("vzeroupper") };
        }
    }
}

/// The same stream by zlib-rs, through flate2 (built for the tests too, which hold
/// both to the same properties).
#[cfg(any(test, not(feature = "isal")))]
mod by_zlib {
    use std::io::Write as _;

    use flate2::write::DeflateEncoder;
    use flate2::Compression;

    /// One raw deflate stream, written a chunk at a time and ended either as the final
    /// part of a stream or on a byte boundary (a sync flush).
    pub struct RawDeflate(DeflateEncoder<Vec<u8>>);

    impl Default for RawDeflate {
        fn default() -> Self {
            Self::new()
        }
    }

    impl RawDeflate {
        pub fn new() -> Self {
            Self::writing_into(Vec::new())
        }

        /// A stream whose bytes are appended to `out`.
        pub fn writing_into(out: Vec<u8>) -> Self {
            RawDeflate(DeflateEncoder::new(out, Compression::fast()))
        }

        /// Compresses `text` onto the stream.
        pub fn write(&mut self, text: &[u8]) {
            self.0.write_all(text).expect("compressing to memory");
        }

        /// Ends the stream and returns its bytes: final when `last`, else sync-flushed.
        pub fn finish(mut self, last: bool) -> Vec<u8> {
            if last {
                return self.0.finish().expect("compressing to memory");
            }
            self.0.flush().expect("compressing to memory");
            std::mem::take(self.0.get_mut())
        }
    }
}

#[cfg(test)]
mod tests {
    fn inflate(deflate: &[u8]) -> Vec<u8> {
        let mut text = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::DeflateDecoder::new(deflate), &mut text)
            .unwrap();
        text
    }

    fn text(lines: usize) -> Vec<u8> {
        (0..lines)
            .map(|line| format!("series{{pod=\"pod-{}\"}} {}\n", line % 977, line * 7))
            .collect::<String>()
            .into_bytes()
    }

    /// The properties every backend's stream must have, as tests of `$deflate`.
    macro_rules! stream_tests {
        ($backend:ident, $deflate:ty) => {
            mod $backend {
                use super::{inflate, text};

                #[test]
                fn a_stream_of_many_chunks_inflates_to_its_text() {
                    let text = text(200_000);
                    let mut deflate = <$deflate>::new();
                    for chunk in text.chunks(100_003) {
                        deflate.write(chunk);
                    }
                    let compressed = deflate.finish(true);
                    assert!(compressed.len() < text.len() / 3, "{}", compressed.len());
                    assert_eq!(inflate(&compressed), text);
                }

                #[test]
                fn a_sync_flushed_stream_is_followed_by_the_next() {
                    let (first, second) = (text(30_000), text(7));
                    let mut one = <$deflate>::new();
                    one.write(&first);
                    let mut joined = one.finish(false);
                    // Byte-aligned by an empty stored block, and not final: an
                    // inflater that reads only it runs out of input.
                    assert!(joined.ends_with(&[0, 0, 0xff, 0xff]));
                    assert!(std::io::Read::read_to_end(
                        &mut flate2::read::DeflateDecoder::new(&joined[..]),
                        &mut Vec::new()
                    )
                    .is_err());
                    let mut two = <$deflate>::new();
                    two.write(&second);
                    joined.extend(two.finish(true));
                    assert_eq!(inflate(&joined), [first, second].concat());
                }

                #[test]
                fn a_stream_written_into_a_buffer_follows_what_it_holds() {
                    let text = text(1_000);
                    let mut buffer = Vec::with_capacity(1 << 20);
                    buffer.extend_from_slice(b"header");
                    let address = buffer.as_ptr();
                    let mut deflate = <$deflate>::writing_into(buffer);
                    deflate.write(&text);
                    let written = deflate.finish(true);
                    assert_eq!(written.as_ptr(), address, "the same buffer");
                    assert_eq!(&written[..6], b"header");
                    assert_eq!(inflate(&written[6..]), text);
                }

                #[test]
                fn empty_streams_are_valid() {
                    assert!(inflate(&<$deflate>::new().finish(true)).is_empty());
                    let mut joined = <$deflate>::new().finish(false);
                    joined.extend(<$deflate>::new().finish(true));
                    assert!(inflate(&joined).is_empty());
                }
            }
        };
    }

    #[cfg(feature = "isal")]
    stream_tests!(isal, super::super::by_isal::RawDeflate);
    stream_tests!(zlib, super::super::by_zlib::RawDeflate);
}
