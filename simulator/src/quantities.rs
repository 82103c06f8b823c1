//! Usage quantities spelled the ways metrics-server spells them: CPU as nanocores
//! ("123456789n"), microcores ("1500u"), millicores ("250m"), whole cores ("1") or "0";
//! memory as kibibytes ("125448Ki"), whole mebi- or gibibytes ("1Mi", "1Gi"), plain bytes
//! ("123456789") or decimal kilobytes ("512k"). A [`Quantity`] is a number and a suffix,
//! small enough to compute per request instead of storing strings.

use std::fmt;

/// How a CPU usage is spelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CpuSpelling {
    Nanocores,
    Microcores,
    Millicores,
    Cores,
    Zero,
}

/// How a memory usage is spelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MemorySpelling {
    Kibibytes,
    Mebibytes,
    Gibibytes,
    Bytes,
    Kilobytes,
}

/// The spellings containers get, in rotation: mostly what metrics-server usually emits
/// (nanocores, kibibytes), and every other form often enough to appear in a cluster of
/// a few dozen pods.
pub(crate) const CPU_ROTATION: [CpuSpelling; 16] = {
    use CpuSpelling::*;
    [
        Nanocores, Millicores, Nanocores, Microcores, Nanocores, Nanocores, Zero, Nanocores,
        Nanocores, Millicores, Nanocores, Microcores, Nanocores, Cores, Nanocores, Nanocores,
    ]
};

pub(crate) const MEMORY_ROTATION: [MemorySpelling; 16] = {
    use MemorySpelling::*;
    [
        Kibibytes, Mebibytes, Kibibytes, Bytes, Kibibytes, Kibibytes, Kilobytes, Kibibytes,
        Kibibytes, Mebibytes, Kibibytes, Bytes, Kibibytes, Gibibytes, Kibibytes, Kibibytes,
    ]
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Suffix {
    None,
    Nano,
    Micro,
    Milli,
    Kilo,
    Kibi,
    Mebi,
    Gibi,
}

impl Suffix {
    fn as_str(self) -> &'static str {
        match self {
            Suffix::None => "",
            Suffix::Nano => "n",
            Suffix::Micro => "u",
            Suffix::Milli => "m",
            Suffix::Kilo => "k",
            Suffix::Kibi => "Ki",
            Suffix::Mebi => "Mi",
            Suffix::Gibi => "Gi",
        }
    }
}

/// A Kubernetes quantity: `amount` followed by a suffix, e.g. "250m".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Quantity {
    amount: u64,
    suffix: Suffix,
}

impl Quantity {
    /// `nanocores` spelled as asked; whole cores round to at least 1.
    pub(crate) fn cpu(nanocores: u64, spelling: CpuSpelling) -> Self {
        let (amount, suffix) = match spelling {
            CpuSpelling::Nanocores => (nanocores, Suffix::Nano),
            CpuSpelling::Microcores => (div_round(nanocores, 1_000), Suffix::Micro),
            CpuSpelling::Millicores => (div_round(nanocores, 1_000_000), Suffix::Milli),
            CpuSpelling::Cores => (div_round(nanocores, 1_000_000_000).max(1), Suffix::None),
            CpuSpelling::Zero => (0, Suffix::None),
        };
        Quantity { amount, suffix }
    }

    /// `bytes` spelled as asked; whole Mi and Gi round to at least 1.
    pub(crate) fn memory(bytes: u64, spelling: MemorySpelling) -> Self {
        let (amount, suffix) = match spelling {
            MemorySpelling::Kibibytes => (bytes / 1024, Suffix::Kibi),
            MemorySpelling::Mebibytes => (div_round(bytes, 1 << 20).max(1), Suffix::Mebi),
            MemorySpelling::Gibibytes => (div_round(bytes, 1 << 30).max(1), Suffix::Gibi),
            MemorySpelling::Bytes => (bytes, Suffix::None),
            MemorySpelling::Kilobytes => (div_round(bytes, 1000), Suffix::Kilo),
        };
        Quantity { amount, suffix }
    }

    /// The CPU this quantity says, in nanocores.
    pub(crate) fn nanocores(self) -> u64 {
        let scale = match self.suffix {
            Suffix::Nano => 1,
            Suffix::Micro => 1_000,
            Suffix::Milli => 1_000_000,
            _ => 1_000_000_000,
        };
        self.amount * scale
    }

    /// The memory this quantity says, in bytes.
    pub(crate) fn bytes(self) -> u64 {
        let scale = match self.suffix {
            Suffix::Kilo => 1000,
            Suffix::Kibi => 1 << 10,
            Suffix::Mebi => 1 << 20,
            Suffix::Gibi => 1 << 30,
            _ => 1,
        };
        self.amount * scale
    }
}

fn div_round(value: u64, divisor: u64) -> u64 {
    (value + divisor / 2) / divisor
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.amount, self.suffix.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_spellings() {
        let ns = 123_456_789;
        assert_eq!(
            Quantity::cpu(ns, CpuSpelling::Nanocores).to_string(),
            "123456789n"
        );
        assert_eq!(
            Quantity::cpu(ns, CpuSpelling::Microcores).to_string(),
            "123457u"
        );
        assert_eq!(
            Quantity::cpu(ns, CpuSpelling::Millicores).to_string(),
            "123m"
        );
        assert_eq!(Quantity::cpu(ns, CpuSpelling::Cores).to_string(), "1");
        assert_eq!(Quantity::cpu(ns, CpuSpelling::Zero).to_string(), "0");
        assert_eq!(
            Quantity::cpu(ns, CpuSpelling::Millicores).nanocores(),
            123_000_000
        );
        assert_eq!(
            Quantity::cpu(ns, CpuSpelling::Cores).nanocores(),
            1_000_000_000
        );
    }

    #[test]
    fn memory_spellings() {
        let bytes = 128_458_752;
        assert_eq!(
            Quantity::memory(bytes, MemorySpelling::Kibibytes).to_string(),
            "125448Ki"
        );
        assert_eq!(
            Quantity::memory(bytes, MemorySpelling::Mebibytes).to_string(),
            "123Mi"
        );
        assert_eq!(
            Quantity::memory(bytes, MemorySpelling::Gibibytes).to_string(),
            "1Gi"
        );
        assert_eq!(
            Quantity::memory(bytes, MemorySpelling::Bytes).to_string(),
            "128458752"
        );
        assert_eq!(
            Quantity::memory(bytes, MemorySpelling::Kilobytes).to_string(),
            "128459k"
        );
        assert_eq!(
            Quantity::memory(bytes, MemorySpelling::Kibibytes).bytes(),
            bytes
        );
    }
}
