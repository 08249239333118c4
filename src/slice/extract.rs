//! `arr[items]` built as a new array, as `np.save` writes it.

use super::selection::Selection;
use super::spec::Item;
use super::strided_copy::copy;
use super::view::View;
use crate::array::NpArray;
use crate::dtype::{ByteOrder, Dtype, Kind};
use crate::error::Result;
use crate::meta::Meta;
use crate::shape::Shape;

impl Selection {
    /// `np.save(arr[items])` as a stored value: same shape, dtype, order and
    /// bytes, copied from `array` (the one the selection was resolved against).
    pub fn build(&self, array: &NpArray) -> Result<NpArray> {
        debug_assert_eq!(array.itemsize(), self.view.itemsize);
        let fortran_order = self.saves_fortran_order();
        let shape = self.shape();
        let out_view = View::whole(&shape, array.itemsize(), fortran_order);
        let out = NpArray::from_fn(
            Meta::new(array.dtype().clone(), shape, fortran_order),
            |out| match &self.gather {
                None => copy(out, &out_view, array.data(), &self.view, fortran_order),
                Some(gather) => {
                    for (position, &offset) in (0..).zip(&gather.offsets) {
                        let dst = out_view.at(gather.axis, position);
                        copy(out, &dst, array.data(), &self.view.shifted(offset), fortran_order);
                    }
                }
            },
        )?;
        if self.element {
            as_numpy_scalar(out)
        } else {
            Ok(out)
        }
    }
}

/// `np.save(arr[items])` for a one-off read (items from [`super::parse`]);
/// a command that asks more of the selection resolves it once instead.
pub fn slice(array: &NpArray, items: &[Item]) -> Result<NpArray> {
    Selection::resolve(array, items)?.build(array)
}

/// NumPy returns a scalar, not an array, when every axis gets an integer, and
/// `np.save` writes a scalar as a 0-d array of the scalar's own dtype: numbers
/// in native (little-endian) order, bytes and str trimmed to their length.
fn as_numpy_scalar(item: NpArray) -> Result<NpArray> {
    let data = item.data();
    let shape = Shape::new();
    let trimmed = |unit: usize| {
        let units = data
            .chunks_exact(unit)
            .rposition(|c| c.iter().any(|&b| b != 0))
            .map_or(0, |p| p + 1);
        units.max(1) as u32
    };
    let (kind, order, bytes): (Kind, ByteOrder, Vec<u8>) = match &item.dtype().kind {
        Kind::Bytes(_) => {
            let n = trimmed(1);
            let mut bytes = data.to_vec();
            bytes.resize(n as usize, 0);
            (Kind::Bytes(n), ByteOrder::NotApplicable, bytes)
        }
        Kind::Unicode(_) => {
            let n = trimmed(4);
            let mut bytes = data.to_vec();
            bytes.resize(4 * n as usize, 0);
            if item.dtype().order == ByteOrder::Big {
                bytes.chunks_exact_mut(4).for_each(<[u8]>::reverse);
            }
            (Kind::Unicode(n), ByteOrder::Little, bytes)
        }
        kind if item.dtype().order == ByteOrder::Big => {
            let parts = match kind {
                Kind::Complex64 | Kind::Complex128 | Kind::CLongDouble(_) => 2,
                _ => 1,
            };
            let mut bytes = data.to_vec();
            let unit = bytes.len() / parts;
            bytes.chunks_exact_mut(unit).for_each(<[u8]>::reverse);
            (kind.clone(), ByteOrder::Little, bytes)
        }
        _ => return Ok(item),
    };
    NpArray::from_parts(Meta::new(Dtype { kind, order }, shape, false), &bytes)
}
