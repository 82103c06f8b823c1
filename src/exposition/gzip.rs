//! gzip for the metrics endpoint, by ISA-L's level 1 ([`super::deflate`]): the text of
//! a large cluster compresses about ten to one, and compressing it is the largest
//! single cost of a scrape.
//!
//! An exposition is written in parts (the pod CPU family, then everything else), each
//! on its own thread and compressed as it is written, so that a scrape uses two cores.
//! Each part is a raw deflate stream ending on a byte boundary (a sync flush), the last
//! one closed as final; joined, they are one deflate stream, and with one header and
//! the parts' checksums combined, one ordinary gzip member that any reader accepts.

use bytes::Bytes;

use super::deflate::RawDeflate;
use crate::spare_buffers::SpareBuffers;

/// One part of an exposition: writes its text, a chunk at a time, to the sink given.
/// The sink reads the chunk or takes it; the part clears it and writes on.
pub type Part<'a> = Box<dyn FnOnce(&mut dyn FnMut(&mut Vec<u8>)) + Send + 'a>;

/// The fixed gzip header: deflate, no name or comment, no time, unknown OS.
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

/// The buffers of compressed expositions, kept from one reading for the next
/// ([`SpareBuffers`]): each part's deflate output by the part's place, and the body.
pub type SpareGzip = SpareBuffers<GzipBuffer, u8>;

/// What a buffer of [`SpareGzip`] holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GzipBuffer {
    /// The deflate output of the part at this place.
    Part(usize),
    /// A whole gzip body.
    Body,
}

/// What one part became: its deflate bytes, and the checksum and length of its text.
struct Compressed {
    deflate: Vec<u8>,
    crc: crc32fast::Hasher,
    length: u64,
}

/// Writes `parts` (all but the last on threads of their own) and returns their text,
/// in order, as one gzip member; in buffers from `spare` where it has them, the parts'
/// going back to it.
pub fn compressed_in_parts(parts: Vec<Part<'_>>, spare: &SpareGzip) -> Bytes {
    let count = parts.len();
    let compressed: Vec<Compressed> = std::thread::scope(|scope| {
        let mut parts = parts.into_iter().enumerate();
        let last = parts.next_back();
        let others: Vec<_> = parts
            .map(|(place, part)| {
                let out = spare.take(&GzipBuffer::Part(place), 0);
                scope.spawn(move || compress(part, false, out))
            })
            .collect();
        let last = last.map(|(place, part)| {
            let out = spare.take(&GzipBuffer::Part(place), 0);
            compress(part, place + 1 == count, out)
        });
        others
            .into_iter()
            .map(|thread| match thread.join() {
                Ok(compressed) => compressed,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .chain(last)
            .collect()
    });
    let mut out = spare.take(
        &GzipBuffer::Body,
        HEADER.len() + compressed.iter().map(|c| c.deflate.len()).sum::<usize>() + 8,
    );
    out.extend_from_slice(&HEADER);
    let mut crc = crc32fast::Hasher::new();
    let mut length = 0u64;
    for (place, part) in compressed.into_iter().enumerate() {
        out.extend_from_slice(&part.deflate);
        crc.combine(&part.crc);
        length += part.length;
        spare.keep(GzipBuffer::Part(place), part.deflate);
    }
    if count == 0 {
        // An empty deflate stream: one final, empty fixed block.
        out.extend_from_slice(&[3, 0]);
    }
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    // The length modulo 2^32, as gzip's trailer has it.
    out.extend_from_slice(&(length as u32).to_le_bytes());
    Bytes::from(out)
}

/// Runs one part through its own deflate stream, into `out`: closed as final when
/// `last`, else ended with a sync flush so that the next part's stream can follow it.
fn compress(part: Part<'_>, last: bool, out: Vec<u8>) -> Compressed {
    let mut encoder = RawDeflate::writing_into(out);
    let mut crc = crc32fast::Hasher::new();
    let mut length = 0u64;
    part(&mut |chunk: &mut Vec<u8>| {
        crc.update(chunk);
        length += chunk.len() as u64;
        encoder.write(chunk);
    });
    Compressed {
        deflate: encoder.finish(last),
        crc,
        length,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gunzip(compressed: &[u8]) -> Vec<u8> {
        let mut text = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(compressed), &mut text)
            .unwrap();
        text
    }

    fn part(lines: usize, word: &'static str) -> Part<'static> {
        Box::new(move |sink| {
            for chunk in 0..lines / 1000 {
                sink(&mut format!("{word} {chunk}\n").repeat(1000).into_bytes());
            }
        })
    }

    #[test]
    fn parts_make_one_gzip_member_in_order() {
        let compressed = compressed_in_parts(
            vec![
                part(50_000, "cpu"),
                part(20_000, "memory"),
                part(3_000, "x"),
            ],
            &SpareGzip::default(),
        );
        let mut expected = Vec::new();
        for (lines, word) in [(50_000, "cpu"), (20_000, "memory"), (3_000, "x")] {
            for chunk in 0..lines / 1000 {
                expected.extend(format!("{word} {chunk}\n").repeat(1000).into_bytes());
            }
        }
        assert_eq!(gunzip(&compressed), expected);
        assert!(compressed.len() < expected.len() / 10);
        // One member: the trailer's length is the whole text's.
        let length = u32::from_le_bytes(compressed[compressed.len() - 4..].try_into().unwrap());
        assert_eq!(length as usize, expected.len());
    }

    /// About `bytes` of hexadecimal noise, which deflate cannot make much smaller.
    fn noise(bytes: usize, seed: u64) -> Part<'static> {
        Box::new(move |sink| {
            let mut state = seed | 1;
            let mut chunk = Vec::new();
            for _ in 0..bytes / 64 {
                for _ in 0..4 {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    chunk.extend(format!("{state:016x}").bytes());
                }
                if chunk.len() >= 64 * 1024 {
                    sink(&mut chunk);
                    chunk.clear();
                }
            }
            sink(&mut chunk);
        })
    }

    #[test]
    fn buffers_kept_from_one_body_serve_the_next() {
        let spare = SpareGzip::default();
        let parts = || vec![noise(4 << 20, 1), noise(4 << 20, 2)];
        let first = compressed_in_parts(parts(), &spare);
        assert_eq!(spare.len(), 2, "both parts' outputs are kept");
        let (address, text) = (first.as_ptr(), gunzip(&first));
        assert_eq!(text.len(), 2 * (4 << 20));
        spare.keep_bytes(GzipBuffer::Body, first);
        assert_eq!(spare.len(), 3);

        let second = compressed_in_parts(parts(), &spare);
        assert_eq!(second.as_ptr(), address, "written into the kept body");
        assert_eq!(gunzip(&second), text);
        let sending = second.clone();
        spare.keep_bytes(GzipBuffer::Body, second);
        assert_eq!(spare.len(), 2, "a body still being sent is not kept");
        assert_eq!(gunzip(&sending), text);
    }

    #[test]
    fn empty_parts_and_no_parts_are_valid_streams() {
        assert!(gunzip(&compressed_in_parts(
            vec![part(0, "a"), part(0, "b")],
            &SpareGzip::default()
        ))
        .is_empty());
        assert!(gunzip(&compressed_in_parts(Vec::new(), &SpareGzip::default())).is_empty());
    }
}
