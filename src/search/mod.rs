//! Exact nearest-row search of a stored matrix (`NP.KNN`), free of Redis:
//! for each query the `k` rows of an (N, d) array nearest it, by squared
//! Euclidean distance (`l2`), inner product (`ip`) or cosine similarity
//! (`cosine`), or by differing bits (`hamming`, [`hamming`]), ties going to
//! the lower row, NaN distances after every number.
//!
//! How distances are summed: float32, float16, int8 and uint8 data in
//! float32 (float16 widened exactly; the 8-bit integers in chunks of 256
//! columns that float32 sums exactly, the chunks added in float64, so their
//! distances are exact integers; one 8-bit query sums them as integers
//! where the CPU has AVX-512 VNNI, `simd::dot8`, the same values), float64
//! data in float64; queries are cast
//! to the array's dtype first (only where NumPy's `'safe'` rule allows). See
//! [`kernels`] for the order of the additions and [`scan`] for the passes.

pub mod hamming;
pub mod kernels;
pub mod rows;
pub mod scan;
pub mod topk;

use half::f16;

use crate::array::NpArray;
use crate::compute::{c_order_data, dtype_repr, numpy_error, pod_vec, ufunc};
use crate::convert;
use crate::dtype::{ByteOrder, Dtype, Kind};
use crate::error::Result;
use crate::meta::Meta;
use crate::shape::Shape;
use crate::slice::Item;
use kernels::Stored;
use rows::Rows;
use scan::Matrix;

/// The most results (queries × k) one search returns: 2^20, about 12 MiB of
/// reply (int64 indices and float32 distances).
pub const MAX_RESULTS: u64 = 1 << 20;

/// How nearness is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Squared Euclidean distance, smaller is nearer (as faiss's `IndexFlatL2`).
    L2,
    /// Inner product, larger is nearer.
    Ip,
    /// Cosine similarity, larger is nearer; NaN for a zero row or query.
    Cosine,
    /// The number of differing bits (uint8 rows of packed bits) or
    /// elements (bool rows), smaller is nearer; an integer.
    Hamming,
}

impl Metric {
    pub fn parse(text: &[u8]) -> Result<Metric> {
        match text.to_ascii_lowercase().as_slice() {
            b"l2" => Ok(Metric::L2),
            b"ip" => Ok(Metric::Ip),
            b"cosine" => Ok(Metric::Cosine),
            b"hamming" => Ok(Metric::Hamming),
            _ => Err(numpy_error(format!(
                "unknown METRIC '{}' (use l2, ip, cosine or hamming)",
                crate::error::excerpt(&String::from_utf8_lossy(text))
            ))),
        }
    }

    /// The distance as a key that is smaller for nearer rows (and back:
    /// negation is its own inverse).
    #[inline(always)]
    pub fn key(self, distance: f64) -> f64 {
        match self {
            Metric::L2 | Metric::Hamming => distance,
            Metric::Ip | Metric::Cosine => -distance,
        }
    }
}

/// The result of a search: per query, `k` rows of the whole array nearest
/// first, and their distances.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// `(k,)` for a query of shape `(d,)`, else `(Q, k)`.
    pub shape: Shape,
    pub rows: Vec<i64>,
    pub distances: Vec<f64>,
    /// Whether distances are float64 (float64 data) rather than float32.
    pub float64: bool,
    /// Whether distances are int64 (`hamming`), which takes precedence.
    pub integer: bool,
}

impl Found {
    /// The indices as an int64 array.
    pub fn indices_array(&self) -> Result<NpArray> {
        let dtype = Dtype {
            kind: Kind::Int64,
            order: ByteOrder::Little,
        };
        NpArray::from_parts(
            Meta::new(dtype, self.shape.clone(), false),
            bytemuck::cast_slice(&self.rows),
        )
    }

    /// The distances: int64 counts for hamming, float64 for float64 data,
    /// float32 otherwise.
    pub fn distances_array(&self) -> Result<NpArray> {
        let (kind, bytes): (Kind, Vec<u8>) = if self.integer {
            let counts: Vec<i64> = self.distances.iter().map(|&v| v as i64).collect();
            (Kind::Int64, bytemuck::cast_slice(&counts).to_vec())
        } else if self.float64 {
            (Kind::Float64, bytemuck::cast_slice(&self.distances).to_vec())
        } else {
            let narrowed: Vec<f32> = self.distances.iter().map(|&v| v as f32).collect();
            (Kind::Float32, bytemuck::cast_slice(&narrowed).to_vec())
        };
        let dtype = Dtype {
            kind,
            order: ByteOrder::Little,
        };
        NpArray::from_parts(Meta::new(dtype, self.shape.clone(), false), &bytes)
    }
}

/// The `k` rows of `matrix` (restricted to `slice`'s rows) nearest each row
/// of `query`, with NumPy's errors for what it would refuse.
pub fn knn(matrix: &NpArray, query: &NpArray, k: i64, metric: Metric, slice: Option<&[Item]>) -> Result<Found> {
    let &[n, d] = matrix.shape() else {
        return Err(numpy_error(format!(
            "NP.KNN searches the rows of a 2-D array, the array has shape {}",
            crate::shape::repr(matrix.shape())
        )));
    };
    let dtype = matrix.dtype();
    if metric == Metric::Hamming && !matches!(dtype.kind, Kind::UInt8 | Kind::Bool) {
        return Err(numpy_error(format!(
            "METRIC hamming compares uint8 rows of packed bits (np.packbits) or bool rows, not {}",
            dtype_repr(dtype)
        )));
    }
    let supported = metric == Metric::Hamming
        || matches!(
            dtype.kind,
            Kind::Float32 | Kind::Float64 | Kind::Float16 | Kind::Int8 | Kind::UInt8
        );
    if !supported || dtype.order == ByteOrder::Big {
        return Err(numpy_error(format!(
            "NP.KNN searches float32, float64, float16, int8 and uint8 arrays in native byte order, not {}",
            dtype_repr(dtype)
        )));
    }
    let (q_count, single) = match *query.shape() {
        [qd] => (1, Some(qd)),
        [q, _] => (q, None),
        _ => {
            return Err(numpy_error(format!(
                "the query must have shape (d,) or (Q, d), got shape {}",
                crate::shape::repr(query.shape())
            )))
        }
    };
    if !ufunc::can_cast_safely(&query.dtype().kind, &dtype.kind) {
        return Err(numpy_error(format!(
            "Cannot cast array data from {} to {} according to the rule 'safe'",
            dtype_repr(query.dtype()),
            dtype_repr(dtype)
        )));
    }
    let qd = *query.shape().last().expect("1 or 2 dimensions");
    if qd != d {
        return Err(numpy_error(format!(
            "matmul: Input operand 1 has a mismatch in its core dimension 0, with gufunc signature (n?,k),(k,m?)->(n?,m?) (size {qd} is different from {d})"
        )));
    }
    let rows = match slice {
        Some(items) => Rows::select(items, n)?,
        None => Rows::all(n),
    };
    if rows.is_empty() {
        return Err(numpy_error(
            "no rows to search: the array (or its SLICE) selects 0 rows",
        ));
    }
    if k < 1 || k as u64 > rows.len() as u64 {
        return Err(numpy_error(format!(
            "k must be between 1 and the number of rows searched ({}), got {k}",
            rows.len()
        )));
    }
    let k = k as u64;
    if q_count.saturating_mul(k) > MAX_RESULTS {
        return Err(numpy_error(format!(
            "{q_count} queries of k={k} would return more than {MAX_RESULTS} results: split the batch"
        )));
    }
    let cast = if query.dtype() == dtype {
        None
    } else {
        Some(convert::cast(query, dtype)?)
    };
    let query_data = c_order_data(cast.as_ref().unwrap_or(query));
    let (n, d, k) = (n as usize, d as usize, k as usize);
    let fortran = matrix.saved_fortran();
    let tops = match dtype.kind {
        _ if metric == Metric::Hamming => {
            let matrix = Matrix {
                data: matrix.data(),
                n,
                d,
                fortran,
            };
            hamming::search(&matrix, &rows, &query_data, q_count as usize, k)
        }
        Kind::Float32 => run::<f32, 32>(matrix, n, d, fortran, &rows, &query_data, q_count as usize, metric, k),
        Kind::Float64 => run::<f64, 16>(matrix, n, d, fortran, &rows, &query_data, q_count as usize, metric, k),
        Kind::Float16 => run::<f16, 32>(matrix, n, d, fortran, &rows, &query_data, q_count as usize, metric, k),
        Kind::Int8 => run::<i8, 32>(matrix, n, d, fortran, &rows, &query_data, q_count as usize, metric, k),
        _ => run::<u8, 32>(matrix, n, d, fortran, &rows, &query_data, q_count as usize, metric, k),
    };
    let mut found = Found {
        shape: match single {
            Some(_) => Shape::from_slice(&[k as u64]),
            None => Shape::from_slice(&[q_count, k as u64]),
        },
        rows: Vec::with_capacity(tops.len() * k),
        distances: Vec::with_capacity(tops.len() * k),
        float64: dtype.kind == Kind::Float64,
        integer: metric == Metric::Hamming,
    };
    for top in tops {
        for candidate in top.into_sorted() {
            found.rows.push(candidate.row as i64);
            found.distances.push(metric.key(candidate.key));
        }
    }
    Ok(found)
}

#[allow(clippy::too_many_arguments)]
fn run<T: Stored, const L: usize>(
    matrix: &NpArray,
    n: usize,
    d: usize,
    fortran: bool,
    rows: &Rows,
    query_data: &[u8],
    q_count: usize,
    metric: Metric,
    k: usize,
) -> Vec<topk::TopK> {
    let data: &[T] = bytemuck::cast_slice(matrix.data());
    let queries: Vec<T::A> = pod_vec::<T>(query_data).into_iter().map(T::widen).collect();
    let matrix = Matrix { data, n, d, fortran };
    scan::search::<T, L>(&matrix, rows, &queries, q_count, metric, k)
}

#[cfg(test)]
mod tests;
