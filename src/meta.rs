//! An array's metadata: dtype, shape and memory order, made canonical once
//! when built, so that the rule np.save applies to its `fortran_order` flag
//! lives here and nowhere else.

use crate::dtype::Dtype;
use crate::shape::{self, Shape};

/// How the data is laid out. An array with no element, or at most one axis
/// longer than 1, is both C- and Fortran-contiguous (as ndarray's and
/// NumPy's layout flags say): its bytes read the same either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    C,
    F,
    Both,
}

impl Order {
    /// The order of data of `shape` laid out in Fortran order (`fortran`) or C order.
    pub fn of(shape: &[u64], fortran: bool) -> Order {
        if shape.contains(&0) || shape.iter().filter(|&&d| d > 1).count() <= 1 {
            Order::Both
        } else if fortran {
            Order::F
        } else {
            Order::C
        }
    }

    /// The `fortran_order` flag np.save writes: True only for data that is
    /// Fortran- and not C-contiguous.
    pub fn saved_fortran(self) -> bool {
        self == Order::F
    }

    /// Whether the bytes read in C order.
    pub fn is_c(self) -> bool {
        self != Order::F
    }

    /// Whether the bytes read in Fortran order.
    pub fn is_f(self) -> bool {
        self != Order::C
    }
}

/// Dtype, shape and order of an array (or of a payload, or of a result).
#[derive(Debug, Eq)]
pub struct Meta {
    dtype: Dtype,
    shape: Shape,
    order: Order,
}

impl Clone for Meta {
    /// The shape copied as one slice (a header cache hit clones the
    /// metadata: the derived clone copies a shape element by element).
    fn clone(&self) -> Meta {
        Meta {
            dtype: self.dtype.clone(),
            shape: Shape::from_slice(&self.shape),
            order: self.order,
        }
    }
}

impl Meta {
    /// The metadata of data of `shape` laid out in Fortran order (`fortran`) or C order.
    pub fn new(dtype: Dtype, shape: Shape, fortran: bool) -> Meta {
        let order = Order::of(&shape, fortran);
        Meta { dtype, shape, order }
    }

    /// The same dtype, with data of `shape` laid out in Fortran order (`fortran`) or C order.
    pub fn with_shape(&self, shape: Shape, fortran: bool) -> Meta {
        Meta::new(self.dtype.clone(), shape, fortran)
    }

    pub fn dtype(&self) -> &Dtype {
        &self.dtype
    }

    pub fn shape(&self) -> &[u64] {
        &self.shape
    }

    pub fn order(&self) -> Order {
        self.order
    }

    /// The `fortran_order` the header says, as np.save writes it.
    pub fn saved_fortran(&self) -> bool {
        self.order.saved_fortran()
    }

    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    /// Element count (1 for a 0-d array).
    pub fn size(&self) -> u64 {
        shape::size(&self.shape)
    }

    /// The shape's heap bytes, if it spilled out of line (MEMORY USAGE).
    pub fn heap_bytes(&self) -> usize {
        let shape = if self.shape.spilled() {
            self.shape.capacity() * 8
        } else {
            0
        };
        shape + self.dtype.heap_bytes()
    }

    /// The axis np.save leaves header room for, and the one `NP.APPEND`
    /// grows unless the payload decides otherwise ([`Meta::append_axis`]):
    /// the first axis, the last in Fortran order; none for 0-d arrays.
    pub fn growth_axis(&self) -> Option<usize> {
        match (self.ndim(), self.order) {
            (0, _) => None,
            (n, Order::F) => Some(n - 1),
            _ => Some(0),
        }
    }

    /// The axis appending `rows` grows: the growth axis, except that an
    /// array that is both C- and Fortran-ordered (one column of a matrix, or
    /// no entries) grows its last axis when the payload is Fortran-ordered or
    /// fits only there. So a Fortran-order rolling buffer trimmed to one
    /// column still grows its columns.
    pub fn append_axis(&self, rows: &Meta) -> Option<usize> {
        let axis = self.growth_axis()?;
        let last = self.ndim() - 1;
        if self.order != Order::Both || last == axis {
            return Some(axis);
        }
        let fits = |axis: usize| {
            let rest = without_axis(&self.shape, axis);
            if rows.ndim() == self.ndim() {
                without_axis(&rows.shape, axis) == rest
            } else {
                rows.ndim() + 1 == self.ndim() && rows.shape == rest
            }
        };
        let fortran = rows.order == Order::F || (!fits(axis) && fits(last));
        Some(if fortran { last } else { axis })
    }

    /// Bytes one step along `axis` occupies (one row along the first axis).
    pub fn slab_bytes(&self, axis: usize) -> u64 {
        without_axis(&self.shape, axis).iter().product::<u64>() * self.dtype.itemsize()
    }
}

impl PartialEq for Meta {
    /// Cheapest first: the header caches compare metadata on every hit.
    fn eq(&self, other: &Meta) -> bool {
        self.order == other.order && self.shape == other.shape && self.dtype == other.dtype
    }
}

/// `shape` without its axis `axis`.
pub fn without_axis(shape: &[u64], axis: usize) -> Shape {
    shape
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != axis)
        .map(|(_, &d)| d)
        .collect()
}

/// Metadata for the pure layer's unit tests.
#[cfg(test)]
pub(crate) fn test_meta(dtype: &Dtype, shape: &[u64], fortran: bool) -> Meta {
    Meta::new(dtype.clone(), Shape::from_slice(shape), fortran)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fortran_order_is_kept_only_where_numpy_keeps_it() {
        // np.save(io, np.zeros(shape, order='F')) writes True exactly for these.
        for (shape, kept) in [
            (&[3][..], false),
            (&[], false),
            (&[3, 1], false),
            (&[1, 3], false),
            (&[0], false),
            (&[0, 3], false),
            (&[2, 0, 3], false),
            (&[1, 1, 4], false),
            (&[2, 3], true),
            (&[2, 1, 2], true),
        ] {
            assert_eq!(Order::of(shape, true).saved_fortran(), kept, "{shape:?}");
            assert!(!Order::of(shape, false).saved_fortran());
            assert_eq!(Order::of(shape, true) == Order::Both, !kept, "{shape:?}");
        }
    }

    #[test]
    fn a_column_grows_along_the_axis_its_payload_fits() {
        let dtype = Dtype::from_typestr("<f4").unwrap();
        let meta = |shape: &[u64], fortran| Meta::new(dtype.clone(), Shape::from_slice(shape), fortran);
        let column = meta(&[3, 1], true);
        assert_eq!(column.growth_axis(), Some(0));
        assert_eq!(column.append_axis(&meta(&[3, 2], true)), Some(1), "a Fortran payload");
        assert_eq!(column.append_axis(&meta(&[3], false)), Some(1), "one column");
        assert_eq!(column.append_axis(&meta(&[2, 1], false)), Some(0), "rows");
        assert_eq!(
            column.append_axis(&meta(&[3, 1], false)),
            Some(0),
            "either: the first axis"
        );
        assert_eq!(meta(&[2, 3], true).append_axis(&meta(&[2], false)), Some(1));
        assert_eq!(meta(&[2, 3], false).append_axis(&meta(&[2, 3], true)), Some(0));
        assert_eq!(meta(&[], false).append_axis(&meta(&[], false)), None);
    }
}
