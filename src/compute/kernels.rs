//! The loops reductions are made of, over typed slices. The shape of a
//! reduction is `outer × len × inner` in memory order (see [`Lanes`]); the
//! loops visit the data the way NumPy's iterator does, because for floats the
//! order of additions decides the rounding.

use std::ops::{Add, Div, Mul, Sub};

/// A reduction over one axis, in memory order: element `(o, l, b)` sits at
/// `(o * len + l) * inner + b`, and the result for `(o, b)` at `o * inner + b`.
/// When `inner == 1` each result reduces one contiguous lane of `len`
/// elements (NumPy's inner loop is then the reduction itself, and float sums
/// are pairwise); otherwise NumPy adds whole rows of `inner` elements into the
/// result one after the other, and so do these loops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lanes {
    pub outer: usize,
    pub len: usize,
    pub inner: usize,
}

impl Lanes {
    /// Number of results.
    pub fn count(&self) -> usize {
        self.outer * self.inner
    }

    /// Where element `l` of the lane of result `(o, b)` sits.
    pub fn at(&self, o: usize, l: usize, b: usize) -> usize {
        (o * self.len + l) * self.inner + b
    }
}

/// f32 and f64, as the accumulators of float reductions.
pub trait Float:
    Copy + PartialOrd + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Div<Output = Self>
{
    const ZERO: Self;
    const NEG_ZERO: Self;
    const ONE: Self;
    fn to_f64(self) -> f64;
    fn from_f64(v: f64) -> Self;
    fn is_nan(self) -> bool;
    fn sqrt(self) -> Self;
    /// `self * a + b` with one rounding.
    fn mul_add(self, a: Self, b: Self) -> Self;
}

macro_rules! float {
    ($t:ty) => {
        impl Float for $t {
            const ZERO: Self = 0.0;
            const NEG_ZERO: Self = -0.0;
            const ONE: Self = 1.0;
            fn to_f64(self) -> f64 {
                self as f64
            }
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            fn mul_add(self, a: Self, b: Self) -> Self {
                <$t>::mul_add(self, a, b)
            }
        }
    };
}
float!(f32);
float!(f64);

/// NumPy's block size for pairwise summation.
const PW_BLOCKSIZE: usize = 128;

/// The elements NumPy's buffered iterator hands its inner loop at once when
/// the input must be cast first (its default buffer size).
pub const BUFFER_SIZE: usize = 8192;

/// NumPy's pairwise summation (`@TYPE@_pairwise_sum` in loops_utils.h): below
/// 8 elements a plain sum from -0.0; up to 128, eight interleaved partial sums
/// combined as a tree; above, the two halves (split at a multiple of 8).
pub fn pairwise<T: Copy, A: Float>(x: &[T], conv: &impl Fn(T) -> A) -> A {
    let n = x.len();
    if n < 8 {
        let mut res = A::NEG_ZERO;
        for &v in x {
            res = res + conv(v);
        }
        res
    } else if n <= PW_BLOCKSIZE {
        let mut r = [A::ZERO; 8];
        for (acc, &v) in r.iter_mut().zip(&x[..8]) {
            *acc = conv(v);
        }
        let body = n - n % 8;
        for chunk in x[8..body].chunks_exact(8) {
            let chunk: &[T; 8] = chunk.try_into().expect("chunks of 8");
            for k in 0..8 {
                r[k] = r[k] + conv(chunk[k]);
            }
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &v in &x[body..] {
            res = res + conv(v);
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise(&x[..n2], conv) + pairwise(&x[n2..], conv)
    }
}

/// NumPy's pairwise summation of complex numbers, over their interleaved
/// parts (`f.len()` is twice the count): the same tree on the float array,
/// real parts in the even partial sums, imaginary parts in the odd ones.
pub fn pairwise_complex<A: Float>(f: &[A]) -> (A, A) {
    let n = f.len();
    if n < 8 {
        let (mut rr, mut ri) = (A::NEG_ZERO, A::NEG_ZERO);
        for pair in f.chunks_exact(2) {
            rr = rr + pair[0];
            ri = ri + pair[1];
        }
        (rr, ri)
    } else if n <= PW_BLOCKSIZE {
        let mut r = [A::ZERO; 8];
        r.copy_from_slice(&f[..8]);
        let body = n - n % 8;
        for chunk in f[8..body].chunks_exact(8) {
            for (acc, &v) in r.iter_mut().zip(chunk) {
                *acc = *acc + v;
            }
        }
        let mut rr = (r[0] + r[2]) + (r[4] + r[6]);
        let mut ri = (r[1] + r[3]) + (r[5] + r[7]);
        for pair in f[body..].chunks_exact(2) {
            rr = rr + pair[0];
            ri = ri + pair[1];
        }
        (rr, ri)
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        let (a, b) = pairwise_complex(&f[..n2]);
        let (c, d) = pairwise_complex(&f[n2..]);
        (a + c, b + d)
    }
}

/// A fold of every lane from `init`, in order along the lane.
pub fn fold<T: Copy, A: Copy>(x: &[T], g: Lanes, init: A, step: impl Fn(A, T) -> A) -> Vec<A> {
    let mut out = Vec::with_capacity(g.count());
    if g.inner == 1 {
        if g.len == 0 {
            out.resize(g.outer, init);
        } else {
            out.extend(
                x.chunks_exact(g.len)
                    .map(|lane| lane.iter().fold(init, |a, &v| step(a, v))),
            );
        }
        return out;
    }
    for o in 0..g.outer {
        let start = out.len();
        out.resize(start + g.inner, init);
        let acc = &mut out[start..];
        for l in 0..g.len {
            let row = &x[g.at(o, l, 0)..][..g.inner];
            for (a, &v) in acc.iter_mut().zip(row) {
                *a = step(*a, v);
            }
        }
    }
    out
}

/// A fold of every lane that starts from its first element (reductions
/// without an identity: minimum, maximum). Lanes must not be empty.
pub fn fold_first<T: Copy>(x: &[T], g: Lanes, step: impl Fn(T, T) -> T) -> Vec<T> {
    debug_assert!(g.len > 0);
    if g.inner == 1 {
        return x
            .chunks_exact(g.len)
            .map(|lane| lane[1..].iter().fold(lane[0], |a, &v| step(a, v)))
            .collect();
    }
    let mut out = Vec::with_capacity(g.count());
    for o in 0..g.outer {
        let start = out.len();
        out.extend_from_slice(&x[g.at(o, 0, 0)..][..g.inner]);
        let acc = &mut out[start..];
        for l in 1..g.len {
            let row = &x[g.at(o, l, 0)..][..g.inner];
            for (a, &v) in acc.iter_mut().zip(row) {
                *a = step(*a, v);
            }
        }
    }
    out
}

/// Float sums the way NumPy's add loop makes them: contiguous lanes pairwise
/// (in pieces of [`BUFFER_SIZE`] when `buffered`, as when NumPy casts the
/// input first), rows added one after another otherwise. `round` is applied
/// where NumPy stores an intermediate result (to float16 for half sums).
pub fn sum<T: Copy, A: Float>(
    x: &[T],
    g: Lanes,
    buffered: bool,
    conv: impl Fn(T) -> A,
    round: impl Fn(A) -> A,
) -> Vec<A> {
    if g.inner != 1 {
        return fold(x, g, A::ZERO, |a, v| round(a + conv(v)));
    }
    let lane_sum = |lane: &[T]| {
        if buffered {
            lane.chunks(BUFFER_SIZE)
                .fold(A::ZERO, |acc, chunk| round(acc + pairwise(chunk, &conv)))
        } else {
            round(A::ZERO + pairwise(lane, &conv))
        }
    };
    if g.len == 0 {
        return vec![A::ZERO; g.outer];
    }
    x.chunks_exact(g.len).map(lane_sum).collect()
}

/// Complex sums: as [`sum`], over interleaved (real, imaginary) parts.
pub fn sum_complex<A: Float>(f: &[A], g: Lanes, buffered: bool) -> Vec<(A, A)> {
    let add = |(ar, ai): (A, A), (br, bi): (A, A)| (ar + br, ai + bi);
    if g.inner != 1 {
        let mut out = vec![(A::ZERO, A::ZERO); g.count()];
        for o in 0..g.outer {
            let acc = &mut out[o * g.inner..][..g.inner];
            for l in 0..g.len {
                let row = &f[2 * g.at(o, l, 0)..][..2 * g.inner];
                for (a, pair) in acc.iter_mut().zip(row.chunks_exact(2)) {
                    *a = add(*a, (pair[0], pair[1]));
                }
            }
        }
        return out;
    }
    if g.len == 0 {
        return vec![(A::ZERO, A::ZERO); g.outer];
    }
    f.chunks_exact(2 * g.len)
        .map(|lane| {
            if buffered {
                lane.chunks(2 * BUFFER_SIZE)
                    .fold((A::ZERO, A::ZERO), |acc, chunk| add(acc, pairwise_complex(chunk)))
            } else {
                add((A::ZERO, A::ZERO), pairwise_complex(lane))
            }
        })
        .collect()
}

/// The maximum (or minimum, with `greater` reversed) of each lane with NumPy's
/// NaN propagation: the first NaN met wins. Contiguous lanes of f32/f64 run
/// eight comparisons abreast (which the compiler vectorises) and look for the
/// NaN only when there is one.
pub fn extreme<T: Float>(x: &[T], g: Lanes, greater: bool) -> Vec<T> {
    if greater {
        extreme_of::<T, true>(x, g)
    } else {
        extreme_of::<T, false>(x, g)
    }
}

fn extreme_of<T: Float, const GREATER: bool>(x: &[T], g: Lanes) -> Vec<T> {
    let better = |v: T, a: T| if GREATER { v > a } else { v < a };
    let step = |a: T, v: T| {
        if a.is_nan() || !(better(v, a) || v.is_nan()) {
            a
        } else {
            v
        }
    };
    if g.inner != 1 {
        return fold_first(x, g, step);
    }
    x.chunks_exact(g.len)
        .map(|lane| lane_extreme::<T, GREATER>(lane))
        .collect()
}

/// The best element of a non-empty lane (first NaN if any), eight abreast.
/// NaNs are noticed arithmetically (`v - v` is NaN only for NaN and
/// infinities), which keeps the loop free of branches so it vectorises.
#[allow(clippy::eq_op)] // `v - v` is the NaN test
fn lane_extreme<T: Float, const GREATER: bool>(lane: &[T]) -> T {
    let better = |v: T, a: T| if GREATER { v > a } else { v < a };
    let mut m = [lane[0]; 8];
    let mut poison = [T::ZERO; 8];
    let blocks = lane.chunks_exact(8);
    let rest = blocks.remainder();
    for block in blocks {
        let block: &[T; 8] = block.try_into().expect("chunks of 8");
        for k in 0..8 {
            poison[k] = poison[k] + (block[k] - block[k]);
            m[k] = if better(block[k], m[k]) { block[k] } else { m[k] };
        }
    }
    let mut best = m[1..].iter().fold(m[0], |a, &v| if better(v, a) { v } else { a });
    let mut maybe_nan = poison.iter().any(|p| p.is_nan()) || lane[0].is_nan();
    for &v in rest {
        maybe_nan |= v.is_nan();
        best = if better(v, best) { v } else { best };
    }
    if maybe_nan {
        if let Some(&nan) = lane.iter().find(|v| v.is_nan()) {
            return nan;
        }
    }
    best
}

/// Argmax / argmin of contiguous float lanes: the best value (vectorised),
/// then the first place it occurs; the first NaN when there is one.
pub fn arg_extreme<T: Float>(x: &[T], g: Lanes, greater: bool) -> Vec<i64> {
    debug_assert!(g.inner == 1 && g.len > 0);
    x.chunks_exact(g.len)
        .map(|lane| {
            let best = if greater {
                lane_extreme::<T, true>(lane)
            } else {
                lane_extreme::<T, false>(lane)
            };
            let found = if best.is_nan() {
                lane.iter().position(|v| v.is_nan())
            } else {
                lane.iter().position(|&v| v == best)
            };
            found.expect("the best value is in its lane") as i64
        })
        .collect()
}

/// The index along the lane of each lane's best element: the first one for
/// which `better(candidate, best)` never held after it, or the first element
/// `stop` holds for (NumPy's argmax/argmin stop at the first NaN or NaT).
pub fn arg<T: Copy>(x: &[T], g: Lanes, better: impl Fn(T, T) -> bool, stop: impl Fn(T) -> bool) -> Vec<i64> {
    let mut out = Vec::with_capacity(g.count());
    for o in 0..g.outer {
        for b in 0..g.inner {
            let mut best = x[g.at(o, 0, b)];
            let mut index = 0;
            if !stop(best) {
                for l in 1..g.len {
                    let v = x[g.at(o, l, b)];
                    if stop(v) {
                        index = l;
                        break;
                    }
                    if better(v, best) {
                        best = v;
                        index = l;
                    }
                }
            }
            out.push(index as i64);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_pairwise(x: &[f32]) -> f32 {
        // The recursion as NumPy's C code spells it, with explicit indices.
        let n = x.len();
        if n < 8 {
            return x.iter().fold(-0.0, |a, &v| a + v);
        }
        if n <= 128 {
            let mut r: Vec<f32> = x[..8].to_vec();
            let mut i = 8;
            while i < n - n % 8 {
                for k in 0..8 {
                    r[k] += x[i + k];
                }
                i += 8;
            }
            let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
            while i < n {
                res += x[i];
                i += 1;
            }
            return res;
        }
        let n2 = n / 2 - (n / 2) % 8;
        naive_pairwise(&x[..n2]) + naive_pairwise(&x[n2..])
    }

    #[test]
    fn pairwise_follows_numpy_exactly() {
        let mut seed = 1u32;
        let x: Vec<f32> = (0..5000)
            .map(|_| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (seed >> 8) as f32 / 65536.0 - 128.0
            })
            .collect();
        for n in [0, 1, 7, 8, 9, 127, 128, 129, 1000, 5000] {
            assert_eq!(
                pairwise(&x[..n], &|v: f32| v).to_bits(),
                naive_pairwise(&x[..n]).to_bits(),
                "{n}"
            );
        }
        assert_eq!(pairwise(&[-0.0f32], &|v| v).to_bits(), (-0.0f32).to_bits());
        // Eight partial sums: 1e8 + 1 + ... stays exact where a running sum would not.
        let mut y = vec![1.0f32; 16];
        y[0] = 1e8;
        assert_eq!(pairwise(&y, &|v| v), 1e8 + 8.0);
    }

    #[test]
    fn lanes_contiguous_and_strided() {
        // 2×3 in C order: axis 1 is contiguous lanes, axis 0 adds rows.
        let x = [1i32, 2, 3, 4, 5, 6];
        let rows = Lanes {
            outer: 2,
            len: 3,
            inner: 1,
        };
        let cols = Lanes {
            outer: 1,
            len: 2,
            inner: 3,
        };
        assert_eq!(fold(&x, rows, 0i64, |a, v| a + i64::from(v)), [6, 15]);
        assert_eq!(fold(&x, cols, 0i64, |a, v| a + i64::from(v)), [5, 7, 9]);
        assert_eq!(fold_first(&x, cols, i32::max), [4, 5, 6]);
        assert_eq!(arg(&x, cols, |v, b| v < b, |_| false), [0, 0, 0]);
        assert_eq!(arg(&x, rows, |v, b| v > b, |_| false), [2, 2]);
        let empty = Lanes {
            outer: 2,
            len: 0,
            inner: 1,
        };
        assert_eq!(sum(&[] as &[f64], empty, false, |v| v, |v| v), [0.0, 0.0]);
    }

    #[test]
    fn extremes_propagate_nan() {
        let mut x: Vec<f64> = (0..100).map(f64::from).collect();
        let g = Lanes {
            outer: 1,
            len: 100,
            inner: 1,
        };
        assert_eq!(extreme(&x, g, true), [99.0]);
        assert_eq!(extreme(&x, g, false), [0.0]);
        x[40] = f64::NAN;
        assert!(extreme(&x, g, true)[0].is_nan() && extreme(&x, g, false)[0].is_nan());
        let g = Lanes {
            outer: 1,
            len: 10,
            inner: 10,
        };
        let m = extreme(&x, g, true);
        assert!(m[0].is_nan() && m[1] == 91.0);
    }
}
