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

/// One part of an exposition: writes its text, a chunk at a time, to the sink given.
/// The sink reads the chunk or takes it; the part clears it and writes on.
pub type Part<'a> = Box<dyn FnOnce(&mut dyn FnMut(&mut Vec<u8>)) + Send + 'a>;

/// The fixed gzip header: deflate, no name or comment, no time, unknown OS.
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

/// What one part became: its deflate bytes, and the checksum and length of its text.
struct Compressed {
    deflate: Vec<u8>,
    crc: crc32fast::Hasher,
    length: u64,
}

/// Writes `parts` (all but the last on threads of their own) and returns their text,
/// in order, as one gzip member.
pub fn compressed_in_parts(parts: Vec<Part<'_>>) -> Bytes {
    let count = parts.len();
    let compressed: Vec<Compressed> = std::thread::scope(|scope| {
        let mut parts = parts.into_iter().enumerate();
        let last = parts.next_back();
        let others: Vec<_> = parts
            .map(|(_, part)| scope.spawn(move || compress(part, false)))
            .collect();
        let last = last.map(|(index, part)| compress(part, index + 1 == count));
        others
            .into_iter()
            .map(|thread| match thread.join() {
                Ok(compressed) => compressed,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .chain(last)
            .collect()
    });
    let mut out = Vec::with_capacity(
        HEADER.len() + compressed.iter().map(|c| c.deflate.len()).sum::<usize>() + 8,
    );
    out.extend_from_slice(&HEADER);
    let mut crc = crc32fast::Hasher::new();
    let mut length = 0u64;
    for part in &compressed {
        out.extend_from_slice(&part.deflate);
        crc.combine(&part.crc);
        length += part.length;
    }
    if compressed.is_empty() {
        // An empty deflate stream: one final, empty fixed block.
        out.extend_from_slice(&[3, 0]);
    }
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    // The length modulo 2^32, as gzip's trailer has it.
    out.extend_from_slice(&(length as u32).to_le_bytes());
    Bytes::from(out)
}

/// Runs one part through its own deflate stream: closed as final when `last`, else
/// ended with a sync flush so that the next part's stream can follow it.
fn compress(part: Part<'_>, last: bool) -> Compressed {
    let mut encoder = RawDeflate::new();
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
        let compressed = compressed_in_parts(vec![
            part(50_000, "cpu"),
            part(20_000, "memory"),
            part(3_000, "x"),
        ]);
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

    #[test]
    fn empty_parts_and_no_parts_are_valid_streams() {
        assert!(gunzip(&compressed_in_parts(vec![part(0, "a"), part(0, "b")])).is_empty());
        assert!(gunzip(&compressed_in_parts(Vec::new())).is_empty());
    }
}
