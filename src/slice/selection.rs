//! `arr[items]` resolved against an array, once per request: a view, plus
//! the gathered axis of an index list, with NumPy's errors in NumPy's order.
//! What a command asks of it (its size here; whether it is a stored run, the
//! built result, an assignment through it, its distinct indices in the
//! files named for them) is answered from that one value.

use smallvec::SmallVec;

use super::index_error;
use super::spec::Item;
use super::view::{moved, resolve_index, resolve_slice, Dim, View};
use crate::array::NpArray;
use crate::error::Result;
use crate::shape::{self, Shape, MAX_NDIM};

/// What an index list adds to a view: one more axis, each of whose positions
/// is the view moved by a byte offset (the listed index times the stride of
/// the axis the list indexes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Gather {
    /// Where the gathered axis sits among the result's axes.
    pub(super) axis: usize,
    pub(super) offsets: Vec<i64>,
}

/// `arr[items]` for one array: a strided view, plus a gathered axis when an
/// item is a list. It answers for the array it was resolved against (or one
/// of the same dtype, shape and order, such as its contiguous copy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// The result without its gathered axis (NumPy's "subspace"), every
    /// integer index already applied to the offset.
    pub(super) view: View,
    pub(super) gather: Option<Gather>,
    /// Every axis gets an integer, with no `...` or `None`: one element,
    /// which NumPy reads as a scalar and writes as a scalar.
    pub(super) element: bool,
}

/// Where NumPy puts the axis of its index arrays: in place when the index
/// arrays and the integers beside them are consecutive in the index
/// (`a[:, [0, 2], 1]`), first otherwise (`a[[0, 2], :, 1]`, also across a
/// `...` or `None`).
#[derive(Default)]
struct GatherPlacement {
    axis: Option<usize>,
    ended: bool,
    apart: bool,
}

impl GatherPlacement {
    fn visit(&mut self, advanced: bool, dims_so_far: usize) {
        match (advanced, self.axis) {
            (true, None) => self.axis = Some(dims_so_far),
            (true, Some(_)) if self.ended => self.apart = true,
            (false, Some(_)) => self.ended = true,
            _ => {}
        }
    }

    fn axis(&self) -> usize {
        if self.apart {
            0
        } else {
            self.axis.unwrap_or(0)
        }
    }
}

impl Selection {
    /// `arr[items]` (items from [`super::parse`]), with NumPy's errors.
    pub fn resolve(array: &NpArray, items: &[Item]) -> Result<Selection> {
        View::whole(array.shape(), array.itemsize(), array.saved_fortran()).select(items)
    }

    /// The data size of the result, known before it is built. An index list
    /// can repeat rows, so a gather can be larger than the array itself.
    pub fn nbytes(&self) -> Result<u64> {
        shape::nbytes(&self.shape(), self.view.itemsize)
    }

    /// The result's shape.
    pub fn shape(&self) -> Shape {
        let mut shape = self.view.shape();
        if let Some(gather) = &self.gather {
            shape.insert(gather.axis, gather.offsets.len() as u64);
        }
        shape
    }

    /// The `fortran_order` `np.save` writes for the result. NumPy allocates a
    /// gathered result with the gathered axis outermost and the other axes
    /// ordered by their strides in the source (largest first, ties in axis
    /// order), then moves the gathered axis into place: the result can be
    /// Fortran-contiguous, e.g. `[:, 1, [0, 5]]` of a C-ordered array.
    pub(super) fn saves_fortran_order(&self) -> bool {
        let Some(gather) = &self.gather else {
            return self.view.saves_fortran_order();
        };
        let sub = &self.view.dims;
        let mut by_stride: SmallVec<[usize; 8]> = (0..sub.len()).collect();
        by_stride.sort_by_key(|&axis| std::cmp::Reverse(sub[axis].stride.unsigned_abs()));
        let mut dims = sub.clone();
        let mut step = self.view.itemsize as i64;
        for &axis in by_stride.iter().rev() {
            dims[axis].stride = step;
            step = step.wrapping_mul(sub[axis].len as i64);
        }
        dims.insert(
            gather.axis,
            Dim {
                len: gather.offsets.len() as u64,
                stride: step,
            },
        );
        View {
            offset: 0,
            dims,
            itemsize: self.view.itemsize,
        }
        .saves_fortran_order()
    }
}

impl View {
    /// `arr[items]` for the array `whole` describes, with NumPy's errors, in
    /// NumPy's order: the index count, integers and slices, then lists.
    fn select(&self, items: &[Item]) -> Result<Selection> {
        let ndim = self.dims.len();
        let indexed = items
            .iter()
            .filter(|i| matches!(i, Item::Index(_) | Item::Slice { .. } | Item::List(_)))
            .count();
        if indexed > ndim {
            return Err(index_error(format!(
                "too many indices for array: array is {ndim}-dimensional, but {indexed} were indexed"
            )));
        }
        let has_list = items.iter().any(|item| matches!(item, Item::List(_)));
        let mut out = View {
            offset: self.offset,
            dims: SmallVec::new(),
            itemsize: self.itemsize,
        };
        let mut lists: SmallVec<[(usize, &[i64]); 2]> = SmallVec::new();
        let mut placement = GatherPlacement::default();
        let mut empty = false;
        let mut axis = 0;
        for item in items {
            placement.visit(
                has_list && matches!(item, Item::Index(_) | Item::List(_)),
                out.dims.len(),
            );
            match item {
                Item::NewAxis => out.dims.push(Dim { len: 1, stride: 0 }),
                Item::Ellipsis => {
                    let skipped = ndim - indexed;
                    out.dims.extend_from_slice(&self.dims[axis..axis + skipped]);
                    axis += skipped;
                }
                Item::Index(index) => {
                    let dim = self.dims[axis];
                    let resolved = resolve_index(*index, axis, dim.len)?;
                    out.offset = moved(out.offset, resolved * i128::from(dim.stride));
                    axis += 1;
                }
                Item::Slice { start, stop, step } => {
                    let dim = self.dims[axis];
                    let (first, step, len) = resolve_slice(*start, *stop, *step, dim.len)?;
                    if len > 0 {
                        out.offset = moved(out.offset, first * i128::from(dim.stride));
                    } else {
                        empty = true;
                    }
                    // Two selected elements lie in the buffer, so their distance
                    // fits; the stride of an axis of one element is never used.
                    let stride = if len > 1 {
                        i64::try_from(i128::from(dim.stride) * step).expect("a distance inside the buffer")
                    } else {
                        dim.stride
                    };
                    out.dims.push(Dim { len, stride });
                    axis += 1;
                }
                Item::List(indices) => {
                    lists.push((axis, indices));
                    axis += 1;
                }
            }
        }
        out.dims.extend_from_slice(&self.dims[axis..]);
        let result_ndim = out.dims.len() + usize::from(has_list);
        if result_ndim > MAX_NDIM {
            return Err(index_error(format!(
                "the result would have {result_ndim} dimensions, the limit is {MAX_NDIM}"
            )));
        }
        if empty {
            out.offset = 0;
        }
        let gather = if has_list {
            Some(Gather {
                axis: placement.axis(),
                offsets: self.gathered_offsets(&lists)?,
            })
        } else {
            None
        };
        let element = items.len() == ndim && items.iter().all(|item| matches!(item, Item::Index(_)));
        Ok(Selection {
            view: out,
            gather,
            element,
        })
    }

    /// The byte offset of each position of the gathered axis: the lists
    /// broadcast together (equal lengths, or length 1), every index checked.
    fn gathered_offsets(&self, lists: &[(usize, &[i64])]) -> Result<Vec<i64>> {
        let len = lists.iter().map(|(_, l)| l.len()).find(|&n| n != 1).unwrap_or(1);
        if lists.iter().any(|(_, l)| l.len() != len && l.len() != 1) {
            let shapes: String = lists.iter().map(|(_, l)| format!("({},) ", l.len())).collect();
            return Err(index_error(format!(
                "shape mismatch: indexing arrays could not be broadcast together with shapes {shapes}"
            )));
        }
        let mut offsets = vec![0i64; len];
        if len == 0 {
            return Ok(offsets); // NumPy checks no index when the lists select nothing
        }
        for &(axis, indices) in lists {
            let dim = self.dims[axis];
            for (position, &index) in indices.iter().enumerate() {
                let delta = i64::try_from(resolve_index(index, axis, dim.len)? * i128::from(dim.stride))
                    .expect("an element's offset is below the buffer size, which fits an i64");
                if indices.len() == 1 {
                    offsets.iter_mut().for_each(|offset| *offset += delta);
                } else {
                    offsets[position] += delta;
                }
            }
        }
        Ok(offsets)
    }
}
