//! Exact dot products of 8-bit integer vectors with AVX-512 VNNI
//! (`vpdpbusd`: 64 unsigned × signed byte products a step, summed four by
//! four into sixteen 32-bit lanes), for one query against many rows.
//!
//! `vpdpbusd` multiplies an unsigned byte by a signed one, so one side is
//! moved by 128 (`v ^ 0x80`) and the sum corrected with a sum of the other:
//! - int8 rows `x`, query `q`: `(x + 128)·q = x·q + 128 Σq` and
//!   `(x + 128)·x = x·x + 128 Σx`, with `Σx = 1·x`;
//! - uint8: `x·(q − 128) = x·q − 128 Σx` and `x·(x − 128) = x·x − 128 Σx`,
//!   with `Σx = x·1`.
//!
//! A lane gains at most 4 · 255 · 128 = 130,560 a step; lanes are added
//! into `i64` every [`STEPS`] steps (65,536 columns), below 2^31, so every
//! sum is exact whatever the length.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// Steps (of 64 columns) a lane sums before it is added into an `i64`:
/// 1024 · 130,560 < 2^31.
const STEPS: usize = 1024;

/// Whether this CPU executes the kernel (AVX-512 F and BW for the loads,
/// VNNI for the products).
fn cpu_has_vnni() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether searches use the kernel: only with the AVX-512 tier (so
/// `REDIS_NUMPY_DISABLE_CPU_FEATURES=AVX512` holds it back too), unless
/// that variable names `VNNI`.
pub fn enabled() -> bool {
    static ENABLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    #[cfg(test)]
    if let Some(isa) = super::FORCED.get() {
        return isa == super::Isa::Avx512 && cpu_has_vnni();
    }
    *ENABLED.get_or_init(|| {
        let disabled = std::env::var("REDIS_NUMPY_DISABLE_CPU_FEATURES").unwrap_or_default();
        super::chosen() == super::Isa::Avx512 && !disabled.to_ascii_uppercase().contains("VNNI") && cpu_has_vnni()
    })
}

/// A query as the kernel multiplies it.
#[derive(Debug, Clone)]
pub struct ByteQuery {
    /// int8: the query's bytes; uint8: the query's bytes moved by −128.
    bytes: Vec<u8>,
    signed: bool,
    /// Σq (int8 only).
    sum: i64,
}

impl ByteQuery {
    /// An int8 query, when the kernel runs here.
    pub fn signed(q: impl Iterator<Item = i8>) -> Option<ByteQuery> {
        if !enabled() {
            return None;
        }
        let bytes: Vec<u8> = q.map(|v| v as u8).collect();
        let sum = bytes.iter().map(|&v| i64::from(v as i8)).sum();
        Some(ByteQuery {
            bytes,
            signed: true,
            sum,
        })
    }

    /// A uint8 query, when the kernel runs here.
    pub fn unsigned(q: impl Iterator<Item = u8>) -> Option<ByteQuery> {
        if !enabled() {
            return None;
        }
        Some(ByteQuery {
            bytes: q.map(|v| v ^ 0x80).collect(),
            signed: false,
            sum: 0,
        })
    }

    /// `(x·q, x·x)` exactly, for a row `x` of the query's length (its bytes:
    /// int8 or uint8 as the query is).
    pub fn dot_and_norm(&self, x: &[u8]) -> (i64, i64) {
        self.both(x, true)
    }

    /// `x·q` exactly (half the work of [`Self::dot_and_norm`] for int8).
    pub fn dot(&self, x: &[u8]) -> i64 {
        self.both(x, false).0
    }

    /// `(x·q, x·x)`, `x·x` left 0 unless `norms`.
    fn both(&self, x: &[u8], norms: bool) -> (i64, i64) {
        assert_eq!(x.len(), self.bytes.len(), "a row of the query's length");
        let (products, squares, total) = sums(x, &self.bytes, self.signed, norms);
        let norm = |correction: i64| if norms { squares + correction } else { 0 };
        if self.signed {
            (products - 128 * self.sum, norm(-128 * total))
        } else {
            (products + 128 * total, norm(128 * total))
        }
    }
}

/// The three sums of the module's doc, `(x′·q′, x′·x″, Σx)`.
/// `x′·x″` and (int8) `Σx` are left 0 unless `norms`.
fn sums(x: &[u8], q: &[u8], signed: bool, norms: bool) -> (i64, i64, i64) {
    #[cfg(target_arch = "x86_64")]
    if cpu_has_vnni() {
        // SAFETY: `vnni_sums` requires AVX-512 F, BW and VNNI, which
        // `cpu_has_vnni` has just checked at run time, and equal lengths
        // (`both` asserts them).
        return unsafe {
            match (signed, norms) {
                (true, true) => vnni_sums::<true, true>(x, q),
                (true, false) => vnni_sums::<true, false>(x, q),
                (false, true) => vnni_sums::<false, true>(x, q),
                (false, false) => vnni_sums::<false, false>(x, q),
            }
        };
    }
    scalar_sums(x, q, signed, norms)
}

/// What [`vnni_sums`] computes, one byte at a time.
fn scalar_sums(x: &[u8], q: &[u8], signed: bool, norms: bool) -> (i64, i64, i64) {
    let (mut products, mut squares, mut total) = (0i64, 0i64, 0i64);
    for (&a, &b) in x.iter().zip(q) {
        if signed {
            let (xb, xs) = (i64::from(a ^ 0x80), i64::from(a as i8));
            products += xb * i64::from(b as i8);
            if norms {
                squares += xb * xs;
                total += xs;
            }
        } else {
            let xu = i64::from(a);
            products += xu * i64::from(b as i8);
            if norms {
                squares += xu * i64::from((a ^ 0x80) as i8);
            }
            total += xu;
        }
    }
    (products, squares, total)
}

/// The sixteen lanes of `v` added into `i64`s.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn lanes(v: __m512i) -> i64 {
    let low = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(v));
    let high = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64::<1>(v));
    _mm512_reduce_add_epi64(_mm512_add_epi64(low, high))
}

/// # Safety
/// The CPU must support AVX-512 F, BW and VNNI; `x` and `q` have the same length.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn vnni_sums<const SIGNED: bool, const NORMS: bool>(x: &[u8], q: &[u8]) -> (i64, i64, i64) {
    let n = x.len();
    let bias = _mm512_set1_epi8(-128);
    let ones = _mm512_set1_epi8(1);
    let (mut products, mut squares, mut total) = (0i64, 0i64, 0i64);
    let mut start = 0;
    while start < n {
        let end = n.min(start + STEPS * 64);
        let (mut p, mut s, mut t) = (_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512());
        let mut j = start;
        while j < end {
            let width = (end - j).min(64);
            // A last partial step loads zeros past the end: they add nothing
            // (every sum has a factor that is a zero byte of x or q there).
            // Whole steps load plainly (masked loads measured much slower).
            let mask: __mmask64 = if width == 64 { !0 } else { (1u64 << width) - 1 };
            // SAFETY: bytes j..j + width of x and q lie within both (j +
            // width <= end <= n = x.len() = q.len()): a whole step reads 64
            // of them, a partial one only those its mask covers.
            let (xv, qv) = unsafe {
                let (xp, qp) = (x.as_ptr().add(j), q.as_ptr().add(j));
                if width == 64 {
                    (
                        _mm512_loadu_si512(xp as *const __m512i),
                        _mm512_loadu_si512(qp as *const __m512i),
                    )
                } else {
                    (
                        _mm512_maskz_loadu_epi8(mask, xp as *const i8),
                        _mm512_maskz_loadu_epi8(mask, qp as *const i8),
                    )
                }
            };
            if SIGNED {
                let moved = _mm512_xor_si512(xv, bias);
                p = _mm512_dpbusd_epi32(p, moved, qv);
                if NORMS {
                    s = _mm512_dpbusd_epi32(s, moved, xv);
                    t = _mm512_dpbusd_epi32(t, ones, xv);
                }
            } else {
                p = _mm512_dpbusd_epi32(p, xv, qv);
                if NORMS {
                    s = _mm512_dpbusd_epi32(s, xv, _mm512_xor_si512(xv, bias));
                }
                t = _mm512_dpbusd_epi32(t, xv, ones);
            }
            j += width;
        }
        products += lanes(p);
        if NORMS {
            squares += lanes(s);
        }
        if NORMS || !SIGNED {
            total += lanes(t);
        }
        start = end;
    }
    (products, squares, total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(n: usize, seed: &mut u64) -> Vec<u8> {
        (0..n)
            .map(|_| {
                *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (*seed >> 56) as u8
            })
            .collect()
    }

    fn exact(x: &[u8], q: &[u8], signed: bool) -> (i64, i64) {
        let v = |b: u8| if signed { i64::from(b as i8) } else { i64::from(b) };
        (
            x.iter().zip(q).map(|(&a, &b)| v(a) * v(b)).sum(),
            x.iter().map(|&a| v(a) * v(a)).sum(),
        )
    }

    fn query(q: &[u8], signed: bool) -> ByteQuery {
        super::super::forcing(super::super::Isa::Avx512, || {
            if signed {
                ByteQuery::signed(q.iter().map(|&v| v as i8))
            } else {
                ByteQuery::unsigned(q.iter().copied())
            }
        })
        .unwrap_or(ByteQuery {
            // No VNNI here: the same query, for the scalar path.
            bytes: if signed {
                q.to_vec()
            } else {
                q.iter().map(|&v| v ^ 0x80).collect()
            },
            signed,
            sum: if signed {
                q.iter().map(|&v| i64::from(v as i8)).sum()
            } else {
                0
            },
        })
    }

    /// The kernel (where the CPU has it) and the scalar reference give the
    /// exact integer sums, on random bytes, the extremes and lengths around
    /// a step and past the lanes' spill into `i64`.
    #[test]
    fn sums_are_exact() {
        let mut seed = 7;
        for n in [
            0,
            1,
            63,
            64,
            65,
            384,
            1000,
            STEPS * 64 - 1,
            STEPS * 64 + 1,
            3 * STEPS * 64 + 17,
        ] {
            let random = (bytes(n, &mut seed), bytes(n, &mut seed));
            let extremes = [
                (0x80u8, 0x7fu8),
                (0x80, 0x80),
                (0xff, 0x80),
                (0xff, 0xff),
                (0x7f, 0x7f),
                (0x00, 0xff),
            ];
            let mut cases = vec![random];
            cases.extend(extremes.iter().map(|&(a, b)| (vec![a; n], vec![b; n])));
            for (x, q) in &cases {
                for signed in [true, false] {
                    let want = exact(x, q, signed);
                    let bq = query(q, signed);
                    assert_eq!(bq.dot_and_norm(x), want, "n={n} signed={signed}");
                    assert_eq!(bq.dot(x), want.0, "n={n} signed={signed}");
                    let (p, s, t) = scalar_sums(x, &bq.bytes, signed, true);
                    let scalar = ByteQuery {
                        bytes: Vec::new(),
                        ..bq.clone()
                    };
                    let got = if scalar.signed {
                        (p - 128 * scalar.sum, s - 128 * t)
                    } else {
                        (p + 128 * t, s + 128 * t)
                    };
                    assert_eq!(got, want, "scalar n={n} signed={signed}");
                }
            }
        }
    }

    #[test]
    fn the_environment_and_the_tier_hold_it_back() {
        for isa in super::super::available() {
            let on = super::super::forcing(isa, enabled);
            assert_eq!(on, isa == super::super::Isa::Avx512 && cpu_has_vnni());
        }
    }
}
