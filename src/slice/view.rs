//! A strided view of a stored buffer, and Python's rules for one index or
//! slice of an axis.

use smallvec::SmallVec;

use super::index_error;
use crate::error::Result;
use crate::shape::Shape;

/// One dimension of a view: its length and the byte distance between neighbours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dim {
    pub len: u64,
    pub stride: i64,
}

/// A strided selection of a stored buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    /// Byte offset of the first selected element (meaningless when the view is empty).
    pub offset: u64,
    pub dims: SmallVec<[Dim; 8]>,
    pub itemsize: u64,
}

/// `base + delta` for a byte offset that indexing guarantees to lie inside
/// the buffer (so at or above 0, and below 2^63 since buffer sizes fit an i64).
pub(super) fn moved(base: u64, delta: i128) -> u64 {
    u64::try_from(i128::from(base) + delta).expect("an in-bounds element's offset is not negative")
}

/// The strides of a stored array: C order, or Fortran order.
fn layout(shape: &[u64], itemsize: u64, fortran_order: bool) -> SmallVec<[Dim; 8]> {
    let mut dims: SmallVec<[Dim; 8]> = shape.iter().map(|&len| Dim { len, stride: 0 }).collect();
    let mut step = itemsize as i64;
    let mut assign = |dim: &mut Dim| {
        dim.stride = step;
        step = step.wrapping_mul(dim.len as i64);
    };
    if fortran_order {
        dims.iter_mut().for_each(&mut assign);
    } else {
        dims.iter_mut().rev().for_each(&mut assign);
    }
    dims
}

/// Python's `slice.indices` followed by the length of the selection.
pub(crate) fn resolve_slice(
    start: Option<i64>,
    stop: Option<i64>,
    step: Option<i64>,
    len: u64,
) -> Result<(i128, i128, u64)> {
    let step = i128::from(step.unwrap_or(1));
    if step == 0 {
        return Err(index_error("slice step cannot be zero"));
    }
    let n = i128::from(len);
    let (lower, upper) = if step > 0 { (0, n) } else { (-1, n - 1) };
    let clamp = |bound: Option<i64>, default: i128| match bound.map(i128::from) {
        None => default,
        Some(b) if b < 0 => (b + n).max(lower),
        Some(b) => b.min(upper),
    };
    let start = clamp(start, if step > 0 { lower } else { upper });
    let stop = clamp(stop, if step > 0 { upper } else { lower });
    let count = if step > 0 && stop > start {
        (stop - start + step - 1) / step
    } else if step < 0 && start > stop {
        (start - stop - step - 1) / -step
    } else {
        0
    };
    // start and stop are clamped to [-1, len], so 0 <= count <= len.
    let count = u64::try_from(count).expect("a slice selects between 0 and len elements");
    Ok((start, step, count))
}

/// An index into an axis of length `len`, negative counting from the end,
/// with NumPy's error when it is out of bounds.
pub(crate) fn resolve_index(index: i64, axis: usize, len: u64) -> Result<i128> {
    let resolved = if index < 0 {
        i128::from(index) + i128::from(len)
    } else {
        i128::from(index)
    };
    if resolved < 0 || resolved >= i128::from(len) {
        return Err(index_error(format!(
            "index {index} is out of bounds for axis {axis} with size {len}"
        )));
    }
    Ok(resolved)
}

impl View {
    /// The whole of an array stored with this shape and order.
    pub fn whole(shape: &[u64], itemsize: u64, fortran_order: bool) -> View {
        View {
            offset: 0,
            dims: layout(shape, itemsize, fortran_order),
            itemsize,
        }
    }

    pub fn shape(&self) -> Shape {
        self.dims.iter().map(|d| d.len).collect()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.dims.iter().any(|d| d.len == 0)
    }

    /// The view with `axis` fixed at `position` (and so removed).
    pub(super) fn at(&self, axis: usize, position: u64) -> View {
        let mut view = self.clone();
        let dim = view.dims.remove(axis);
        view.offset = moved(view.offset, i128::from(position) * i128::from(dim.stride));
        view
    }

    /// The view moved by `delta` bytes.
    pub(super) fn shifted(&self, delta: i64) -> View {
        View {
            offset: moved(self.offset, i128::from(delta)),
            ..self.clone()
        }
    }

    /// NumPy's C_CONTIGUOUS flag: dimensions of length 1 are ignored, and an
    /// empty array is contiguous in both orders.
    fn contiguous<'a>(&self, dims: impl Iterator<Item = &'a Dim>) -> bool {
        let mut expected = self.itemsize as i64;
        for dim in dims.filter(|d| d.len != 1) {
            if dim.stride != expected {
                return false;
            }
            expected = expected.wrapping_mul(dim.len as i64);
        }
        true
    }

    /// The `fortran_order` `np.save` writes for this view: Fortran only when the
    /// view is F- but not C-contiguous; any other view is saved in C order.
    pub fn saves_fortran_order(&self) -> bool {
        !self.is_empty() && !self.contiguous(self.dims.iter().rev()) && self.contiguous(self.dims.iter())
    }

    /// The dimensions in the order elements are visited: C order, or Fortran order.
    pub(super) fn visit_order(&self, fortran_order: bool) -> SmallVec<[Dim; 8]> {
        let mut dims: SmallVec<[Dim; 8]> = self.dims.iter().copied().filter(|d| d.len != 1).collect();
        if fortran_order {
            dims.reverse();
        }
        dims
    }
}
