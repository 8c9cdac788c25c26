//! The one seeded random number generator of the core: SplitMix64 (Steele, Lea and Flood,
//! 2014), used for the payload shuffle, the open-loop arrival times and the bootstrap.
//!
//! Written out here rather than taken from `rand`: results must be reproducible from the seed
//! recorded in `experiment.json` on every machine and across versions, and `rand` does not
//! promise that its generators' streams stay the same between releases. SplitMix64 passes
//! BigCrush, has a 2^64 period (far beyond the 10^10 draws of a large bootstrap) and is a few
//! lines. Not for secrets (see `auth` for those).

/// A seeded SplitMix64 stream.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// A stream for one purpose (`salt`), independent of the others drawn from the same user
    /// seed: the payload shuffle, the arrivals and the bootstrap must not reuse one sequence.
    pub fn derived(seed: u64, salt: u64) -> Self {
        let mut mixer = SplitMix64(seed ^ salt.wrapping_mul(0xD1B5_4A32_D192_ED03));
        SplitMix64(mixer.next_u64())
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// An index in `0..n` (`n > 0`) by Lemire's multiply-shift (bias below 2^-64 × n).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }

    /// Uniform in [0, 1), 53 random bits.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Exponential with mean 1 (inversion: −ln(1 − U), U in [0, 1), so never infinite).
    pub fn exponential(&mut self) -> f64 {
        -(1.0 - self.unit()).ln()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_is_splitmix64() {
        // Reference values of SplitMix64 seeded with 0 (Vigna's splitmix64.c, also the seeding
        // generator of xoshiro): the first three outputs.
        let mut rng = SplitMix64::new(0);
        assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(rng.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(rng.next_u64(), 0x06C4_5D18_8009_454F);
    }

    #[test]
    fn draws_have_the_right_ranges_and_means() {
        let mut rng = SplitMix64::derived(42, 1);
        let n = 200_000;
        let (mut units, mut exps, mut counts) = (0.0, 0.0, [0usize; 7]);
        for _ in 0..n {
            let u = rng.unit();
            assert!((0.0..1.0).contains(&u));
            units += u;
            let e = rng.exponential();
            assert!(e.is_finite() && e >= 0.0);
            exps += e;
            counts[rng.below(7)] += 1;
        }
        // Means within 5 standard errors: 1/sqrt(12 n) for U, 1/sqrt(n) for Exp(1).
        assert!((units / n as f64 - 0.5).abs() < 5.0 / (12.0 * n as f64).sqrt());
        assert!((exps / n as f64 - 1.0).abs() < 5.0 / (n as f64).sqrt());
        for c in counts {
            assert!((c as f64 - n as f64 / 7.0).abs() < 5.0 * (n as f64 / 7.0).sqrt());
        }
        assert_ne!(
            SplitMix64::derived(42, 1).next_u64(),
            SplitMix64::derived(42, 2).next_u64()
        );
    }
}
