//! The loops reductions are made of, over typed slices. The shape of a
//! reduction is `outer × len × inner` in memory order (see [`Lanes`]); the
//! loops visit the data the way NumPy's iterator does, because for floats the
//! order of additions decides the rounding.

use std::ops::{Add, Div, Mul, Sub};

use super::simd;

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

    /// Number of elements the lanes span.
    pub fn size(&self) -> usize {
        self.outer * self.len * self.inner
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
    /// `fabs`: the sign bit cleared, so `-0.0` gives `+0.0`.
    fn abs(self) -> Self;
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
            fn abs(self) -> Self {
                <$t>::abs(self)
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

/// Elements per block when argmax/argmin look for the best value block by
/// block before looking for its place: small enough that the second look
/// reads the block from the L1 cache.
const ARG_BLOCK: usize = 2048;

/// The shortest lane min/max read with 512-bit registers' many partial
/// results (shorter ones gain nothing from them).
const WIDE_MIN: usize = 512;

/// Elements per block when `any`/`all` look for a deciding element: checked a
/// whole block at a time (vectorised), stopping after the block that decides.
const TRUTH_BLOCK: usize = 4096;

/// NumPy's pairwise summation (`@TYPE@_pairwise_sum` in loops_utils.h): below
/// 8 elements a plain sum from -0.0; up to 128, eight interleaved partial sums
/// combined as a tree; above, the two halves (split at a multiple of 8).
pub fn pairwise<T: Copy, A: Float>(x: &[T], conv: &impl Fn(T) -> A) -> A {
    simd::run(
        #[inline(always)]
        || pairwise_in(x, conv),
    )
}

#[inline(always)]
fn pairwise_in<T: Copy, A: Float>(x: &[T], conv: &impl Fn(T) -> A) -> A {
    tree_sum(
        x.len(),
        A::ZERO,
        #[inline(always)]
        |start, len| pairwise_block(&x[start..][..len], conv),
        #[inline(always)]
        |a, na, b, nb| pairwise_blocks(&x[a..][..na], &x[b..][..nb], conv),
        #[inline(always)]
        |a, b| a + b,
    )
}

/// One leaf of NumPy's pairwise summation: at most 128 elements. The eight
/// partial sums are independent, so they map onto SIMD lanes one for one.
#[inline(always)]
fn pairwise_block<T: Copy, A: Float>(x: &[T], conv: &impl Fn(T) -> A) -> A {
    let n = x.len();
    if n < 8 {
        let mut res = A::NEG_ZERO;
        for &v in x {
            res = res + conv(v);
        }
        return res;
    }
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
}

/// Two leaves of NumPy's pairwise summation, each of 8 to 128 elements, as
/// [`pairwise_block`] sums them, but in one loop: each partial sum still adds
/// its own elements in order, and the two sets of eight are independent.
#[inline(always)]
fn pairwise_blocks<T: Copy, A: Float>(x: &[T], y: &[T], conv: &impl Fn(T) -> A) -> (A, A) {
    debug_assert!(x.len() >= 8 && y.len() >= 8);
    let (mut r, mut q) = ([A::ZERO; 8], [A::ZERO; 8]);
    for k in 0..8 {
        r[k] = conv(x[k]);
        q[k] = conv(y[k]);
    }
    let (bx, by) = (x.len() - x.len() % 8, y.len() - y.len() % 8);
    let both = bx.min(by);
    for (cx, cy) in x[8..both].chunks_exact(8).zip(y[8..both].chunks_exact(8)) {
        add_eight(&mut r, cx, conv);
        add_eight(&mut q, cy, conv);
    }
    for chunk in x[both..bx].chunks_exact(8) {
        add_eight(&mut r, chunk, conv);
    }
    for chunk in y[both..by].chunks_exact(8) {
        add_eight(&mut q, chunk, conv);
    }
    let finish = |r: [A; 8], rest: &[T]| {
        // (The barrier keeps the compiler from laying the partial sums out
        // for this tree inside the loop, where it costs a shuffle per add.)
        let r = std::hint::black_box(r);
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &v in rest {
            res = res + conv(v);
        }
        res
    };
    (finish(r, &x[bx..]), finish(q, &y[by..]))
}

/// Eight elements into the eight partial sums, one each.
#[inline(always)]
fn add_eight<T: Copy, A: Float>(r: &mut [A; 8], chunk: &[T], conv: &impl Fn(T) -> A) {
    let chunk: &[T; 8] = chunk.try_into().expect("chunks of 8");
    for k in 0..8 {
        r[k] = r[k] + conv(chunk[k]);
    }
}

/// The shape of NumPy's pairwise recursion over `n` elements, walked without
/// recursion so that it all runs inside one dispatched function: a range of
/// more than 128 splits at half its length rounded down to a multiple of 8,
/// and its sum is (sum of the first part) + (sum of the second); `leaf(start,
/// len)` sums a range of at most 128, `two_leaves` two such ranges (each of
/// at least 64) at once.
#[inline(always)]
fn tree_sum<V: Copy>(
    n: usize,
    zero: V,
    leaf: impl Fn(usize, usize) -> V,
    two_leaves: impl Fn(usize, usize, usize, usize) -> (V, V),
    add: impl Fn(V, V) -> V,
) -> V {
    // (Each closure is called in one place only, so that it is inlined.)
    // Tasks, last one first: a range to sum, or COMBINE (add the two values
    // on top of the value stack). Each split halves the length, so there are
    // fewer than 64 levels, each leaving at most two tasks and one value.
    const COMBINE: usize = usize::MAX;
    let mut tasks = [(0usize, 0usize); 2 * 64 + 2];
    let mut values = [zero; 64 + 2];
    tasks[0] = (0, n);
    let (mut nt, mut nv) = (1, 0);
    while nt > 0 {
        nt -= 1;
        let (start, len) = tasks[nt];
        if len == COMBINE {
            nv -= 1;
            values[nv - 1] = add(values[nv - 1], values[nv]);
        } else if len <= PW_BLOCKSIZE {
            values[nv] = leaf(start, len);
            nv += 1;
        } else {
            let mut n2 = len / 2;
            n2 -= n2 % 8;
            if len - n2 <= PW_BLOCKSIZE {
                // Two sibling leaves (the first no longer than the second):
                // summed side by side, their dependency chains overlap.
                let (a, b) = two_leaves(start, n2, start + n2, len - n2);
                values[nv] = add(a, b);
                nv += 1;
                continue;
            }
            tasks[nt] = (0, COMBINE);
            tasks[nt + 1] = (start + n2, len - n2);
            tasks[nt + 2] = (start, n2);
            nt += 3;
        }
    }
    values[0]
}

/// NumPy's pairwise summation of complex numbers, over their interleaved
/// parts (`f.len()` is twice the count): the same tree on the float array,
/// real parts in the even partial sums, imaginary parts in the odd ones.
#[inline(always)]
fn pairwise_complex<A: Float>(f: &[A]) -> (A, A) {
    tree_sum(
        f.len(),
        (A::ZERO, A::ZERO),
        #[inline(always)]
        |start, len| pairwise_complex_block(&f[start..][..len]),
        #[inline(always)]
        |a, na, b, nb| {
            (
                pairwise_complex_block(&f[a..][..na]),
                pairwise_complex_block(&f[b..][..nb]),
            )
        },
        #[inline(always)]
        |(a, b), (c, d)| (a + c, b + d),
    )
}

#[inline(always)]
fn pairwise_complex_block<A: Float>(f: &[A]) -> (A, A) {
    let n = f.len();
    if n < 8 {
        let (mut rr, mut ri) = (A::NEG_ZERO, A::NEG_ZERO);
        for pair in f.chunks_exact(2) {
            rr = rr + pair[0];
            ri = ri + pair[1];
        }
        return (rr, ri);
    }
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
}

/// A fold of every lane from `init`, in order along the lane.
pub fn fold<T: Copy, A: Copy>(x: &[T], g: Lanes, init: A, step: impl Fn(A, T) -> A) -> Vec<A> {
    simd::run(
        #[inline(always)]
        || {
            // (Made inside the dispatched function: see `sum`.)
            let mut out = vec![init; g.count()];
            fold_in(x, g, &mut out, step);
            out
        },
    )
}

/// [`fold`] continued from the values in `out` (one per result), as NumPy's
/// iterator continues a reduction over several axes from what the outer
/// dimensions already accumulated.
pub fn fold_into<T: Copy, A: Copy>(x: &[T], g: Lanes, out: &mut [A], step: impl Fn(A, T) -> A) {
    simd::run(
        #[inline(always)]
        || fold_in(x, g, out, step),
    )
}

#[inline(always)]
fn fold_in<T: Copy, A: Copy>(x: &[T], g: Lanes, out: &mut [A], step: impl Fn(A, T) -> A) {
    debug_assert_eq!(out.len(), g.count());
    if g.inner == 1 {
        if g.len > 0 {
            for (lane, a) in x.chunks_exact(g.len).zip(out.iter_mut()) {
                let mut acc = *a;
                for &v in lane {
                    acc = step(acc, v);
                }
                *a = acc;
            }
        }
        return;
    }
    for o in 0..g.outer {
        let acc = &mut out[o * g.inner..][..g.inner];
        for l in 0..g.len {
            let row = &x[g.at(o, l, 0)..][..g.inner];
            for (a, &v) in acc.iter_mut().zip(row) {
                *a = step(*a, v);
            }
        }
    }
}

/// A fold of every lane that starts from its first element (reductions
/// without an identity: minimum, maximum). Lanes must not be empty.
pub fn fold_first<T: Copy>(x: &[T], g: Lanes, step: impl Fn(T, T) -> T) -> Vec<T> {
    simd::run(
        #[inline(always)]
        || fold_first_in(x, g, step),
    )
}

#[inline(always)]
fn fold_first_in<T: Copy>(x: &[T], g: Lanes, step: impl Fn(T, T) -> T) -> Vec<T> {
    debug_assert!(g.len > 0);
    let mut out = Vec::with_capacity(g.count());
    if g.inner == 1 {
        for lane in x.chunks_exact(g.len) {
            let mut a = lane[0];
            for &v in &lane[1..] {
                a = step(a, v);
            }
            out.push(a);
        }
        return out;
    }
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

/// `any` (`all` with `all`) of `nonzero` over each lane. Contiguous lanes are
/// read block by block and stop at the first block that decides; the answer
/// is the same as reading everything.
pub fn truth<T: Copy>(x: &[T], g: Lanes, all: bool, nonzero: impl Fn(T) -> bool) -> Vec<u8> {
    simd::run(
        #[inline(always)]
        || {
            if g.inner != 1 || g.len == 0 {
                let mut out = vec![u8::from(all); g.count()];
                if all {
                    fold_in(x, g, &mut out, |a, v| a & u8::from(nonzero(v)));
                } else {
                    fold_in(x, g, &mut out, |a, v| a | u8::from(nonzero(v)));
                }
                return out;
            }
            // all = no zero element; any = some nonzero element.
            let decides = |v: T| nonzero(v) != all;
            let mut out = Vec::with_capacity(g.count());
            for lane in x.chunks_exact(g.len) {
                let mut found = false;
                for block in lane.chunks(TRUTH_BLOCK) {
                    let mut hit = false;
                    for &v in block {
                        hit |= decides(v);
                    }
                    if hit {
                        found = true;
                        break;
                    }
                }
                out.push(u8::from(found != all));
            }
            out
        },
    )
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
    simd::run(
        #[inline(always)]
        || {
            // The results are made here, inside the dispatched function:
            // allocated by the caller, the pairwise loop measured 6 times slower.
            let mut out = vec![A::ZERO; g.count()];
            sum_in(x, g, buffered, &conv, &round, &mut out);
            out
        },
    )
}

/// [`sum`] continued from the partial sums in `out` (see [`fold_into`]).
pub fn sum_into<T: Copy, A: Float>(
    x: &[T],
    g: Lanes,
    buffered: bool,
    conv: impl Fn(T) -> A,
    round: impl Fn(A) -> A,
    out: &mut [A],
) {
    simd::run(
        #[inline(always)]
        || sum_in(x, g, buffered, &conv, &round, out),
    )
}

#[inline(always)]
fn sum_in<T: Copy, A: Float>(
    x: &[T],
    g: Lanes,
    buffered: bool,
    conv: &impl Fn(T) -> A,
    round: &impl Fn(A) -> A,
    out: &mut [A],
) {
    if g.inner != 1 {
        return fold_in(x, g, out, |a, v| round(a + conv(v)));
    }
    if g.len == 0 {
        return;
    }
    for (lane, a) in x.chunks_exact(g.len).zip(out.iter_mut()) {
        *a = lane_sum(*a, lane, buffered, conv, round);
    }
}

/// The sum of one contiguous lane, as [`sum`] makes it.
#[inline(always)]
fn lane_sum<T: Copy, A: Float>(
    start: A,
    lane: &[T],
    buffered: bool,
    conv: &impl Fn(T) -> A,
    round: &impl Fn(A) -> A,
) -> A {
    if buffered {
        let mut acc = start;
        for chunk in lane.chunks(BUFFER_SIZE) {
            acc = round(acc + pairwise_in(chunk, conv));
        }
        acc
    } else {
        round(start + pairwise_in(lane, conv))
    }
}

/// Complex sums: as [`sum`], over interleaved (real, imaginary) parts.
pub fn sum_complex<A: Float>(f: &[A], g: Lanes, buffered: bool) -> Vec<(A, A)> {
    simd::run(
        #[inline(always)]
        || {
            // (Made inside the dispatched function: see `sum`.)
            let mut out = vec![(A::ZERO, A::ZERO); g.count()];
            sum_complex_in(f, g, buffered, &mut out);
            out
        },
    )
}

/// [`sum_complex`] continued from the partial sums in `out` (see [`fold_into`]).
pub fn sum_complex_into<A: Float>(f: &[A], g: Lanes, buffered: bool, out: &mut [(A, A)]) {
    simd::run(
        #[inline(always)]
        || sum_complex_in(f, g, buffered, out),
    )
}

#[inline(always)]
fn sum_complex_in<A: Float>(f: &[A], g: Lanes, buffered: bool, out: &mut [(A, A)]) {
    let add = |(ar, ai): (A, A), (br, bi): (A, A)| (ar + br, ai + bi);
    if g.inner != 1 {
        for o in 0..g.outer {
            let acc = &mut out[o * g.inner..][..g.inner];
            for l in 0..g.len {
                let row = &f[2 * g.at(o, l, 0)..][..2 * g.inner];
                for (a, pair) in acc.iter_mut().zip(row.chunks_exact(2)) {
                    *a = add(*a, (pair[0], pair[1]));
                }
            }
        }
        return;
    }
    if g.len == 0 {
        return;
    }
    for (lane, a) in f.chunks_exact(2 * g.len).zip(out.iter_mut()) {
        *a = if buffered {
            let mut acc = *a;
            for chunk in lane.chunks(2 * BUFFER_SIZE) {
                acc = add(acc, pairwise_complex(chunk));
            }
            acc
        } else {
            add(*a, pairwise_complex(lane))
        };
    }
}

/// The maximum (or minimum, with `greater` reversed) of each lane with NumPy's
/// NaN propagation: the first NaN met wins. Contiguous lanes of f32/f64 run
/// eight comparisons abreast (which the compiler vectorises) and look for the
/// NaN only when there is one.
pub fn extreme<T: Float>(x: &[T], g: Lanes, greater: bool) -> Vec<T> {
    simd::run(
        #[inline(always)]
        || {
            if greater {
                extreme_of::<T, true>(x, g)
            } else {
                extreme_of::<T, false>(x, g)
            }
        },
    )
}

#[inline(always)]
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
        return fold_first_in(x, g, step);
    }
    let mut out = Vec::with_capacity(g.count());
    for lane in x.chunks_exact(g.len) {
        out.push(lane_extreme::<T, GREATER>(lane));
    }
    out
}

/// The best element of a non-empty lane (first NaN if any), eight abreast:
/// element `i` goes to partial result `i % 8` in order along the lane (which
/// decides which of `0.0` and `-0.0` wins a tie), and any leftover after the
/// last eight goes to the combined result one by one. NaNs are noticed with
/// a flag beside the comparisons, which keeps the loop free of branches so it
/// vectorises; the first NaN is looked for only when the flag is set.
///
/// With 512-bit registers the best value is found block by block (as
/// argmax reads them, which measured a little faster than one run over the
/// whole lane) with many more partial results ([`wide_best_and_nan`]); it is
/// the same value, but when it is a zero its sign may differ, so a zero best
/// is settled as the eight partial results settle it: the first element if
/// that is a zero too (every partial result starts from it and no element
/// beats it), else as [`eight_abreast_zero`] finds it.
#[inline(always)]
fn lane_extreme<T: Float, const GREATER: bool>(lane: &[T]) -> T {
    let wide = simd::wide() && lane.len() >= WIDE_MIN;
    let (mut best, nan) = if wide {
        let better = |v: T, a: T| if GREATER { v > a } else { v < a };
        let (mut best, mut nan) = (lane[0], false);
        for block in lane.chunks(ARG_BLOCK) {
            let (m, n) = wide_best_and_nan::<T, GREATER>(block);
            nan |= n;
            best = if better(m, best) { m } else { best };
        }
        (best, nan)
    } else {
        best_and_nan::<T, GREATER>(lane)
    };
    if nan {
        if let Some(&nan) = lane.iter().find(|v| v.is_nan()) {
            return nan;
        }
    }
    if wide && best == T::ZERO {
        best = if lane[0] == T::ZERO {
            lane[0]
        } else {
            eight_abreast_zero(lane)
        };
    }
    best
}

/// The zero [`best_and_nan`]'s eight partial results settle on for a lane
/// whose best value is a zero and whose first element is not one (so no NaN,
/// and every element is a zero or worse): partial result `k` holds the first
/// zero of the elements `i ≡ k (mod 8)` before the last eight-element
/// boundary, the lowest such `k` wins the combination, and with none there
/// the first zero after the boundary does. Read block by block, stopping as
/// soon as class 0 has a zero (at once when zeros are common).
#[inline(always)]
fn eight_abreast_zero<T: Float>(lane: &[T]) -> T {
    let body = &lane[..lane.len() - lane.len() % 8];
    let mut first: [Option<T>; 8] = [None; 8];
    for block in body.chunks(ARG_BLOCK) {
        let mut any = false;
        for &v in block {
            any |= v == T::ZERO;
        }
        if !any {
            continue;
        }
        let mut zero = [false; 8];
        for chunk in block.chunks_exact(8) {
            for k in 0..8 {
                zero[k] |= chunk[k] == T::ZERO;
            }
        }
        for k in 0..8 {
            if zero[k] && first[k].is_none() {
                first[k] = block[k..].iter().step_by(8).find(|&&v| v == T::ZERO).copied();
            }
        }
        if first[0].is_some() {
            break;
        }
    }
    first
        .iter()
        .flatten()
        .next()
        .or_else(|| lane[body.len()..].iter().find(|&&v| v == T::ZERO))
        .copied()
        .expect("the best value is a zero")
}

/// [`best_and_nan`] for 512-bit registers: four registers of partial
/// results (`L` lanes each, held as four arrays so that each stays one
/// register), each pair of elements tested for NaN at once, combined as a
/// tree. The value is the same as [`best_and_nan`]'s; the sign of a zero best
/// is not.
#[inline(always)]
fn wide_best_and_nan<T: Float, const GREATER: bool>(x: &[T]) -> (T, bool) {
    if std::mem::size_of::<T>() == 4 {
        wide_best_and_nan_of::<T, GREATER, 16>(x)
    } else {
        wide_best_and_nan_of::<T, GREATER, 8>(x)
    }
}

#[inline(always)]
fn wide_best_and_nan_of<T: Float, const GREATER: bool, const L: usize>(x: &[T]) -> (T, bool) {
    let better = |v: T, a: T| if GREATER { v > a } else { v < a };
    // One register of partial results takes two registers of elements.
    let step = |m: &mut [T; L], nan: &mut [bool; L], a: &[T], b: &[T]| {
        let a: &[T; L] = a.try_into().expect("L elements");
        let b: &[T; L] = b.try_into().expect("L elements");
        for k in 0..L {
            nan[k] |= a[k].is_nan() | b[k].is_nan();
            m[k] = if better(a[k], m[k]) { a[k] } else { m[k] };
            m[k] = if better(b[k], m[k]) { b[k] } else { m[k] };
        }
    };
    let merge = |m: &mut [T; L], nan: &mut [bool; L], n: &[T; L], nn: &[bool; L]| {
        for k in 0..L {
            nan[k] |= nn[k];
            m[k] = if better(n[k], m[k]) { n[k] } else { m[k] };
        }
    };
    let (mut m0, mut m1, mut m2, mut m3) = ([x[0]; L], [x[0]; L], [x[0]; L], [x[0]; L]);
    let (mut n0, mut n1, mut n2, mut n3) = ([false; L], [false; L], [false; L], [false; L]);
    let mut chunks = x.chunks_exact(8 * L);
    for c in &mut chunks {
        step(&mut m0, &mut n0, &c[..L], &c[4 * L..5 * L]);
        step(&mut m1, &mut n1, &c[L..2 * L], &c[5 * L..6 * L]);
        step(&mut m2, &mut n2, &c[2 * L..3 * L], &c[6 * L..7 * L]);
        step(&mut m3, &mut n3, &c[3 * L..4 * L], &c[7 * L..]);
    }
    merge(&mut m0, &mut n0, &m2, &n2);
    merge(&mut m1, &mut n1, &m3, &n3);
    merge(&mut m0, &mut n0, &m1, &n1);
    let rest = chunks.remainder();
    let mut pairs = rest.chunks_exact(2 * L);
    for c in &mut pairs {
        step(&mut m0, &mut n0, &c[..L], &c[L..]);
    }
    let mut best = m0[1..].iter().fold(m0[0], |a, &v| if better(v, a) { v } else { a });
    let mut any_nan = n0.iter().any(|&n| n);
    for &v in pairs.remainder() {
        any_nan |= v.is_nan();
        best = if better(v, best) { v } else { best };
    }
    (best, any_nan)
}

/// The best value of a non-empty run of floats, ignoring NaNs (unless the
/// first element is one), in [`lane_extreme`]'s order, and whether the run
/// holds a NaN.
#[inline(always)]
fn best_and_nan<T: Float, const GREATER: bool>(x: &[T]) -> (T, bool) {
    let better = |v: T, a: T| if GREATER { v > a } else { v < a };
    let mut m = [x[0]; 8];
    let mut nan = [false; 8];
    // Sixteen at a time, so that one unordered comparison tests two elements.
    let pairs = x.chunks_exact(16);
    let rest = pairs.remainder();
    for chunk in pairs {
        let chunk: &[T; 16] = chunk.try_into().expect("chunks of 16");
        for k in 0..8 {
            let (a, b) = (chunk[k], chunk[k + 8]);
            nan[k] |= a.is_nan() | b.is_nan();
            m[k] = if better(a, m[k]) { a } else { m[k] };
            m[k] = if better(b, m[k]) { b } else { m[k] };
        }
    }
    let eights = rest.chunks_exact(8);
    let tail = eights.remainder();
    for chunk in eights {
        for k in 0..8 {
            nan[k] |= chunk[k].is_nan();
            m[k] = if better(chunk[k], m[k]) { chunk[k] } else { m[k] };
        }
    }
    let mut best = m[1..].iter().fold(m[0], |a, &v| if better(v, a) { v } else { a });
    let mut any_nan = nan.iter().any(|&n| n);
    for &v in tail {
        any_nan |= v.is_nan();
        best = if better(v, best) { v } else { best };
    }
    (best, any_nan)
}

/// The best value of a non-empty block of ordered values (NaNs ignored, unless
/// one comes first), eight abreast.
#[inline(always)]
fn block_best<T: Copy + PartialOrd, const GREATER: bool>(block: &[T]) -> T {
    let better = |v: T, a: T| if GREATER { v > a } else { v < a };
    let mut m = [block[0]; 8];
    let chunks = block.chunks_exact(8);
    let rest = chunks.remainder();
    for chunk in chunks {
        let chunk: &[T; 8] = chunk.try_into().expect("chunks of 8");
        for k in 0..8 {
            m[k] = if better(chunk[k], m[k]) { chunk[k] } else { m[k] };
        }
    }
    let mut best = m[1..].iter().fold(m[0], |a, &v| if better(v, a) { v } else { a });
    for &v in rest {
        best = if better(v, best) { v } else { best };
    }
    best
}

/// The index of the first best element of a non-empty lane, or of its first
/// NaN, in one pass: `block_best` gives each block's best value and whether
/// it holds a NaN (vectorised); the first block holding the best value so far
/// is remembered, and the first place of that value in that block is looked
/// for at the end (equal values are interchangeable: `0.0 == -0.0`).
#[inline(always)]
#[allow(clippy::eq_op)] // `v != v` is the NaN test
fn lane_arg<T: Copy + PartialOrd, const GREATER: bool>(lane: &[T], block_best: impl Fn(&[T]) -> (T, bool)) -> usize {
    let better = |v: T, a: T| if GREATER { v > a } else { v < a };
    let (mut best, mut best_start) = (lane[0], 0);
    for (b, block) in lane.chunks(ARG_BLOCK).enumerate() {
        let start = b * ARG_BLOCK;
        let (m, nan) = block_best(block);
        if nan {
            return start + block.iter().position(|&v| v != v).expect("the block holds a NaN");
        }
        if better(m, best) {
            (best, best_start) = (m, start);
        }
    }
    let block = &lane[best_start..][..ARG_BLOCK.min(lane.len() - best_start)];
    best_start
        + block
            .iter()
            .position(|&v| v == best)
            .expect("the best value is in its block")
}

/// Argmax / argmin of contiguous float lanes: the first best element, or the
/// first NaN when there is one (as NumPy's loops stop at it).
pub fn arg_extreme<T: Float>(x: &[T], g: Lanes, greater: bool) -> Vec<i64> {
    debug_assert!(g.inner == 1 && g.len > 0);
    simd::run(
        #[inline(always)]
        || {
            let mut out = Vec::with_capacity(g.count());
            for lane in x.chunks_exact(g.len) {
                out.push(match (greater, simd::wide()) {
                    (true, false) => lane_arg::<T, true>(
                        lane,
                        #[inline(always)]
                        |b| best_and_nan::<T, true>(b),
                    ),
                    (false, false) => lane_arg::<T, false>(
                        lane,
                        #[inline(always)]
                        |b| best_and_nan::<T, false>(b),
                    ),
                    (true, true) => lane_arg::<T, true>(
                        lane,
                        #[inline(always)]
                        |b| wide_best_and_nan::<T, true>(b),
                    ),
                    (false, true) => lane_arg::<T, false>(
                        lane,
                        #[inline(always)]
                        |b| wide_best_and_nan::<T, false>(b),
                    ),
                } as i64);
            }
            out
        },
    )
}

/// Argmax / argmin of contiguous lanes of totally ordered values (integers).
pub fn arg_ordered<T: Copy + PartialOrd>(x: &[T], g: Lanes, greater: bool) -> Vec<i64> {
    debug_assert!(g.inner == 1 && g.len > 0);
    simd::run(
        #[inline(always)]
        || {
            let mut out = Vec::with_capacity(g.count());
            for lane in x.chunks_exact(g.len) {
                out.push(if greater {
                    lane_arg::<T, true>(
                        lane,
                        #[inline(always)]
                        |b| (block_best::<T, true>(b), false),
                    )
                } else {
                    lane_arg::<T, false>(
                        lane,
                        #[inline(always)]
                        |b| (block_best::<T, false>(b), false),
                    )
                } as i64);
            }
            out
        },
    )
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
    use crate::compute::simd;
    use proptest::prelude::*;

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

    fn contiguous(len: usize) -> Lanes {
        Lanes {
            outer: 1,
            len,
            inner: 1,
        }
    }

    /// max/min as the scalar loop of eight partial results spells it (element
    /// `i` into partial `i % 8`, leftovers one by one), first NaN winning.
    fn reference_extreme<T: Float>(x: &[T], greater: bool) -> T {
        if let Some(&nan) = x.iter().find(|v| v.is_nan()) {
            return nan;
        }
        let better = |v: T, a: T| if greater { v > a } else { v < a };
        let mut m = [x[0]; 8];
        let body = x.len() - x.len() % 8;
        for (i, &v) in x[..body].iter().enumerate() {
            m[i % 8] = if better(v, m[i % 8]) { v } else { m[i % 8] };
        }
        let mut best = m[1..].iter().fold(m[0], |a, &v| if better(v, a) { v } else { a });
        for &v in &x[body..] {
            best = if better(v, best) { v } else { best };
        }
        best
    }

    /// NumPy's argmax/argmin loop: the first strictly better element, stopping at a NaN.
    #[allow(clippy::eq_op)]
    fn reference_arg<T: Copy + PartialOrd>(x: &[T], greater: bool) -> i64 {
        let (mut best, mut index) = (x[0], 0);
        if best != best {
            return 0;
        }
        for (i, &v) in x.iter().enumerate().skip(1) {
            if v != v {
                return i as i64;
            }
            if if greater { v > best } else { v < best } {
                (best, index) = (v, i);
            }
        }
        index as i64
    }

    /// Lengths around every block boundary of the kernels.
    const LENGTHS: [usize; 22] = [
        1, 2, 7, 8, 9, 15, 16, 17, 31, 127, 128, 129, 255, 256, 257, 2047, 2048, 2049, 4095, 4096, 4097, 10_001,
    ];

    /// Float arrays of length `n` with the awkward values kernels must get right.
    fn float_cases(n: usize, seed: &mut u32) -> Vec<Vec<f32>> {
        let mut next = || {
            *seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            *seed
        };
        let random: Vec<f32> = (0..n).map(|_| (next() >> 8) as f32 / 65536.0 - 128.0).collect();
        let mut cases = vec![random.clone()];
        for at in [0, 1, 7, 8, 16, n / 2, 2047, 2048, n - 1] {
            if at < n {
                let mut x = random.clone();
                x[at] = f32::NAN;
                if at + 3 < n {
                    x[at + 3] = -f32::NAN; // a second NaN: the first one wins
                }
                cases.push(x);
            }
        }
        // Signed zeros only (every max and min is a zero), and mixed with negatives.
        cases.push(
            (0..n)
                .map(|i| if (next() >> 16) % 2 == 0 || i == 0 { 0.0 } else { -0.0 })
                .collect(),
        );
        cases.push(
            (0..n)
                .map(|_| [0.0, -0.0, -1.0, -2.5][((next() >> 16) % 4) as usize])
                .collect(),
        );
        // Few zeros, the best value of max (or min): in one class only, or
        // after the last eight-element boundary only.
        for sign in [-1.0, 1.0] {
            let mut x = vec![sign; n];
            x[n - 1] = 0.0;
            cases.push(x.clone());
            if n > 8 {
                x[(n / 2) | 3] = -0.0;
                x[n - 2] = -0.0;
            }
            cases.push(x);
        }
        // Infinities (their `v - v` is NaN), ties of the best value far apart.
        let mut x = random.clone();
        x[n / 3] = f32::INFINITY;
        x[n - 1] = f32::NEG_INFINITY;
        cases.push(x);
        cases.push((0..n).map(|_| ((next() >> 16) % 3) as f32).collect());
        cases.push(vec![5.0; n]);
        cases
    }

    /// Every kernel on every instruction set against the scalar references.
    #[test]
    fn kernels_match_their_references_on_every_isa() {
        let mut seed = 7;
        for n in LENGTHS {
            for x32 in float_cases(n, &mut seed) {
                let x64: Vec<f64> = x32.iter().map(|&v| f64::from(v)).collect();
                let ints: Vec<i32> = x32.iter().map(|&v| if v.is_nan() { 3 } else { v as i32 }).collect();
                let g = contiguous(n);
                for isa in simd::available() {
                    simd::forcing(isa, || {
                        let ctx = (isa, n, &x32[..n.min(20)]);
                        for greater in [true, false] {
                            let got = extreme(&x32, g, greater)[0];
                            assert_eq!(got.to_bits(), reference_extreme(&x32, greater).to_bits(), "{ctx:?}");
                            let got = extreme(&x64, g, greater)[0];
                            assert_eq!(got.to_bits(), reference_extreme(&x64, greater).to_bits(), "{ctx:?}");
                            assert_eq!(arg_extreme(&x32, g, greater), [reference_arg(&x32, greater)], "{ctx:?}");
                            assert_eq!(arg_extreme(&x64, g, greater), [reference_arg(&x64, greater)], "{ctx:?}");
                            assert_eq!(
                                arg_ordered(&ints, g, greater),
                                [reference_arg(&ints, greater)],
                                "{ctx:?}"
                            );
                        }
                        // (Which NaN a sum of two NaNs gives is the compiler's choice: it
                        // may swap the operands of an addition.)
                        let (s, want) = (sum(&x32, g, false, |v| v, |v| v)[0], 0.0 + naive_pairwise(&x32));
                        assert!(s.to_bits() == want.to_bits() || s.is_nan() && want.is_nan(), "{ctx:?}");
                        let any = x32.iter().any(|&v| v != 0.0);
                        let all = x32.iter().all(|&v| v != 0.0);
                        assert_eq!(truth(&x32, g, false, |v: f32| v != 0.0), [u8::from(any)], "{ctx:?}");
                        assert_eq!(truth(&x32, g, true, |v: f32| v != 0.0), [u8::from(all)], "{ctx:?}");
                    });
                }
            }
        }
    }

    #[test]
    fn empty_and_many_lanes() {
        for isa in simd::available() {
            simd::forcing(isa, || {
                let x: Vec<f32> = (0..24).map(|i| (i % 5) as f32).collect();
                let g = Lanes {
                    outer: 3,
                    len: 8,
                    inner: 1,
                };
                assert_eq!(extreme(&x, g, true), [4.0, 4.0, 4.0]);
                assert_eq!(arg_extreme(&x, g, true), [4, 1, 3]);
                assert_eq!(
                    arg_ordered(
                        &[1u8, 3, 3, 0, 9, 9],
                        Lanes {
                            outer: 2,
                            len: 3,
                            inner: 1
                        },
                        true
                    ),
                    [1, 1]
                );
                let none = Lanes {
                    outer: 2,
                    len: 0,
                    inner: 1,
                };
                assert_eq!(truth(&[] as &[u8], none, true, |v| v != 0), [1, 1]);
                assert_eq!(truth(&[] as &[u8], none, false, |v| v != 0), [0, 0]);
            });
        }
    }

    proptest! {
        #[test]
        fn isas_agree_on_random_floats(
            mut x in proptest::collection::vec(-4.0f64..4.0, 1..5000),
            nans in proptest::collection::vec(any::<prop::sample::Index>(), 0..3),
            zeros in proptest::collection::vec(any::<prop::sample::Index>(), 0..40),
            round in any::<bool>(),
        ) {
            if round {
                x.iter_mut().for_each(|v| *v = v.round());
            }
            for z in &zeros {
                let i = z.index(x.len());
                x[i] = if i % 2 == 0 { 0.0 } else { -0.0 };
            }
            for n in &nans {
                let i = n.index(x.len());
                x[i] = f64::NAN;
            }
            let g = contiguous(x.len());
            let results: Vec<_> = simd::available().into_iter().map(|isa| simd::forcing(isa, || {
                let mut bits = Vec::new();
                for greater in [true, false] {
                    bits.push(extreme(&x, g, greater)[0].to_bits());
                    bits.push(arg_extreme(&x, g, greater)[0] as u64);
                }
                for buffered in [false, true] {
                    let s = sum(&x, g, buffered, |v| v, |v| v)[0];
                    bits.push(if s.is_nan() { u64::MAX } else { s.to_bits() });
                }
                bits
            })).collect();
            for r in &results[1..] {
                prop_assert_eq!(r, &results[0]);
            }
            prop_assert_eq!(results[0][1] as i64, reference_arg(&x, true));
            prop_assert_eq!(results[0][3] as i64, reference_arg(&x, false));
            prop_assert_eq!(results[0][0], reference_extreme(&x, true).to_bits());
        }
    }
}
