//! Array shapes: up to NumPy 2's 64 dimensions, inline up to 8.

use smallvec::SmallVec;

use crate::error::{NpyError, Result};

pub type Shape = SmallVec<[u64; 8]>;

/// NumPy 2's `NPY_MAXDIMS`.
pub const MAX_NDIM: usize = 64;

/// Element count (1 for a 0-d array).
pub fn size(shape: &[u64]) -> u64 {
    shape.iter().product()
}

/// Bytes the data occupies. Like NumPy, zero-length dimensions are skipped
/// in the overflow check, and the total must fit a signed 64-bit size.
pub fn nbytes(shape: &[u64], itemsize: u64) -> Result<u64> {
    let too_big = || NpyError::TooBig(repr(shape));
    let mut total = itemsize.max(1);
    for &d in shape.iter().filter(|&&d| d != 0) {
        total = total
            .checked_mul(d)
            .filter(|&t| t <= i64::MAX as u64)
            .ok_or_else(too_big)?;
    }
    if total > i64::MAX as u64 {
        return Err(too_big());
    }
    Ok(if shape.contains(&0) { 0 } else { size(shape) * itemsize })
}

/// Python's `repr` of the shape tuple.
pub fn repr(shape: &[u64]) -> String {
    let mut s = String::new();
    crate::pyliteral::write_tuple(&mut s, shape);
    s
}
