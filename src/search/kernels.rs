//! The arithmetic of a scan: sums of products (or of squared differences)
//! of a row and a query, and the widening of stored elements into the type
//! they are summed in.
//!
//! Every sum keeps `L` partial sums (128 bytes: 32 `f32` or 16 `f64`, two
//! AVX-512 registers, enough independent chains to hide the latency of
//! the additions), each adding its own columns in order, and combines them
//! as a halving tree; a last partial chunk of columns is padded with zeros.
//! So a sum depends only on its two vectors and the instruction set. The
//! kernels are plain loops compiled per instruction set (`compute::simd`);
//! with FMA (`simd::fused`) each step is one fused multiply-add, otherwise a
//! multiplication then an addition, which rounds differently in the last bit.

use half::f16;

use crate::compute::simd::dot8::ByteQuery;
use crate::compute::simd::rowsums::{self, Sums};
use crate::compute::simd::Gemm;

/// `f32` and `f64` as summands. (Its own trait, every method inlined: a
/// kernel compiled for AVX2 or AVX-512 must not call out to a baseline
/// `mul_add`, which would be a library call per element.)
pub trait Float: Copy + Default + std::fmt::Debug + PartialOrd + Gemm + Send + Sync {
    const ZERO: Self;
    fn add(self, b: Self) -> Self;
    fn sub(self, b: Self) -> Self;
    fn mul(self, b: Self) -> Self;
    /// `self * a + b` with one rounding.
    fn mul_add(self, a: Self, b: Self) -> Self;
    fn to_f64(self) -> f64;
}

macro_rules! float {
    ($t:ty) => {
        impl Float for $t {
            const ZERO: Self = 0.0;
            #[inline(always)]
            fn add(self, b: Self) -> Self {
                self + b
            }
            #[inline(always)]
            fn sub(self, b: Self) -> Self {
                self - b
            }
            #[inline(always)]
            fn mul(self, b: Self) -> Self {
                self * b
            }
            #[inline(always)]
            fn mul_add(self, a: Self, b: Self) -> Self {
                <$t>::mul_add(self, a, b)
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
        }
    };
}
float!(f32);
float!(f64);

/// A stored element type NP.KNN searches, and how it is summed.
pub trait Stored: bytemuck::Pod + Send + Sync {
    /// What rows and queries are summed in: `f32` for float32, float16,
    /// int8 and uint8, `f64` for float64.
    type A: Float + Stored<A = Self::A>;
    /// Columns summed before the partial result is added into an `f64`:
    /// for the 8-bit integers, few enough that every product and every
    /// partial sum is an integer below 2^24, so the `f32` arithmetic is
    /// exact (255² · 256 < 2^24); unlimited for floats.
    const CHUNK: usize;
    /// The element as a summand (exact: every stored value is an `A`).
    fn widen(self) -> Self::A;
    /// The elements as summands without a copy, when `Self` is `A`.
    fn as_summands(s: &[Self]) -> Option<&[Self::A]>;
    /// A query (as summands) for the 8-bit integer kernel, for the 8-bit
    /// integers where this CPU runs it; its sums are the exact integers the
    /// float32 chunks give.
    fn byte_query(_q: &[Self::A]) -> Option<ByteQuery> {
        None
    }
    /// One query's sums with each of the `count` rows `x` (`q.len()`
    /// elements each) by an intrinsics kernel (`simd::rowsums`), handed to
    /// `each` with the row's index: the values [`sum`] and [`sum_and_norm`]
    /// give, where such a kernel runs for this type; false, calling
    /// nothing, elsewhere.
    #[inline(always)]
    fn row_sums(_x: &[Self], _q: &[Self::A], _count: usize, _what: Sums, _each: impl FnMut(usize, f64, f64)) -> bool {
        false
    }
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
    /// Cosine's product and norm only: for `ip` and `l2` (one sum a row,
    /// one halving tree) the plain loops measured as fast or faster.
    #[inline(always)]
    fn row_sums(x: &[f32], q: &[f32], count: usize, what: Sums, each: impl FnMut(usize, f64, f64)) -> bool {
        what == Sums::DotNorm && rowsums::rows(x, q, count, what, each)
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
    #[inline(always)]
    fn row_sums(x: &[f16], q: &[f32], count: usize, what: Sums, each: impl FnMut(usize, f64, f64)) -> bool {
        rowsums::rows(x, q, count, what, each)
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
    fn byte_query(q: &[f32]) -> Option<ByteQuery> {
        ByteQuery::signed(q.iter().map(|&v| v as i8))
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
    fn byte_query(q: &[f32]) -> Option<ByteQuery> {
        ByteQuery::unsigned(q.iter().map(|&v| v as u8))
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
        let t = x.sub(q);
        (t, t)
    } else {
        (x, q)
    };
    if FUSED {
        a.mul_add(b, acc)
    } else {
        a.mul(b).add(acc)
    }
}

/// The partial sums combined: halves added until one is left.
#[inline(always)]
fn combine<A: Float, const L: usize>(mut lanes: [A; L]) -> A {
    let mut width = L;
    while width > 1 {
        width /= 2;
        for i in 0..width {
            lanes[i] = lanes[i].add(lanes[i + width]);
        }
    }
    lanes[0]
}

/// `Σ_j step(x[j], q[j])` over the columns both hold, with `L` partial sums
/// (a last partial chunk zero-padded) combined as a halving tree.
#[inline(always)]
fn lanes<X: Stored, Y: Stored<A = X::A>, const L: usize, const FUSED: bool, const SQUARES: bool>(
    x: &[X],
    q: &[Y],
) -> X::A {
    let m = x.len().min(q.len());
    let (x, q) = (&x[..m], &q[..m]);
    let mut acc = [X::A::ZERO; L];
    let (xs, qs) = (x.chunks_exact(L), q.chunks_exact(L));
    let (x_tail, q_tail) = (xs.remainder(), qs.remainder());
    for (xc, qc) in xs.zip(qs) {
        let xc: &[X; L] = xc.try_into().expect("L columns");
        let qc: &[Y; L] = qc.try_into().expect("L columns");
        for l in 0..L {
            acc[l] = step::<X::A, FUSED, SQUARES>(xc[l].widen(), qc[l].widen(), acc[l]);
        }
    }
    if !x_tail.is_empty() {
        let (mut xc, mut qc) = ([X::A::ZERO; L], [X::A::ZERO; L]);
        for (t, &v) in xc.iter_mut().zip(x_tail) {
            *t = v.widen();
        }
        for (t, &v) in qc.iter_mut().zip(q_tail) {
            *t = v.widen();
        }
        for l in 0..L {
            acc[l] = step::<X::A, FUSED, SQUARES>(xc[l], qc[l], acc[l]);
        }
    }
    combine::<X::A, L>(acc)
}

/// `(Σ x·q, Σ x·x)` in one pass over `x`, each summed exactly as [`lanes`]
/// sums it.
#[inline(always)]
fn lanes_and_norm<X: Stored, Y: Stored<A = X::A>, const L: usize, const FUSED: bool>(x: &[X], q: &[Y]) -> (X::A, X::A) {
    let m = x.len().min(q.len());
    let (x, q) = (&x[..m], &q[..m]);
    let (mut dot, mut norm) = ([X::A::ZERO; L], [X::A::ZERO; L]);
    let (xs, qs) = (x.chunks_exact(L), q.chunks_exact(L));
    let (x_tail, q_tail) = (xs.remainder(), qs.remainder());
    for (xc, qc) in xs.zip(qs) {
        let xc: &[X; L] = xc.try_into().expect("L columns");
        let qc: &[Y; L] = qc.try_into().expect("L columns");
        for l in 0..L {
            let v = xc[l].widen();
            dot[l] = step::<X::A, FUSED, false>(v, qc[l].widen(), dot[l]);
            norm[l] = step::<X::A, FUSED, false>(v, v, norm[l]);
        }
    }
    if !x_tail.is_empty() {
        let (mut xc, mut qc) = ([X::A::ZERO; L], [X::A::ZERO; L]);
        for (t, &v) in xc.iter_mut().zip(x_tail) {
            *t = v.widen();
        }
        for (t, &v) in qc.iter_mut().zip(q_tail) {
            *t = v.widen();
        }
        for l in 0..L {
            dot[l] = step::<X::A, FUSED, false>(xc[l], qc[l], dot[l]);
            norm[l] = step::<X::A, FUSED, false>(xc[l], xc[l], norm[l]);
        }
    }
    (combine::<X::A, L>(dot), combine::<X::A, L>(norm))
}

/// `(Σ x·q, Σ x·x)` over all columns in one pass, each exactly as [`sum`] gives it.
#[inline(always)]
pub fn sum_and_norm<X: Stored, Y: Stored<A = X::A>, const L: usize, const FUSED: bool>(
    x: &[X],
    q: &[Y],
    chunk: usize,
) -> (f64, f64) {
    let d = q.len();
    if d <= chunk {
        let (s, n) = lanes_and_norm::<X, Y, L, FUSED>(x, q);
        return (s.to_f64(), n.to_f64());
    }
    let (mut total, mut norm) = (0.0, 0.0);
    let mut start = 0;
    while start < d {
        let end = d.min(start + chunk);
        let (s, n) = lanes_and_norm::<X, Y, L, FUSED>(&x[start..end], &q[start..end]);
        total += s.to_f64();
        norm += n.to_f64();
        start = end;
    }
    (total, norm)
}

/// `Σ x·q` (or `Σ (x − q)²` when `SQUARES`) over all columns, in chunks of
/// `chunk` columns each summed in `A` then added into an `f64` (exact for
/// integer data, see [`Stored::CHUNK`]; one chunk for floats, whose sum is
/// then the `A` sum, widened).
#[inline(always)]
pub fn sum<X: Stored, Y: Stored<A = X::A>, const L: usize, const FUSED: bool, const SQUARES: bool>(
    x: &[X],
    q: &[Y],
    chunk: usize,
) -> f64 {
    let d = q.len();
    if d <= chunk {
        return lanes::<X, Y, L, FUSED, SQUARES>(x, q).to_f64();
    }
    let mut total = 0.0;
    let mut start = 0;
    while start < d {
        let end = d.min(start + chunk);
        total += lanes::<X, Y, L, FUSED, SQUARES>(&x[start..end], &q[start..end]).to_f64();
        start = end;
    }
    total
}

/// Test data: `n` values in [-1, 1) from a fixed generator (`seed` advances).
#[cfg(test)]
pub fn random(n: usize, seed: &mut u64) -> Vec<f32> {
    (0..n)
        .map(|_| (next(seed) >> 33) as f32 / (1u64 << 31) as f32 * 2.0 - 1.0)
        .collect()
}

/// Test data: `n` bytes from the same generator.
#[cfg(test)]
pub fn random_bytes(n: usize, seed: &mut u64) -> Vec<u8> {
    (0..n).map(|_| (next(seed) >> 56) as u8).collect()
}

#[cfg(test)]
fn next(seed: &mut u64) -> u64 {
    *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    *seed
}

/// The scalar reference of [`sum`]: the same partial sums, the
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
            let (a, b) = if squares { (a.sub(b), a.sub(b)) } else { (a, b) };
            let l = j % lanes;
            acc[l] = if fused {
                a.mul_add(b, acc[l])
            } else {
                a.mul(b).add(acc[l])
            };
        }
        // The padding adds zero products to the lanes after the tail.
        let rem = xc.len() % lanes;
        if rem != 0 {
            for a in acc.iter_mut().skip(rem) {
                *a = if fused {
                    A::ZERO.mul_add(A::ZERO, *a)
                } else {
                    A::ZERO.mul(A::ZERO).add(*a)
                };
            }
        }
        let mut width = lanes;
        while width > 1 {
            width /= 2;
            for i in 0..width {
                acc[i] = acc[i].add(acc[i + width]);
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

    /// Every instruction set gives the scalar reference's bits.
    #[test]
    fn sums_match_the_reference_on_every_isa() {
        let mut seed = 3;
        for d in [1, 5, 15, 16, 17, 31, 32, 33, 100, 384, 700] {
            let x = random(d, &mut seed);
            let q = random(d, &mut seed);
            let x64: Vec<f64> = x.iter().map(|&v| f64::from(v) / 3.0).collect();
            let q64: Vec<f64> = q.iter().map(|&v| f64::from(v) / 7.0).collect();
            for isa in simd::available() {
                simd::forcing(isa, || {
                    let fused = simd::fused();
                    for squares in [false, true] {
                        let (got, got64) = simd::run(|| match (fused, squares) {
                            (true, true) => (
                                sum::<f32, f32, 32, true, true>(&x, &q, usize::MAX),
                                sum::<f64, f64, 16, true, true>(&x64, &q64, usize::MAX),
                            ),
                            (true, false) => (
                                sum::<f32, f32, 32, true, false>(&x, &q, usize::MAX),
                                sum::<f64, f64, 16, true, false>(&x64, &q64, usize::MAX),
                            ),
                            (false, true) => (
                                sum::<f32, f32, 32, false, true>(&x, &q, usize::MAX),
                                sum::<f64, f64, 16, false, true>(&x64, &q64, usize::MAX),
                            ),
                            (false, false) => (
                                sum::<f32, f32, 32, false, false>(&x, &q, usize::MAX),
                                sum::<f64, f64, 16, false, false>(&x64, &q64, usize::MAX),
                            ),
                        });
                        if !squares {
                            let both = simd::run(|| {
                                if fused {
                                    sum_and_norm::<f32, f32, 32, true>(&x, &q, 7)
                                } else {
                                    sum_and_norm::<f32, f32, 32, false>(&x, &q, 7)
                                }
                            });
                            let want = (
                                reference(&x, &q, 32, fused, false, 7),
                                reference(&x, &x, 32, fused, false, 7),
                            );
                            assert_eq!(
                                (both.0.to_bits(), both.1.to_bits()),
                                (want.0.to_bits(), want.1.to_bits())
                            );
                        }
                        let want = reference(&x, &q, 32, fused, squares, usize::MAX);
                        assert_eq!(got.to_bits(), want.to_bits(), "{isa:?} d={d}");
                        let want = reference(&x64, &q64, 16, fused, squares, usize::MAX);
                        assert_eq!(got64.to_bits(), want.to_bits(), "{isa:?} d={d}");
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
                    let dot = simd::run(|| sum::<f32, f32, 32, true, false>(&x, &q, 256));
                    let sq = simd::run(|| sum::<f32, f32, 32, false, true>(&x, &q, 256));
                    let uu = simd::run(|| sum::<f32, f32, 32, true, true>(&u, &z, 256));
                    assert_eq!((dot, sq, uu), (want_dot as f64, want_sq as f64, 65025.0 * d as f64));
                });
            }
        }
    }
}
