//! Server-side maths on stored arrays, free of Redis: reshape and transpose
//! (`NP.RESHAPE`, `NP.TRANSPOSE`), reductions (`NP.REDUCE`) and in-place
//! arithmetic (`NP.UPDATE`). Results follow NumPy: the same dtypes, the same
//! order of operations where it decides the rounding, the same error texts.

pub mod axes;
pub mod kernels;
pub mod reduce;
pub mod reshape;
pub mod simd;
pub mod ufunc;

use crate::array::NpArray;
use crate::dtype::{ByteOrder, Dtype, Kind};
use crate::error::{NpyError, Result};
use crate::meta::Order;
use crate::shape::Shape;
use crate::slice;

/// An error whose text is NumPy's own message, shown after `ERR ` unchanged.
pub(crate) fn numpy_error(text: impl Into<String>) -> NpyError {
    NpyError::Convert(text.into())
}

/// `repr(dtype)` as NumPy prints it in error messages: `dtype('float64')` for
/// native numbers, `dtype('>f8')`, `dtype('<M8[s]')` or `dtype('S2')` otherwise.
pub(crate) fn dtype_repr(dtype: &Dtype) -> String {
    let numeric = !matches!(
        dtype.kind,
        Kind::Bytes(_) | Kind::Unicode(_) | Kind::Void(_) | Kind::Record(_) | Kind::DateTime(_) | Kind::TimeDelta(_)
    );
    if numeric && dtype.order != ByteOrder::Big {
        return format!("dtype('{}')", dtype.name());
    }
    let descr = dtype.descr();
    format!("dtype({})", descr.replacen("'|", "'", 1))
}

/// `arr[items]` copied out for a computation, in the memory order NumPy's
/// iterator sees in the view: a slice of a Fortran-ordered array stays
/// Fortran-ordered even where `np.save` of the view would write C order
/// (steps, reversed axes), so results are laid out and summed as NumPy's are.
pub fn slice_for_compute(array: &NpArray, selection: &slice::Selection) -> Result<NpArray> {
    let view = selection.build(array)?;
    if array.order() != Order::F || view.order() != Order::C {
        return Ok(view);
    }
    // The C-ordered copy, read as its transpose, is Fortran data of the
    // reversed shape; its C-order copy is then the view's Fortran layout.
    let reversed: Shape = view.shape().iter().rev().copied().collect();
    let meta = view.meta();
    let transposed = NpArray::from_parts(meta.with_shape(reversed, true), view.data())?;
    NpArray::from_parts(
        meta.with_shape(Shape::from_slice(view.shape()), true),
        &c_order_data(&transposed),
    )
}

/// `bytes` copied into a vector of `T` (for data that is not aligned for `T`).
pub(crate) fn pod_vec<T: bytemuck::Pod>(bytes: &[u8]) -> Vec<T> {
    let count = bytes.len() / std::mem::size_of::<T>();
    let mut out = vec![T::zeroed(); count];
    bytemuck::cast_slice_mut::<T, u8>(&mut out).copy_from_slice(&bytes[..count * std::mem::size_of::<T>()]);
    out
}

/// The data of `array` rearranged into C order (a copy of the bytes when the
/// array is stored in Fortran order with more than one dimension longer than 1).
pub(crate) fn c_order_data(array: &NpArray) -> Vec<u8> {
    if array.order() != Order::F {
        return array.data().to_vec();
    }
    let (shape, data) = (array.shape(), array.data());
    let mut out = vec![0u8; data.len()];
    match array.itemsize() {
        1 => gather::<1>(shape, data, &mut out),
        2 => gather::<2>(shape, data, &mut out),
        4 => gather::<4>(shape, data, &mut out),
        8 => gather::<8>(shape, data, &mut out),
        16 => gather::<16>(shape, data, &mut out),
        n => gather_dyn(shape, n as usize, data, &mut out),
    }
    out
}

/// Visits the elements of Fortran-ordered data in C order: calls `row` with the
/// element offset of each C-order row's first element and the stride (in
/// elements) along that row.
fn fortran_rows(shape: &[u64], mut row: impl FnMut(usize, usize)) {
    let ndim = shape.len();
    let mut strides: Shape = Shape::with_capacity(ndim);
    let mut step = 1usize;
    for &d in shape {
        strides.push(step as u64);
        step *= d as usize;
    }
    let mut index: Shape = Shape::from_elem(0, ndim);
    let mut base = 0usize;
    loop {
        row(base, strides[ndim - 1] as usize);
        let mut axis = ndim - 1;
        loop {
            if axis == 0 {
                return;
            }
            axis -= 1;
            index[axis] += 1;
            base += strides[axis] as usize;
            if index[axis] < shape[axis] {
                break;
            }
            base -= (strides[axis] * shape[axis]) as usize;
            index[axis] = 0;
        }
    }
}

fn gather<const N: usize>(shape: &[u64], data: &[u8], out: &mut [u8]) {
    let row_len = shape[shape.len() - 1] as usize;
    let mut rows = out.chunks_exact_mut(row_len * N);
    fortran_rows(shape, |base, stride| {
        let row = rows.next().expect("one output row per C-order row");
        for (i, dst) in row.chunks_exact_mut(N).enumerate() {
            let at = (base + i * stride) * N;
            dst.copy_from_slice(&data[at..at + N]);
        }
    });
}

fn gather_dyn(shape: &[u64], n: usize, data: &[u8], out: &mut [u8]) {
    let row_len = shape[shape.len() - 1] as usize;
    let mut rows = out.chunks_exact_mut(row_len * n);
    fortran_rows(shape, |base, stride| {
        let row = rows.next().expect("one output row per C-order row");
        for (i, dst) in row.chunks_exact_mut(n).enumerate() {
            let at = (base + i * stride) * n;
            dst.copy_from_slice(&data[at..at + n]);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::array::test_array;

    #[test]
    fn fortran_data_reads_back_in_c_order() {
        // [[0, 1, 2], [3, 4, 5]] stored in Fortran order.
        let f = test_array("|u1", &[2, 3], true, &[0, 3, 1, 4, 2, 5]);
        assert_eq!(c_order_data(&f), [0, 1, 2, 3, 4, 5]);
        let f3 = test_array("<i2", &[2, 1, 2], true, bytemuck::cast_slice(&[0i16, 2, 1, 3]));
        assert_eq!(c_order_data(&f3), bytemuck::cast_slice::<i16, u8>(&[0, 1, 2, 3]));
    }
}
