//! One pass over the selected rows for all the queries, a block of rows at a
//! time: the block is read from the array once (borrowed as it lies when it
//! already is a run of summands, else widened into a fixed buffer), then
//! every query meets every row of it in register tiles, and each sum becomes
//! a key offered to its query's [`TopK`]. Memory: the buffer of one block
//! (about [`BLOCK_BYTES`], at least a few rows) and the `Q·k` kept
//! candidates; nothing grows with the number of rows.
//!
//! One query sums `(x − q)²` for `l2` directly. A batch sums `x·q` for every
//! metric (one kernel, the queries sharing each load of a row) and takes
//! `l2` as `‖x‖² − 2x·q + ‖q‖²`, as faiss and NumPy users do; that loses
//! precision where the distance is small against the norms, so the `k` rows
//! kept are then measured again directly and put back in order: a batch
//! reports the same distances as its queries one at a time. Cosine
//! similarity computes the norms of rows on the fly (no cache to keep in
//! step with writes): one more sum per row, over a row just read.

use super::kernels::{sums, Stored};
use super::rows::Rows;
use super::topk::TopK;
use super::Metric;
use crate::compute::kernels::Float;
use crate::compute::simd;

/// About how many bytes of summands a block holds: with the tile of queries
/// it stays in the L2 cache while every query meets it.
pub const BLOCK_BYTES: usize = 64 << 10;

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
/// [`Metric::key`]). `L` is the number of partial sums (64 bytes of `A`).
pub fn search<T: Stored, const L: usize>(
    matrix: &Matrix<T>,
    rows: &Rows,
    queries: &[T::A],
    q_count: usize,
    metric: Metric,
    k: usize,
) -> Vec<TopK> {
    let fused = simd::fused();
    let wide = simd::wide();
    match (fused, wide) {
        (true, true) => simd::run(
            #[inline(always)]
            || scan::<T, L, true, 4, 4>(matrix, rows, queries, q_count, metric, k),
        ),
        (true, false) => simd::run(
            #[inline(always)]
            || scan::<T, L, true, 2, 2>(matrix, rows, queries, q_count, metric, k),
        ),
        (false, _) => simd::run(
            #[inline(always)]
            || scan::<T, L, false, 2, 2>(matrix, rows, queries, q_count, metric, k),
        ),
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
        buf.extend(stored.iter().map(|&v| v.widen()));
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

#[inline(always)]
fn scan<T: Stored, const L: usize, const FUSED: bool, const R: usize, const C: usize>(
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
    let query = |c: usize| &queries[c * d..(c + 1) * d];
    let chunk = T::CHUNK;
    let norm = |v: &[T::A]| sums::<T::A, L, 1, 1, FUSED, false>([v], [v], chunk)[0][0];
    let batch = q_count > 1;
    // Norms are needed for cosine, and for l2 when a batch expands it.
    let with_norms = metric == Metric::Cosine || (metric == Metric::L2 && batch);
    let query_norms: Vec<f64> = if with_norms {
        (0..q_count).map(|c| norm(query(c))).collect()
    } else {
        Vec::new()
    };
    let per_block = (BLOCK_BYTES / (d * std::mem::size_of::<T::A>()).max(1)).max(R);
    let mut buf = Vec::new();
    let mut row_norms = vec![0.0; if with_norms { per_block } else { 0 }];
    let key = |s: f64, row_norm: f64, c: usize| match metric {
        Metric::L2 if batch => row_norm - 2.0 * s + query_norms[c],
        Metric::L2 | Metric::Ip => metric.key(s),
        Metric::Cosine => metric.key(s / (row_norm.sqrt() * query_norms[c].sqrt())),
    };
    let mut first = 0;
    while first < rows.len() {
        let count = per_block.min(rows.len() - first);
        let x = block(matrix, rows, first, count, &mut buf);
        let row = |i: usize| &x[i * d..(i + 1) * d];
        if with_norms {
            for (i, n) in row_norms.iter_mut().take(count).enumerate() {
                *n = norm(row(i));
            }
        }
        let mut offer = |i: usize, c: usize, s: f64| {
            let row_norm = if with_norms { row_norms[i] } else { 0.0 };
            tops[c].offer_next(key(s, row_norm, c), rows.row(first + i));
        };
        if !batch {
            let direct = metric == Metric::L2;
            let q = query(0);
            let mut i = 0;
            while i + 4 <= count {
                let x4 = std::array::from_fn(|r| row(i + r));
                let s = if direct {
                    sums::<T::A, L, 4, 1, FUSED, true>(x4, [q], chunk)
                } else {
                    sums::<T::A, L, 4, 1, FUSED, false>(x4, [q], chunk)
                };
                for (r, s) in s.iter().enumerate() {
                    offer(i + r, 0, s[0]);
                }
                i += 4;
            }
            for i in i..count {
                let s = if direct {
                    sums::<T::A, L, 1, 1, FUSED, true>([row(i)], [q], chunk)
                } else {
                    sums::<T::A, L, 1, 1, FUSED, false>([row(i)], [q], chunk)
                };
                offer(i, 0, s[0][0]);
            }
        } else {
            let mut c = 0;
            while c < q_count {
                let wide = c + C <= q_count;
                let mut i = 0;
                while i < count {
                    if wide && i + R <= count {
                        let s = sums::<T::A, L, R, C, FUSED, false>(
                            std::array::from_fn(|r| row(i + r)),
                            std::array::from_fn(|j| query(c + j)),
                            chunk,
                        );
                        for (r, s) in s.iter().enumerate() {
                            for (j, &s) in s.iter().enumerate() {
                                offer(i + r, c + j, s);
                            }
                        }
                        i += R;
                    } else if wide {
                        let s =
                            sums::<T::A, L, 1, C, FUSED, false>([row(i)], std::array::from_fn(|j| query(c + j)), chunk);
                        for (j, &s) in s[0].iter().enumerate() {
                            offer(i, c + j, s);
                        }
                        i += 1;
                    } else {
                        let s = sums::<T::A, L, 1, 1, FUSED, false>([row(i)], [query(c)], chunk);
                        offer(i, c, s[0][0]);
                        i += 1;
                    }
                }
                c += if wide { C } else { 1 };
            }
        }
        first += count;
    }
    if metric == Metric::L2 && batch {
        // Measure the kept rows again directly, as one query would.
        let mut one = Vec::new();
        for (c, top) in tops.iter_mut().enumerate() {
            let kept = std::mem::replace(top, TopK::new(k)).into_sorted();
            for candidate in kept {
                let x = block(matrix, &Rows::List(vec![candidate.row]), 0, 1, &mut one);
                let s = sums::<T::A, L, 1, 1, FUSED, true>([x], [query(c)], chunk)[0][0];
                top.offer(super::topk::Candidate {
                    key: s,
                    row: candidate.row,
                });
            }
        }
    }
    tops
}
