//! Kubernetes-looking identifiers derived from numbers: UIDs, the five-character suffixes
//! of generated pod names, and pod-template hashes. Equal numbers give equal identifiers,
//! so nothing here is stored.

use std::fmt;

use super::rng::mix;

/// The characters Kubernetes uses in generated names (no vowels, no look-alikes).
const ALPHABET: &[u8; 27] = b"bcdfghjklmnpqrstvwxz2456789";
const SUFFIX_SPACE: u64 = 27 * 27 * 27 * 27 * 27;

/// A UUID-shaped UID derived from a number.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Uid(pub u64);

impl fmt::Display for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let high = mix(self.0 ^ 0x005E_ED0F_u64);
        let low = mix(high ^ self.0);
        write!(
            f,
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            high >> 32,
            (high >> 16) & 0xffff,
            high & 0x0fff,
            0x8000 | ((low >> 48) & 0x3fff),
            low & 0xffff_ffff_ffff
        )
    }
}

/// A five-character suffix such as "x7k2p"; distinct for serials less than 27⁵ apart.
pub(crate) fn name_suffix(serial: u64) -> String {
    // An affine map with a multiplier coprime to 27 is a bijection on 0..27⁵, so distinct
    // serials get distinct, random-looking suffixes.
    let scrambled = ((serial % SUFFIX_SPACE) * 7_654_321 + 1_234_567) % SUFFIX_SPACE;
    spell(scrambled, 5)
}

/// A ten-character pod-template hash such as "7d9f8b6c5d".
pub(crate) fn template_hash(seed: u64) -> String {
    spell(mix(seed), 10)
}

fn spell(mut value: u64, length: usize) -> String {
    (0..length)
        .map(|_| {
            let c = ALPHABET[(value % 27) as usize] as char;
            value /= 27;
            c
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn uids_look_like_uuids() {
        let uid = Uid(42).to_string();
        assert_eq!(uid.len(), 36);
        assert_eq!(uid.matches('-').count(), 4);
        assert_ne!(uid, Uid(43).to_string());
    }

    #[test]
    fn suffixes_are_distinct() {
        let suffixes: HashSet<String> = (0..20_000).map(name_suffix).collect();
        assert_eq!(suffixes.len(), 20_000);
        assert!(suffixes.iter().all(|s| s.len() == 5));
    }
}
