//! The arithmetic of a scan: sums of products (or of squared differences)
//! of rows against queries, `R` rows by `C` queries at a time, and the
//! widening of stored elements into the type they are summed in.
//!
//! Every sum keeps `L` partial sums (one SIMD register of 64 bytes: 16
//! `f32` or 8 `f64`), each adding its own columns in order, and combines
//! them as a halving tree; a last partial chunk of columns is padded with
//! zeros. So a sum depends only on its two vectors, never on which tile it
//! was computed in: a batch gives the same bits as one query at a time. The
//! kernels are plain loops compiled per instruction set (`compute::simd`);
//! with FMA (`simd::fused`) each step is one fused multiply-add, otherwise a
//! multiplication then an addition, which rounds differently in the last bit.

use half::f16;

use crate::compute::kernels::Float;

/// A stored element type NP.KNN searches, and how it is summed.
pub trait Stored: bytemuck::Pod + Send + Sync {
    /// What rows and queries are summed in: `f32` for float32, float16,
    /// int8 and uint8, `f64` for float64.
    type A: Float + Default + std::fmt::Debug;
    /// Columns summed before the partial result is added into an `f64`:
    /// for the 8-bit integers, few enough that every product and every
    /// partial sum is an integer below 2^24, so the `f32` arithmetic is
    /// exact (255² · 256 < 2^24); unlimited for floats.
    const CHUNK: usize;
    /// The element as a summand (exact: every stored value is an `A`).
    fn widen(self) -> Self::A;
    /// The elements as summands without a copy, when `Self` is `A`.
    fn as_summands(s: &[Self]) -> Option<&[Self::A]>;
}

impl Stored for f32 {
    type A = f32;
    const CHUNK: usize = usize::MAX;
    #[inline(always)]
    fn widen(self) -> f32 {
        self
    }
    fn as_summands(s: &[f32]) -> Option<&[f32]> {
        Some(s)
    }
}

impl Stored for f64 {
    type A = f64;
    const CHUNK: usize = usize::MAX;
    #[inline(always)]
    fn widen(self) -> f64 {
        self
    }
    fn as_summands(s: &[f64]) -> Option<&[f64]> {
        Some(s)
    }
}

impl Stored for f16 {
    type A = f32;
    const CHUNK: usize = usize::MAX;
    #[inline(always)]
    fn widen(self) -> f32 {
        f16_to_f32(self.to_bits())
    }
    fn as_summands(_: &[f16]) -> Option<&[f32]> {
        None
    }
}

impl Stored for i8 {
    type A = f32;
    const CHUNK: usize = 256;
    #[inline(always)]
    fn widen(self) -> f32 {
        f32::from(self)
    }
    fn as_summands(_: &[i8]) -> Option<&[f32]> {
        None
    }
}

impl Stored for u8 {
    type A = f32;
    const CHUNK: usize = 256;
    #[inline(always)]
    fn widen(self) -> f32 {
        f32::from(self)
    }
    fn as_summands(_: &[u8]) -> Option<&[f32]> {
        None
    }
}

/// A float16 as float32, exactly, in branch-free steps the compiler
/// vectorises (the `half` crate's conversion calls out per element without
/// F16C): the exponent and mantissa moved into float32's places and scaled
/// by 2^112 (which also normalises subnormals), infinities and NaNs given
/// float32's all-ones exponent, the sign put back.
#[inline(always)]
pub fn f16_to_f32(h: u16) -> f32 {
    let bits = u32::from(h);
    let sign = (bits & 0x8000) << 16;
    let magnitude = bits & 0x7fff;
    let scaled = f32::from_bits(magnitude << 13) * f32::from_bits((127 + 112) << 23);
    let value = if magnitude >= 0x7c00 {
        (magnitude << 13) | 0x7f80_0000
    } else {
        scaled.to_bits()
    };
    f32::from_bits(value | sign)
}

/// One step of a sum: `acc + x·q`, or `acc + (x − q)²` when `SQUARES`.
#[inline(always)]
fn step<A: Float, const FUSED: bool, const SQUARES: bool>(x: A, q: A, acc: A) -> A {
    let (a, b) = if SQUARES {
        let t = x - q;
        (t, t)
    } else {
        (x, q)
    };
    if FUSED {
        a.mul_add(b, acc)
    } else {
        a * b + acc
    }
}

/// The partial sums combined: halves added until one is left.
#[inline(always)]
fn combine<A: Float, const L: usize>(mut lanes: [A; L]) -> A {
    let mut width = L;
    while width > 1 {
        width /= 2;
        for i in 0..width {
            lanes[i] = lanes[i] + lanes[i + width];
        }
    }
    lanes[0]
}

/// `out[r][c] = Σ_j step(x[r][j], q[c][j])` over the columns both hold (all
/// slices have the same length), with `L` partial sums per result.
#[inline(always)]
pub fn tile<A: Float, const L: usize, const R: usize, const C: usize, const FUSED: bool, const SQUARES: bool>(
    x: [&[A]; R],
    q: [&[A]; C],
) -> [[A; C]; R] {
    let m = q[0].len();
    let x = x.map(|row| &row[..m]);
    let q = q.map(|row| &row[..m]);
    let mut acc = [[[A::ZERO; L]; C]; R];
    let full = m - m % L;
    let mut j = 0;
    while j < full {
        let xs: [&[A; L]; R] = x.map(|row| row[j..j + L].try_into().expect("L columns"));
        let qs: [&[A; L]; C] = q.map(|row| row[j..j + L].try_into().expect("L columns"));
        for r in 0..R {
            for c in 0..C {
                for l in 0..L {
                    acc[r][c][l] = step::<A, FUSED, SQUARES>(xs[r][l], qs[c][l], acc[r][c][l]);
                }
            }
        }
        j += L;
    }
    if full < m {
        let pad = |row: &[A]| {
            let mut padded = [A::ZERO; L];
            padded[..m - full].copy_from_slice(&row[full..]);
            padded
        };
        let xs = x.map(pad);
        let qs = q.map(pad);
        for r in 0..R {
            for c in 0..C {
                for l in 0..L {
                    acc[r][c][l] = step::<A, FUSED, SQUARES>(xs[r][l], qs[c][l], acc[r][c][l]);
                }
            }
        }
    }
    acc.map(|row| row.map(combine::<A, L>))
}

/// [`tile`] over all columns in chunks of `chunk`, each chunk's sums added
/// into `f64` (exact for integer data, see [`Stored::CHUNK`]; one chunk for
/// floats, whose sum is then the `A` sum, widened).
#[inline(always)]
pub fn sums<A: Float, const L: usize, const R: usize, const C: usize, const FUSED: bool, const SQUARES: bool>(
    x: [&[A]; R],
    q: [&[A]; C],
    chunk: usize,
) -> [[f64; C]; R] {
    let d = q[0].len();
    if d <= chunk {
        return tile::<A, L, R, C, FUSED, SQUARES>(x, q).map(|row| row.map(A::to_f64));
    }
    let mut out = [[0.0; C]; R];
    let mut start = 0;
    while start < d {
        let end = d.min(start.saturating_add(chunk));
        let part = tile::<A, L, R, C, FUSED, SQUARES>(x.map(|row| &row[start..end]), q.map(|row| &row[start..end]));
        for r in 0..R {
            for c in 0..C {
                out[r][c] += part[r][c].to_f64();
            }
        }
        start = end;
    }
    out
}

/// The scalar reference of one [`sums`] result: the same partial sums, the
/// same combination, one element at a time.
#[cfg(test)]
pub fn reference<A: Float>(x: &[A], q: &[A], lanes: usize, fused: bool, squares: bool, chunk: usize) -> f64 {
    let mut total = 0.0;
    for (xc, qc) in x
        .chunks(chunk.min(x.len().max(1)))
        .zip(q.chunks(chunk.min(q.len().max(1))))
    {
        let mut acc = vec![A::ZERO; lanes];
        for (j, (&a, &b)) in xc.iter().zip(qc).enumerate() {
            let (a, b) = if squares { (a - b, a - b) } else { (a, b) };
            let l = j % lanes;
            acc[l] = if fused { a.mul_add(b, acc[l]) } else { a * b + acc[l] };
        }
        // The padding adds zero products to the lanes after the tail.
        let rem = xc.len() % lanes;
        if rem != 0 {
            for l in rem..lanes {
                acc[l] = if fused {
                    A::ZERO.mul_add(A::ZERO, acc[l])
                } else {
                    A::ZERO * A::ZERO + acc[l]
                };
            }
        }
        let mut width = lanes;
        while width > 1 {
            width /= 2;
            for i in 0..width {
                acc[i] = acc[i] + acc[i + width];
            }
        }
        total = if x.len() <= chunk {
            acc[0].to_f64()
        } else {
            total + acc[0].to_f64()
        };
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compute::simd;

    #[test]
    fn float16_widens_exactly() {
        for bits in 0..=u16::MAX {
            let want = f16::from_bits(bits).to_f32();
            let got = f16_to_f32(bits);
            assert!(
                got.to_bits() == want.to_bits() || got.is_nan() && want.is_nan(),
                "{bits:#x}"
            );
        }
    }

    fn random(n: usize, seed: &mut u64) -> Vec<f32> {
        (0..n)
            .map(|_| {
                *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((*seed >> 33) as f32 / (1u64 << 31) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    /// Every tile shape on every instruction set gives the scalar reference's bits.
    #[test]
    fn tiles_match_the_reference_on_every_isa() {
        let mut seed = 3;
        for d in [1, 5, 15, 16, 17, 33, 100, 384, 700] {
            let xs: Vec<Vec<f32>> = (0..4).map(|_| random(d, &mut seed)).collect();
            let qs: Vec<Vec<f32>> = (0..4).map(|_| random(d, &mut seed)).collect();
            for isa in simd::available() {
                simd::forcing(isa, || {
                    let fused = simd::fused();
                    for squares in [false, true] {
                        let got = simd::run(|| {
                            let x = [&xs[0][..], &xs[1], &xs[2], &xs[3]];
                            let q = [&qs[0][..], &qs[1], &qs[2], &qs[3]];
                            match (fused, squares) {
                                (true, true) => sums::<f32, 16, 4, 4, true, true>(x, q, usize::MAX),
                                (true, false) => sums::<f32, 16, 4, 4, true, false>(x, q, usize::MAX),
                                (false, true) => sums::<f32, 16, 4, 4, false, true>(x, q, usize::MAX),
                                (false, false) => sums::<f32, 16, 4, 4, false, false>(x, q, usize::MAX),
                            }
                        });
                        for r in 0..4 {
                            for c in 0..4 {
                                let want = reference(&xs[r], &qs[c], 16, fused, squares, usize::MAX);
                                assert_eq!(got[r][c].to_bits(), want.to_bits(), "{isa:?} d={d} {r} {c}");
                            }
                        }
                    }
                });
            }
        }
    }

    /// Integer data summed in float32 chunks is exact: the largest products
    /// over many columns equal the integer sums.
    #[test]
    fn integer_chunks_are_exact() {
        for d in [255, 256, 257, 1000, 5000] {
            let x: Vec<f32> = (0..d).map(|j| if j % 3 == 0 { -128.0 } else { 127.0 }).collect();
            let q: Vec<f32> = (0..d).map(|j| if j % 2 == 0 { -128.0 } else { 127.0 }).collect();
            let want_dot: i64 = x.iter().zip(&q).map(|(&a, &b)| a as i64 * b as i64).sum();
            let want_sq: i64 = x.iter().zip(&q).map(|(&a, &b)| (a as i64 - b as i64).pow(2)).sum();
            let u: Vec<f32> = vec![255.0; d];
            let z: Vec<f32> = vec![0.0; d];
            for isa in simd::available() {
                simd::forcing(isa, || {
                    let dot = simd::run(|| sums::<f32, 16, 1, 1, true, false>([&x], [&q], 256))[0][0];
                    let sq = simd::run(|| sums::<f32, 16, 1, 1, false, true>([&x], [&q], 256))[0][0];
                    let uu = simd::run(|| sums::<f32, 16, 1, 1, true, true>([&u], [&z], 256))[0][0];
                    assert_eq!((dot, sq, uu), (want_dot as f64, want_sq as f64, 65025.0 * d as f64));
                });
            }
        }
    }
}
