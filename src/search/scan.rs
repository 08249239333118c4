//! One pass over the selected rows for all the queries, a block of rows at a
//! time. Memory: one block of widened rows (about [`BLOCK_BYTES`], at least
//! a few rows), the products of a block with [`QUERY_BLOCK`] queries, and
//! the `Q·k` kept candidates; nothing grows with the number of rows.
//!
//! One query reads the rows of a C-ordered array as they lie and sums each
//! against the query as it goes (widening float16 and the 8-bit integers
//! on the fly; float16 by the hardware where it can, `simd::rowsums`): one
//! pass at memory speed. A batch widens a block of rows
//! once and multiplies it with a block of queries as one matrix product
//! (`simd::Gemm`), so the data is read once for the whole batch.
//!
//! The scan ranks by `x·q` for `ip`, by `x·q / (‖x‖‖q‖)` for `cosine` (the
//! norms of rows computed on the fly: one more sum per row, over a row just
//! read, instead of a cache to keep in step with every write), and by
//! `‖x‖² − 2x·q + ‖q‖²` for `l2` in a batch, as faiss does (one float query
//! sums `Σ (x − q)²` as it reads; 8-bit rows summed as integers keep the
//! expansion, exact there). The `k` rows kept are then
//! measured again one by one (`l2` as `Σ (x − q)²`, which keeps precision
//! where distances are small against the norms) and put back in order: a
//! batch reports the distances its queries would one at a time, bit for bit.

use super::kernels::{sum, sum_and_norm, Float, Stored};
use super::rows::Rows;
use super::topk::TopK;
use super::Metric;
use crate::compute::simd::rowsums::Sums;
use crate::compute::simd::{self, Gemm};

/// About how many bytes of summands a block holds: with the tile of queries
/// it stays in the L2 cache while every query meets it.
pub const BLOCK_BYTES: usize = 256 << 10;

/// Queries multiplied with a block of rows at once: their products (a
/// block of rows × this many) stay in the L2 cache too.
pub const QUERY_BLOCK: usize = 64;

/// A 2-D array as stored: C order (row `r` at `r·d`) or Fortran order
/// (element `(r, j)` at `j·n + r`).
pub struct Matrix<'a, T> {
    pub data: &'a [T],
    pub n: usize,
    pub d: usize,
    pub fortran: bool,
}

/// The `k` nearest selected rows to each query (`queries` holds `q_count·d`
/// summands, row after row), for every query its candidates nearest first.
/// Keys are the metric's distances turned so that smaller is nearer (see
/// [`Metric::key`]). `L` is the number of partial sums (128 bytes of `A`).
pub fn search<T: Stored, const L: usize>(
    matrix: &Matrix<T>,
    rows: &Rows,
    queries: &[T::A],
    q_count: usize,
    metric: Metric,
    k: usize,
) -> Vec<TopK> {
    if simd::fused() {
        simd::run(
            #[inline(always)]
            || scan::<T, L, true>(matrix, rows, queries, q_count, metric, k),
        )
    } else {
        simd::run(
            #[inline(always)]
            || scan::<T, L, false>(matrix, rows, queries, q_count, metric, k),
        )
    }
}

/// The rows `rows.row(first..first + count)` as summands, row after row:
/// borrowed from the array when they lie there as such, else widened into `buf`.
#[inline(always)]
fn block<'a, T: Stored>(
    matrix: &'a Matrix<T>,
    rows: &Rows,
    first: usize,
    count: usize,
    buf: &'a mut Vec<T::A>,
) -> &'a [T::A] {
    let d = matrix.d;
    let run = rows.run(first, count).map(|r| r as usize);
    if let (Some(start), false) = (run, matrix.fortran) {
        let stored = &matrix.data[start * d..(start + count) * d];
        if let Some(summands) = T::as_summands(stored) {
            return summands;
        }
        buf.clear();
        buf.resize(stored.len(), T::A::ZERO);
        for (o, &v) in buf.iter_mut().zip(stored) {
            *o = v.widen();
        }
        return buf;
    }
    buf.clear();
    buf.resize(count * d, T::A::ZERO);
    match (run, matrix.fortran) {
        (Some(start), true) => {
            // One column's run of the block's rows at a time.
            for j in 0..d {
                let column = &matrix.data[j * matrix.n + start..][..count];
                for (i, &v) in column.iter().enumerate() {
                    buf[i * d + j] = v.widen();
                }
            }
        }
        (_, true) => {
            for j in 0..d {
                let column = &matrix.data[j * matrix.n..][..matrix.n];
                for i in 0..count {
                    buf[i * d + j] = column[rows.row(first + i) as usize].widen();
                }
            }
        }
        (_, false) => {
            for (i, out) in buf.chunks_exact_mut(d.max(1)).take(count).enumerate() {
                let r = rows.row(first + i) as usize;
                for (o, &v) in out.iter_mut().zip(&matrix.data[r * d..(r + 1) * d]) {
                    *o = v.widen();
                }
            }
        }
    }
    buf
}

/// Row `i` of vectors of length `d` laid one after the other.
#[inline(always)]
fn part<A>(all: &[A], i: usize, d: usize) -> &[A] {
    &all[i * d..(i + 1) * d]
}

/// `Σ v²`, summed as every other sum is.
#[inline(always)]
fn norm<X: Stored, const L: usize, const FUSED: bool>(v: &[X], chunk: usize) -> f64 {
    sum::<X, X, L, FUSED, false>(v, v, chunk)
}

/// What is known of one row and one query when their sum is in.
struct Pair {
    sum: f64,
    row_norm: f64,
    query_norm: f64,
}

/// The key of a row for one query: `sum` is `x·q`, or `Σ (x − q)²` for
/// `l2` when not `expanded`.
#[inline(always)]
fn key(metric: Metric, expanded: bool, p: Pair) -> f64 {
    match metric {
        Metric::L2 | Metric::Hamming if expanded => p.row_norm - 2.0 * p.sum + p.query_norm,
        Metric::L2 | Metric::Ip | Metric::Hamming => metric.key(p.sum),
        Metric::Cosine => metric.key(p.sum / (p.row_norm.sqrt() * p.query_norm.sqrt())),
    }
}

/// [`key`] in a batch, where `p` holds the norms for `l2` and their
/// inverse square roots for `cosine`.
#[inline(always)]
fn batch_key(metric: Metric, p: Pair) -> f64 {
    match metric {
        Metric::L2 | Metric::Hamming => p.row_norm - 2.0 * p.sum + p.query_norm,
        Metric::Ip => -p.sum,
        Metric::Cosine => -(p.sum * p.row_norm * p.query_norm),
    }
}

/// One query's `k` nearest of `rows`, when they are one run of a C-ordered
/// array and a `Stored::row_sums` kernel runs for `T` (kept apart from
/// [`scan`]'s loop: handing that loop's vectors to a kernel that is not
/// inlined cost the batch's loops 5%).
#[inline(always)]
fn one_by_kernel<T: Stored>(
    matrix: &Matrix<T>,
    rows: &Rows,
    q: &[T::A],
    metric: Metric,
    query_norm: f64,
    k: usize,
) -> Option<TopK> {
    let d = matrix.d;
    if matrix.fortran || T::CHUNK != usize::MAX {
        return None;
    }
    let count = rows.len();
    let start = rows.run(0, count)? as usize;
    let what = match metric {
        Metric::L2 => Sums::Squares,
        Metric::Ip => Sums::Dot,
        Metric::Cosine => Sums::DotNorm,
        Metric::Hamming => return None,
    };
    let (mut top, mut gate) = (TopK::new(k), f64::NAN);
    let ran = T::row_sums(
        &matrix.data[start * d..(start + count) * d],
        q,
        count,
        what,
        #[inline(always)]
        |i, sum, row_norm| {
            // `l2` as `Σ (x − q)²` (not expanded), as the loop sums one float query.
            let key = key(
                metric,
                false,
                Pair {
                    sum,
                    row_norm,
                    query_norm,
                },
            );
            top.offer_gated(&mut gate, key, (start + i) as u64);
        },
    );
    ran.then_some(top)
}

#[inline(always)]
fn scan<T: Stored, const L: usize, const FUSED: bool>(
    matrix: &Matrix<T>,
    rows: &Rows,
    queries: &[T::A],
    q_count: usize,
    metric: Metric,
    k: usize,
) -> Vec<TopK> {
    let d = matrix.d;
    let mut tops: Vec<TopK> = (0..q_count).map(|_| TopK::new(k)).collect();
    if q_count == 0 {
        return tops;
    }
    // Keys at or above which a query's candidates are not offered (TopK::gate).
    let mut gates = vec![f64::NAN; q_count];
    let chunk = T::CHUNK;
    let batch = q_count > 1;
    // Norms are needed for cosine, and for l2, which the scan expands.
    let with_norms = metric != Metric::Ip;
    let mut query_norms = vec![0.0; q_count];
    if with_norms {
        for (c, n) in query_norms.iter_mut().enumerate() {
            *n = norm::<T::A, L, FUSED>(part(queries, c, d), chunk);
        }
    }
    let query_scales: Vec<f64> = query_norms
        .iter()
        .map(|&n| if metric == Metric::Cosine { 1.0 / n.sqrt() } else { n })
        .collect();
    let per_block = (BLOCK_BYTES / (d * std::mem::size_of::<T::A>()).max(1)).max(4);
    let query_block = q_count.min(QUERY_BLOCK);
    let mut buf = Vec::new();
    let mut row_norms = vec![0.0; per_block];
    // One query over 8-bit integer rows: the VNNI kernel, where it runs.
    let byte_query = if batch {
        None
    } else {
        T::byte_query(part(queries, 0, d))
    };
    // Whether one query ranks `l2` by `‖x‖² − 2x·q + ‖q‖²` (see `key`).
    let expanded = batch || byte_query.is_some() || !matches!(metric, Metric::L2 | Metric::Hamming);
    let (mut products, mut totals) = (Vec::new(), Vec::new());
    if batch {
        products = vec![T::A::ZERO; per_block * query_block];
        if d > chunk {
            totals = vec![0.0; per_block * query_block];
        }
    }
    // One query over a run of float16 rows (or float32 ones for cosine):
    // the intrinsics kernels, where they run, the same sums as the loop.
    let mut first = 0;
    if !batch {
        if let Some(top) = one_by_kernel(matrix, rows, part(queries, 0, d), metric, query_norms[0], k) {
            tops[0] = top;
            first = rows.len();
        }
    }
    while first < rows.len() {
        let count = per_block.min(rows.len() - first);
        // One query reads a run of rows of a C-ordered array as it lies,
        // widening as it sums; anything else is widened into the buffer.
        let stored = match (batch, matrix.fortran, rows.run(first, count)) {
            (false, false, Some(start)) => Some(&matrix.data[start as usize * d..(start as usize + count) * d]),
            _ => None,
        };
        let x: &[T::A] = match stored {
            Some(_) => &[],
            None => block(matrix, rows, first, count, &mut buf),
        };
        if with_norms && batch {
            for (i, n) in row_norms.iter_mut().take(count).enumerate() {
                let norm = norm::<T::A, L, FUSED>(part(x, i, d), chunk);
                // A batch ranks cosine by x·q times the two 1/‖·‖: no
                // square root or division per pair.
                *n = if metric == Metric::Cosine {
                    1.0 / norm.sqrt()
                } else {
                    norm
                };
            }
        }
        macro_rules! offer {
            ($i:expr, $c:expr, $sum:expr) => {{
                let (i, c) = ($i, $c);
                let pair = Pair {
                    sum: $sum,
                    row_norm: row_norms[i],
                    query_norm: if batch { query_scales[c] } else { query_norms[c] },
                };
                let key = if batch {
                    batch_key(metric, pair)
                } else {
                    key(metric, expanded, pair)
                };
                tops[c].offer_gated(&mut gates[c], key, rows.row(first + i));
            }};
        }
        if !batch {
            let q = part(queries, 0, d);
            // `l2` sums `(x − q)²` in one pass (a subtraction and one FMA per
            // element, as faiss's flat index does), except over 8-bit rows
            // summed exactly as integers, where the expansion is exact.
            // Cosine takes the norms in the same pass as the products.
            // (Widened rows take the two-sum loop even for ip: its code
            // is the faster one there, as measured; the norm is dropped.)
            let widened = std::mem::size_of::<T>() != std::mem::size_of::<T::A>();
            match (stored, with_norms || widened) {
                (Some(s), _) if !expanded => {
                    for i in 0..count {
                        offer!(i, 0, sum::<T, T::A, L, FUSED, true>(part(s, i, d), q, chunk));
                    }
                }
                (None, _) if !expanded => {
                    for i in 0..count {
                        offer!(i, 0, sum::<T::A, T::A, L, FUSED, true>(part(x, i, d), q, chunk));
                    }
                }
                (Some(s), _) if byte_query.is_some() => {
                    let bq = byte_query.as_ref().expect("checked");
                    for i in 0..count {
                        let x = bytemuck::cast_slice(part(s, i, d));
                        let sum = if with_norms {
                            let (sum, norm) = bq.dot_and_norm(x);
                            row_norms[i] = norm as f64;
                            sum
                        } else {
                            bq.dot(x)
                        };
                        offer!(i, 0, sum as f64);
                    }
                }
                (Some(s), false) => {
                    for i in 0..count {
                        offer!(i, 0, sum::<T, T::A, L, FUSED, false>(part(s, i, d), q, chunk));
                    }
                }
                (Some(s), true) => {
                    for i in 0..count {
                        let (sum, norm) = sum_and_norm::<T, T::A, L, FUSED>(part(s, i, d), q, chunk);
                        row_norms[i] = norm;
                        offer!(i, 0, sum);
                    }
                }
                (None, false) => {
                    for i in 0..count {
                        offer!(i, 0, sum::<T::A, T::A, L, FUSED, false>(part(x, i, d), q, chunk));
                    }
                }
                (None, true) => {
                    for i in 0..count {
                        let (sum, norm) = sum_and_norm::<T::A, T::A, L, FUSED>(part(x, i, d), q, chunk);
                        row_norms[i] = norm;
                        offer!(i, 0, sum);
                    }
                }
            }
        } else {
            // x·q for the block's rows and a block of queries at a time, as
            // one matrix product (per chunk of columns for integer data).
            let mut c0 = 0;
            while c0 < q_count {
                let qn = query_block.min(q_count - c0);
                let qs = &queries[c0 * d..(c0 + qn) * d];
                let out = &mut products[..count * qn];
                if d <= chunk {
                    T::A::gemm_abt(count, qn, d, (x, d), (qs, d), out);
                    for i in 0..count {
                        for j in 0..qn {
                            offer!(i, c0 + j, out[i * qn + j].to_f64());
                        }
                    }
                } else {
                    let sum = &mut totals[..count * qn];
                    sum.fill(0.0);
                    let mut start = 0;
                    while start < d {
                        let width = chunk.min(d - start);
                        T::A::gemm_abt(count, qn, width, (&x[start..], d), (&qs[start..], d), out);
                        for (t, v) in sum.iter_mut().zip(out.iter()) {
                            *t += v.to_f64();
                        }
                        start += width;
                    }
                    for i in 0..count {
                        for j in 0..qn {
                            offer!(i, c0 + j, sum[i * qn + j]);
                        }
                    }
                }
                c0 += qn;
            }
        }
        first += count;
    }
    {
        // Measure the kept rows again, l2 directly: the scan's expansion
        // loses precision where distances are small against the norms, and
        // a batch's product sums in its own order; so a batch reports its
        // queries' distances bit for bit, and l2 distances are accurate.
        let mut one = Vec::new();
        for (c, top) in tops.iter_mut().enumerate() {
            let q = part(queries, c, d);
            let kept = std::mem::replace(top, TopK::new(k)).into_sorted();
            for candidate in kept {
                let x = block(matrix, &Rows::List(vec![candidate.row]), 0, 1, &mut one);
                let pair = Pair {
                    sum: if metric == Metric::L2 {
                        sum::<T::A, T::A, L, FUSED, true>(x, q, chunk)
                    } else {
                        sum::<T::A, T::A, L, FUSED, false>(x, q, chunk)
                    },
                    row_norm: if metric == Metric::Cosine {
                        norm::<T::A, L, FUSED>(x, chunk)
                    } else {
                        0.0
                    },
                    query_norm: query_norms[c],
                };
                top.offer(super::topk::Candidate {
                    key: key(metric, false, pair),
                    row: candidate.row,
                });
            }
        }
    }
    tops
}
