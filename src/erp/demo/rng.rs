//! A tiny deterministic random number generator for the seed.
//!
//! The demo data must be the same on every machine, every build and every version of every
//! dependency, so the generator lives here instead of in a crate whose output may change
//! between releases. SplitMix64 is small, fast and good enough for made-up sales figures.
//! Only integer arithmetic is used, so no platform float behaviour can creep in.

/// Fixed seed of the whole demo company. Changing it changes every figure, so bump
/// `SEED_VERSION` with it.
const BASE_SEED: u64 = 0x4153_4b45_5250_2026; // "ASKERP" + 2026

/// SplitMix64 (Steele, Lea and Flood): one 64-bit state, one add and a finalizer per draw.
#[derive(Debug, Clone)]
pub(super) struct Rng(u64);

impl Rng {
    /// An independent stream for one part of the data, named by `parts` (a stream label and,
    /// e.g., a day or an employee number). Separate streams keep one part stable when another
    /// changes: the orders of a given day do not depend on how many days came before it.
    pub(super) fn stream(parts: &[u64]) -> Rng {
        let mut state = BASE_SEED;
        for &p in parts {
            state = mix(state ^ mix(p.wrapping_add(0x9e37_79b9_7f4a_7c15)));
        }
        Rng(state)
    }

    pub(super) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }

    /// Uniform in `0..n`; `0` when `n` is `0`. Uses the high half of a 128-bit product, which
    /// avoids the bias of `%` without a rejection loop.
    pub(super) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi` (`lo` when `hi < lo`).
    pub(super) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            self.next_u64();
            return lo;
        }
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `per_mille / 1000`.
    pub(super) fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }

    /// An index into `cumulative` (running totals of weights), chosen in proportion to the
    /// weights. `cumulative` must be non-empty and its last value positive.
    pub(super) fn weighted(&mut self, cumulative: &[u64]) -> usize {
        let total = cumulative.last().copied().unwrap_or(0);
        let x = self.below(total);
        cumulative.partition_point(|&c| c <= x)
    }
}

/// Running totals of `weights`, for [`Rng::weighted`].
pub(super) fn cumulative(weights: impl IntoIterator<Item = u64>) -> Vec<u64> {
    let mut total = 0u64;
    weights
        .into_iter()
        .map(|w| {
            total += w;
            total
        })
        .collect()
}

/// The SplitMix64 finalizer.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The generator's output is part of the demo data: if this changes, every figure changes.
    #[test]
    fn output_is_pinned() {
        let mut a = Rng::stream(&[1, 2]);
        let mut b = Rng::stream(&[1, 2]);
        let xs: Vec<u64> = (0..4).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..4).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(Rng::stream(&[1, 3]).next_u64(), xs[0]);
        // Reference value of plain SplitMix64 from state 0.
        assert_eq!(Rng(0).next_u64(), 0xe220_a839_7b1d_cdaf);
    }

    #[test]
    fn helpers_stay_in_range() {
        let mut r = Rng::stream(&[7]);
        for _ in 0..1000 {
            assert!(r.below(10) < 10);
            let v = r.range(3, 5);
            assert!((3..=5).contains(&v));
        }
        assert_eq!(r.below(0), 0);
        let cum = cumulative([0, 5, 0, 5]);
        for _ in 0..1000 {
            let i = r.weighted(&cum);
            assert!(i == 1 || i == 3, "zero weights are never picked, got {i}");
        }
    }
}
