//! `arr[items] = value` in place, with NumPy's broadcasting and no casting.

use smallvec::SmallVec;

use super::index_error;
use super::selection::Selection;
use super::strided_copy::copy;
use super::view::{Dim, View};
use crate::array::NpArray;
use crate::dtype::Kind;
use crate::error::Result;
use crate::npy::ParsedNpy;
use crate::shape;

/// The source of an assignment seen through the target's shape, with NumPy's
/// broadcasting: missing leading dimensions and dimensions of length 1
/// repeat, and leading dimensions of length 1 the target lacks are dropped.
/// `None` when the shapes do not broadcast.
fn broadcast(value: &ParsedNpy, target_shape: &[u64]) -> Option<View> {
    let source = View::whole(
        value.meta.shape(),
        value.meta.dtype().itemsize(),
        value.meta.saved_fortran(),
    );
    let extra = source.dims.len().saturating_sub(target_shape.len());
    if source.dims[..extra].iter().any(|d| d.len != 1) {
        return None;
    }
    let src_dims = &source.dims[extra..];
    let lead = target_shape.len() - src_dims.len();
    let mut dims = SmallVec::new();
    for (i, &len) in target_shape.iter().enumerate() {
        let dim = if i < lead {
            Dim { len: 1, stride: 0 }
        } else {
            src_dims[i - lead]
        };
        let stride = match dim.len {
            n if n == len => dim.stride,
            1 => 0,
            _ => return None,
        };
        dims.push(Dim { len, stride });
    }
    Some(View {
        offset: 0,
        dims,
        itemsize: source.itemsize,
    })
}

/// NumPy's shape text in a gathered assignment's error, without spaces: `(2,4)`.
fn compact_repr(shape: &[u64]) -> String {
    shape::repr(shape).replace(' ', "")
}

impl Selection {
    /// `arr[items] = value` in place, into `array` (the one the selection
    /// was resolved against). The value must have the array's dtype (no
    /// casting) and broadcast to the selection's shape; the array is
    /// untouched on error. When an index list repeats an index, the last of
    /// its values is written, as in NumPy, and only that one: the work is one
    /// copy per distinct element whatever the number of repeats.
    pub fn assign(&self, array: &mut NpArray, value: &ParsedNpy) -> Result<()> {
        debug_assert_eq!(array.itemsize(), self.view.itemsize);
        if value.meta.dtype() != array.dtype() {
            return Err(index_error(format!(
                "dtype mismatch: the array is {} ({}), the value is {} ({}); NP.SETSLICE does not cast",
                array.dtype().name(),
                array.dtype().descr(),
                value.meta.dtype().name(),
                value.meta.dtype().descr()
            )));
        }
        let target = &self.view;
        let shape = self.shape();
        let Some(gather) = &self.gather else {
            if self.element && !value.meta.shape().is_empty() {
                let item = sequence_as_element(value)?;
                let start = usize::try_from(target.offset).expect("an element of the array lies in its buffer");
                array.data_mut()[start..start + item.len()].copy_from_slice(&item);
                return Ok(());
            }
            let source = broadcast(value, &shape).ok_or_else(|| {
                index_error(format!(
                    "could not broadcast input array from shape {} into shape {}",
                    shape::repr(value.meta.shape()),
                    shape::repr(&shape)
                ))
            })?;
            copy(array.data_mut(), target, value.data, &source, false);
            return Ok(());
        };
        let source = broadcast(value, &shape).ok_or_else(|| {
            index_error(format!(
                "shape mismatch: value array of shape {} could not be broadcast to indexing result of shape {}",
                compact_repr(value.meta.shape()),
                compact_repr(&shape)
            ))
        })?;
        let mut write = |position: usize| {
            copy(
                array.data_mut(),
                &target.shifted(gather.offsets[position]),
                value.data,
                &source.at(gather.axis, position as u64),
                false,
            )
        };
        match gather.last_of_each() {
            Some(kept) => kept.into_iter().for_each(&mut write),
            None => (0..gather.offsets.len()).for_each(&mut write),
        }
        Ok(())
    }
}

/// The bytes NumPy writes for `arr[i] = value` when `i` is one element and
/// `value` has one or more dimensions. NumPy does not broadcast there: it
/// converts the value as one Python object, which only some dtypes accept.
fn sequence_as_element(value: &ParsedNpy) -> Result<Vec<u8>> {
    let itemsize = value.meta.dtype().itemsize() as usize;
    let size = shape::size(value.meta.shape());
    let error = |message: &str| Err(index_error(message));
    match value.meta.dtype().kind {
        // The truth value, or the record, of a one-element array.
        Kind::Bool | Kind::Record(_) if size == 1 => Ok(value.data.to_vec()),
        Kind::Bool | Kind::Record(_) => error("setting an array element with a sequence."),
        // Raw bytes take the value's buffer, cut or zero-padded to the item.
        Kind::Void(_) => {
            if !value.meta.order().is_c() {
                return error("ndarray is not C-contiguous");
            }
            let mut item = value.data[..itemsize.min(value.data.len())].to_vec();
            item.resize(itemsize, 0);
            Ok(item)
        }
        Kind::Bytes(_) | Kind::Unicode(_) => error("setting an array element with a sequence"),
        Kind::DateTime(_) => error("Could not convert object to NumPy datetime"),
        Kind::TimeDelta(_) => error("Could not convert object to NumPy timedelta"),
        Kind::LongDouble(_) | Kind::Complex64 | Kind::Complex128 | Kind::CLongDouble(_) => {
            error("only 0-dimensional arrays can be converted to Python scalars")
        }
        _ => error("setting an array element with a sequence."),
    }
}
