//! NumPy indexing on stored arrays: `arr[spec]` for reads (`NP.GET … SLICE`)
//! and `arr[spec] = value` for writes (`NP.SETSLICE`).
//!
//! A spec is the text between the brackets, e.g. `"10:20"`, `"::2, -1"`,
//! `"..., 0"`, `"None, 1:"` or `"[3, 17, 99], 2:5"`. Basic indexing produces a
//! strided *view* of the stored buffer; an integer list (NumPy's advanced
//! indexing) adds one axis that gathers a view per listed index. Reading
//! copies only the selected elements, so the cost is O(result), whatever the
//! size of the array.

use smallvec::SmallVec;

use crate::array::NpArray;
use crate::dtype::{ByteOrder, Dtype, Kind};
use crate::error::{NpyError, Result};
use crate::meta::Meta;
use crate::npy::ParsedNpy;
use crate::shape::{self, Shape, MAX_NDIM};

/// The longest spec accepted: room for index lists of many thousands of rows.
pub const MAX_SPEC_LEN: usize = 1 << 20;

/// One comma-separated item of a spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Index(i64),
    Slice {
        start: Option<i64>,
        stop: Option<i64>,
        step: Option<i64>,
    },
    /// `[3, 17, 99]`: an integer list, NumPy's integer-array indexing.
    List(Vec<i64>),
    Ellipsis,
    NewAxis,
}

fn index_error(reason: impl Into<String>) -> NpyError {
    NpyError::Index(reason.into())
}

/// The spec as error messages quote it: whole, or its start when it is long.
fn quoted(spec: &str) -> String {
    const SHOWN: usize = 60;
    match spec.char_indices().nth(SHOWN) {
        Some((end, _)) => format!("{:?} (the first {SHOWN} characters)", &spec[..end]),
        None => format!("{spec:?}"),
    }
}

fn parse_int(text: &str, spec: &str) -> Result<i64> {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(index_error(format!(
            "invalid slice {}: {text:?} is not an integer (use integers, start:stop:step, ... or None)",
            quoted(spec)
        )));
    }
    text.parse::<i64>().map_err(|_| {
        index_error(format!(
            "invalid slice {}: {text} does not fit in 64 bits",
            quoted(spec)
        ))
    })
}

/// NumPy's error for an index that is neither an integer, a slice, `...`,
/// `None` nor an integer or boolean array, such as a float.
const NOT_AN_INDEX: &str = "only integers, slices (`:`), ellipsis (`...`), numpy.newaxis (`None`) and integer or boolean arrays are valid indices";

/// Parses `[i, j, …]` (the brackets included).
fn parse_list(part: &str, spec: &str) -> Result<Vec<i64>> {
    let inner = part
        .strip_prefix('[')
        .and_then(|p| p.strip_suffix(']'))
        .ok_or_else(|| index_error(format!("invalid slice {}: {part:?} is not an index list", quoted(spec))))?;
    if inner.contains(['[', ']']) {
        return Err(index_error(
            "nested index lists are not supported: give one list of integers, e.g. [0, 2]",
        ));
    }
    let inner = inner.trim();
    if inner.is_empty() {
        return Ok(Vec::new()); // arr[[]]: NumPy selects nothing along the axis
    }
    let mut elements: Vec<&str> = inner.split(',').map(str::trim).collect();
    if elements.len() > 1 && elements.last() == Some(&"") {
        elements.pop(); // [5,] is the list [5]
    }
    elements
        .into_iter()
        .map(|text| match text {
            "" => Err(index_error(format!(
                "invalid slice {}: empty index in a list",
                quoted(spec)
            ))),
            "True" | "False" => Err(index_error(
                "boolean index lists are not supported: give the positions as integers",
            )),
            _ if text.parse::<i64>().is_err() && text.parse::<f64>().is_ok() => Err(index_error(NOT_AN_INDEX)),
            _ => parse_int(text, spec),
        })
        .collect()
}

/// Splits a spec at the commas outside brackets.
fn split_items<'a>(trimmed: &'a str, spec: &str) -> Result<Vec<&'a str>> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    for (i, byte) in trimmed.bytes().enumerate() {
        match byte {
            b'[' => depth += 1,
            b']' => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| index_error(format!("invalid slice {}: unbalanced ']'", quoted(spec))))?
            }
            b',' if depth == 0 => {
                parts.push(trimmed[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(index_error(format!("invalid slice {}: unbalanced '['", quoted(spec))));
    }
    parts.push(trimmed[start..].trim());
    Ok(parts)
}

/// Parses a spec. An empty spec (or `()`) selects the whole array, like `arr[()]`.
pub fn parse(spec: &str) -> Result<Vec<Item>> {
    if spec.len() > MAX_SPEC_LEN {
        return Err(index_error(format!("slice spec is longer than {MAX_SPEC_LEN} bytes")));
    }
    let trimmed = spec.trim();
    if trimmed.is_empty() || trimmed == "()" {
        return Ok(Vec::new());
    }
    let mut parts = split_items(trimmed, spec)?;
    if parts.len() > 1 && parts.last() == Some(&"") {
        parts.pop(); // "5," is the tuple (5,)
    }
    let items = parts
        .into_iter()
        .map(|part| match part {
            "" => Err(index_error(format!("invalid slice {}: empty index", quoted(spec)))),
            "..." | "Ellipsis" => Ok(Item::Ellipsis),
            "None" | "np.newaxis" | "newaxis" => Ok(Item::NewAxis),
            _ if part.starts_with('[') => parse_list(part, spec).map(Item::List),
            _ if part.contains(':') => {
                let bounds: Vec<&str> = part.split(':').map(str::trim).collect();
                if bounds.len() > 3 {
                    return Err(index_error(format!(
                        "invalid slice {}: {part:?} has more than two ':'",
                        quoted(spec)
                    )));
                }
                let bound = |i: usize| -> Result<Option<i64>> {
                    match bounds.get(i) {
                        None | Some(&"") => Ok(None),
                        Some(text) => parse_int(text, spec).map(Some),
                    }
                };
                Ok(Item::Slice {
                    start: bound(0)?,
                    stop: bound(1)?,
                    step: bound(2)?,
                })
            }
            _ => parse_int(part, spec).map(Item::Index),
        })
        .collect::<Result<Vec<_>>>()?;
    if items.iter().filter(|item| **item == Item::Ellipsis).count() > 1 {
        return Err(index_error("an index can only have a single ellipsis ('...')"));
    }
    Ok(items)
}

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
fn moved(base: u64, delta: i128) -> u64 {
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

/// What an index list adds to a view: one more axis, each of whose positions
/// is the view moved by a byte offset (the listed index times the stride of
/// the axis the list indexes).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Gather {
    /// Where the gathered axis sits among the result's axes.
    axis: usize,
    offsets: Vec<i64>,
}

impl Gather {
    /// The positions of the gathered axis that a write must visit: the last
    /// position of each distinct offset, in order, or `None` when no offset
    /// repeats. NumPy's `a[[1, 1]] = v` (and `+=`) writes every repeat, the
    /// last one winning; visiting only that one writes the same result once.
    fn last_of_each(&self) -> Option<Vec<usize>> {
        let mut order: Vec<usize> = (0..self.offsets.len()).collect();
        order.sort_unstable_by_key(|&position| (self.offsets[position], position));
        let mut kept: Vec<usize> = order
            .windows(2)
            .filter(|pair| self.offsets[pair[0]] != self.offsets[pair[1]])
            .map(|pair| pair[0])
            .chain(order.last().copied())
            .collect();
        if kept.len() == self.offsets.len() {
            return None;
        }
        kept.sort_unstable();
        Some(kept)
    }
}

/// `arr[items]`: a strided view, plus a gathered axis when an item is a list.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Selection {
    /// The result without its gathered axis (NumPy's "subspace"), every
    /// integer index already applied to the offset.
    view: View,
    gather: Option<Gather>,
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
    fn shape(&self) -> Shape {
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
    fn saves_fortran_order(&self) -> bool {
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
    /// The whole of an array stored with this shape and order.
    pub fn whole(shape: &[u64], itemsize: u64, fortran_order: bool) -> View {
        View {
            offset: 0,
            dims: layout(shape, itemsize, fortran_order),
            itemsize,
        }
    }

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
        Ok(Selection { view: out, gather })
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

    pub fn shape(&self) -> Shape {
        self.dims.iter().map(|d| d.len).collect()
    }

    fn is_empty(&self) -> bool {
        self.dims.iter().any(|d| d.len == 0)
    }

    /// The view with `axis` fixed at `position` (and so removed).
    fn at(&self, axis: usize, position: u64) -> View {
        let mut view = self.clone();
        let dim = view.dims.remove(axis);
        view.offset = moved(view.offset, i128::from(position) * i128::from(dim.stride));
        view
    }

    /// The view moved by `delta` bytes.
    fn shifted(&self, delta: i64) -> View {
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
    fn visit_order(&self, fortran_order: bool) -> SmallVec<[Dim; 8]> {
        let mut dims: SmallVec<[Dim; 8]> = self.dims.iter().copied().filter(|d| d.len != 1).collect();
        if fortran_order {
            dims.reverse();
        }
        dims
    }
}

/// `len` blocks, each `dst_stride` (`src_stride`) bytes after the previous one.
struct Run {
    len: u64,
    dst_stride: i64,
    src_stride: i64,
}

impl Run {
    /// Copies the run's blocks of `block` bytes, the first at `to` and `from`
    /// (offsets of selected elements, so not negative). Blocks of one
    /// element of the common sizes are copied as fixed-size values, not
    /// through `memcpy` calls.
    fn copy(&self, dst: &mut [u8], to: i64, src: &[u8], from: i64, block: usize) {
        fn blocks<const N: usize>(run: &Run, dst: &mut [u8], mut to: i64, src: &[u8], mut from: i64) {
            for _ in 0..run.len {
                let (t, f) = (to as usize, from as usize);
                dst[t..t + N].copy_from_slice(&src[f..f + N]);
                to += run.dst_stride;
                from += run.src_stride;
            }
        }
        match block {
            1 => blocks::<1>(self, dst, to, src, from),
            2 => blocks::<2>(self, dst, to, src, from),
            4 => blocks::<4>(self, dst, to, src, from),
            8 => blocks::<8>(self, dst, to, src, from),
            16 => blocks::<16>(self, dst, to, src, from),
            _ => {
                let (mut to, mut from) = (to, from);
                for _ in 0..self.len {
                    let (t, f) = (to as usize, from as usize);
                    dst[t..t + block].copy_from_slice(&src[f..f + block]);
                    to += self.dst_stride;
                    from += self.src_stride;
                }
            }
        }
    }
}

/// Copies the elements `src_view` selects from `src` to the places `dst_view`
/// selects in `dst` (views of equal shape), visiting them in C order, or Fortran
/// order. Inner dimensions contiguous in both views merge into one block, so a
/// whole row, or a whole contiguous array, is one `memcpy`.
fn copy(dst: &mut [u8], dst_view: &View, src: &[u8], src_view: &View, fortran_order: bool) {
    debug_assert_eq!(dst_view.shape(), src_view.shape());
    if dst_view.is_empty() || dst_view.itemsize == 0 {
        return;
    }
    let (dst_dims, src_dims) = (dst_view.visit_order(fortran_order), src_view.visit_order(fortran_order));
    let mut block = dst_view.itemsize;
    let mut outer = dst_dims.len();
    while outer > 0 && dst_dims[outer - 1].stride == block as i64 && src_dims[outer - 1].stride == block as i64 {
        block *= dst_dims[outer - 1].len;
        outer -= 1;
    }
    let block = block as usize;
    // The innermost outer dimension is a run of blocks copied in a tight loop;
    // the odometer walks the dimensions outside it.
    let run = match outer.checked_sub(1) {
        Some(inner) => {
            outer = inner;
            Run {
                len: dst_dims[inner].len,
                dst_stride: dst_dims[inner].stride,
                src_stride: src_dims[inner].stride,
            }
        }
        None => Run {
            len: 1,
            dst_stride: 0,
            src_stride: 0,
        },
    };
    let mut index: SmallVec<[u64; 8]> = SmallVec::from_elem(0, outer);
    let (mut to, mut from) = (dst_view.offset as i64, src_view.offset as i64);
    loop {
        run.copy(dst, to, src, from, block);
        // Odometer over the outer dimensions, the last one fastest.
        let mut axis = outer;
        loop {
            if axis == 0 {
                return;
            }
            axis -= 1;
            index[axis] += 1;
            to += dst_dims[axis].stride;
            from += src_dims[axis].stride;
            if index[axis] < dst_dims[axis].len {
                break;
            }
            let len = dst_dims[axis].len as i64;
            to -= dst_dims[axis].stride * len;
            from -= src_dims[axis].stride * len;
            index[axis] = 0;
        }
    }
}

/// `np.save(arr[items])` as a stored value (items from [`parse`]): same shape,
/// dtype, order and bytes.
pub fn slice(array: &NpArray, items: &[Item]) -> Result<NpArray> {
    let selection = View::whole(array.shape(), array.itemsize(), array.saved_fortran()).select(items)?;
    let fortran_order = selection.saves_fortran_order();
    let shape = selection.shape();
    let out_view = View::whole(&shape, array.itemsize(), fortran_order);
    let out = NpArray::from_fn(
        Meta::new(array.dtype().clone(), shape, fortran_order),
        |out| match &selection.gather {
            None => copy(out, &out_view, array.data(), &selection.view, fortran_order),
            Some(gather) => {
                for (position, &offset) in (0..).zip(&gather.offsets) {
                    let dst = out_view.at(gather.axis, position);
                    copy(out, &dst, array.data(), &selection.view.shifted(offset), fortran_order);
                }
            }
        },
    )?;
    if selects_element(array, items) {
        as_numpy_scalar(out)
    } else {
        Ok(out)
    }
}

/// `arr[items]` when `np.save` of it is a header followed by one run of the
/// stored data, unchanged: a reply can send that run without building the
/// slice (rows `a:b` of a C-ordered array, columns of a Fortran one, one row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRun {
    pub shape: Shape,
    pub fortran_order: bool,
    /// The run within the array's data (in data order, whatever segments hold it).
    pub bytes: std::ops::Range<usize>,
}

/// The [`StoredRun`] `arr[items]` is, if it is one: not for gathers, empty
/// results, or single elements (which NumPy saves as scalars).
pub fn stored_run(array: &NpArray, items: &[Item]) -> Result<Option<StoredRun>> {
    let selection = View::whole(array.shape(), array.itemsize(), array.saved_fortran()).select(items)?;
    let view = &selection.view;
    if selection.gather.is_some() || view.is_empty() || view.itemsize == 0 || selects_element(array, items) {
        return Ok(None);
    }
    let fortran_order = selection.saves_fortran_order();
    let shape = selection.shape();
    // np.save writes the elements in `fortran_order`; they are the stored
    // bytes as they are when the view has the strides of a contiguous array
    // of its shape in that order (axes of length 1 are never stepped along).
    let out = View::whole(&shape, view.itemsize, fortran_order);
    if view
        .dims
        .iter()
        .zip(&out.dims)
        .any(|(v, o)| v.len != 1 && v.stride != o.stride)
    {
        return Ok(None);
    }
    let start = view.offset as usize;
    let len = shape::nbytes(&shape, view.itemsize)? as usize;
    Ok(Some(StoredRun {
        shape,
        fortran_order,
        bytes: start..start + len,
    }))
}

/// A header written over the bytes in front of a run, for as long as this
/// lives: [`HeaderInPlace::bytes`] is then the whole `.npy` in one span. The
/// bytes it covered are put back when it is dropped, on unwinding too.
pub struct HeaderInPlace<'a> {
    span: &'a mut [u8],
    saved: SmallVec<[u8; 256]>,
}

impl<'a> HeaderInPlace<'a> {
    /// `header` over the `header.len()` bytes before `run` in `block`, or
    /// `None` when fewer bytes than that lie before it.
    pub fn new(block: &'a mut [u8], run: std::ops::Range<usize>, header: &[u8]) -> Option<HeaderInPlace<'a>> {
        let at = run.start.checked_sub(header.len())?;
        let span = &mut block[at..run.end];
        let saved = SmallVec::from_slice(&span[..header.len()]);
        span[..header.len()].copy_from_slice(header);
        Some(HeaderInPlace { span, saved })
    }

    /// The header, then the run.
    pub fn bytes(&self) -> &[u8] {
        self.span
    }
}

impl Drop for HeaderInPlace<'_> {
    fn drop(&mut self) {
        self.span[..self.saved.len()].copy_from_slice(&self.saved);
    }
}

/// The data size of `arr[items]`, found without building it. An index list
/// can repeat rows, so a gather can be larger than the array itself.
pub fn result_nbytes(array: &NpArray, items: &[Item]) -> Result<u64> {
    let selection = View::whole(array.shape(), array.itemsize(), array.saved_fortran()).select(items)?;
    shape::nbytes(&selection.shape(), array.itemsize())
}

/// `arr[items]` for a write whose index lists repeat an index: the items
/// with every repeat dropped but the last, so that the write does its work
/// once per distinct element and ends as NumPy's does (the last repeat wins).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Distinct {
    /// The items with each index list cut to the kept positions.
    pub items: Vec<Item>,
    /// The shape of `arr[items]` with its repeats (the one NumPy's errors name).
    pub full_shape: Shape,
    /// Where the gathered axis sits in the result.
    pub axis: usize,
    /// The positions kept along the gathered axis, in order.
    pub kept: Vec<usize>,
}

/// [`Distinct`] for `arr[items]`, or `None` when no index repeats (NumPy's
/// index errors come first, as for any selection).
pub fn distinct(array: &NpArray, items: &[Item]) -> Result<Option<Distinct>> {
    let selection = View::whole(array.shape(), array.itemsize(), array.saved_fortran()).select(items)?;
    let Some(gather) = &selection.gather else {
        return Ok(None);
    };
    let Some(kept) = gather.last_of_each() else {
        return Ok(None);
    };
    // Lists of one index broadcast over the others and stay as they are.
    let items = items
        .iter()
        .map(|item| match item {
            Item::List(indices) if indices.len() > 1 => Item::List(kept.iter().map(|&p| indices[p]).collect()),
            other => other.clone(),
        })
        .collect();
    Ok(Some(Distinct {
        items,
        full_shape: selection.shape(),
        axis: gather.axis,
        kept,
    }))
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

/// The source of an assignment seen through the target's shape, with NumPy's
/// broadcasting: missing leading dimensions and dimensions of length 1
/// repeat, and leading dimensions of length 1 the target lacks are dropped.
/// `None` when the shapes do not broadcast.
fn broadcast(value: &ParsedNpy, target_shape: &[u64]) -> Option<View> {
    let meta = &value.meta;
    let source = View::whole(meta.shape(), meta.dtype().itemsize(), meta.saved_fortran());
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

/// `arr[items] = value` in place (items from [`parse`]). The value must have the
/// array's dtype (no casting) and broadcast to the selection's shape; the array
/// is untouched on error. When an index list repeats an index, the last of
/// its values is written, as in NumPy, and only that one: the work is one
/// copy per distinct element whatever the number of repeats.
pub fn assign(array: &mut NpArray, items: &[Item], value: &ParsedNpy) -> Result<()> {
    if value.meta.dtype() != array.dtype() {
        return Err(index_error(format!(
            "dtype mismatch: the array is {} ({}), the value is {} ({}); NP.SETSLICE does not cast",
            array.dtype().name(),
            array.dtype().descr(),
            value.meta.dtype().name(),
            value.meta.dtype().descr()
        )));
    }
    let selection = View::whole(array.shape(), array.itemsize(), array.saved_fortran()).select(items)?;
    let target = &selection.view;
    let shape = selection.shape();
    let Some(gather) = &selection.gather else {
        if selects_element(array, items) && !value.meta.shape().is_empty() {
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

/// Whether `arr[items]` is one element, which NumPy reads as a scalar and
/// writes as a scalar: every axis gets an integer, with no `...` or `None`.
fn selects_element(array: &NpArray, items: &[Item]) -> bool {
    items.len() == array.ndim() && items.iter().all(|item| matches!(item, Item::Index(_)))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::array::test_array;
    #[allow(unused_imports)]
    use crate::meta::{test_meta, Meta};

    fn sliced(array: &NpArray, spec: &str) -> Result<NpArray> {
        slice(array, &parse(spec)?)
    }

    fn array(shape: &[u64], fortran_order: bool) -> NpArray {
        let dtype = Dtype::from_typestr("<i4").unwrap();
        let size = shape.iter().product::<u64>() as i32;
        let mut data = Vec::new();
        for i in 0..size {
            data.extend_from_slice(&i.to_le_bytes());
        }
        NpArray::from_parts(Meta::new(dtype, shape.iter().copied().collect(), fortran_order), &data).unwrap()
    }

    fn values(array: &NpArray) -> Vec<i32> {
        array
            .data()
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes(c.try_into().unwrap()))
            .collect()
    }

    #[test]
    fn parses_numpy_syntax() {
        use Item::*;
        let slice = |start, stop, step| Slice { start, stop, step };
        assert_eq!(parse("").unwrap(), vec![]);
        assert_eq!(parse(" 5, ").unwrap(), vec![Index(5)]);
        assert_eq!(parse("::2, -1").unwrap(), vec![slice(None, None, Some(2)), Index(-1)]);
        assert_eq!(
            parse("..., None, 1:").unwrap(),
            vec![Ellipsis, NewAxis, slice(Some(1), None, None)]
        );
        assert_eq!(parse("-3:+4:").unwrap(), vec![slice(Some(-3), Some(4), None)]);
        for bad in ["a", "1,,2", "1:2:3:4", "--1", "1.5", "...,...", "99999999999999999999"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(parse(&"1,".repeat(MAX_SPEC_LEN / 2 + 1)).is_err());
    }

    #[test]
    fn parses_index_lists() {
        use Item::*;
        assert_eq!(parse("[3, 17, 99]").unwrap(), vec![List(vec![3, 17, 99])]);
        assert_eq!(
            parse("[3,-1] , 2:5").unwrap(),
            vec![
                List(vec![3, -1]),
                Slice {
                    start: Some(2),
                    stop: Some(5),
                    step: None
                }
            ]
        );
        assert_eq!(parse(":, [0, 5],").unwrap()[1], List(vec![0, 5]));
        assert_eq!(parse("[ ]").unwrap(), vec![List(vec![])]);
        assert_eq!(parse("[5,]").unwrap(), vec![List(vec![5])]);
        let err = |spec: &str| parse(spec).unwrap_err().to_string();
        assert_eq!(err("[1.5]"), NOT_AN_INDEX);
        assert_eq!(err("[1, 2e3]"), NOT_AN_INDEX);
        assert!(err("[True, False]").starts_with("boolean index lists are not supported"));
        assert!(err("[[0, 1], [2, 3]]").starts_with("nested index lists are not supported"));
        assert!(err("[1, 2").ends_with("unbalanced '['"));
        assert!(err("1]").ends_with("unbalanced ']'"));
        assert!(err("[1,,2]").ends_with("empty index in a list"));
        assert!(err("[1]2").ends_with("\"[1]2\" is not an index list"));
        assert!(err("[x]").contains("\"x\" is not an integer"));
        let long = format!("[{}x]", "1, ".repeat(1000));
        assert!(err(&long).len() < 200, "a long spec is quoted by its start");
        assert!(parse(&format!("[{}]", "1,".repeat(100_000))).is_ok(), "a long list");
    }

    #[test]
    fn lists_gather_like_numpy() {
        let a = array(&[3, 4], false);
        let rows = sliced(&a, "[2, 0, 2, -1]").unwrap();
        assert_eq!(rows.shape(), &[4, 4]);
        assert_eq!(values(&rows), [8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11, 8, 9, 10, 11]);
        // NumPy lays the gathered axis out outermost: a column gather of a
        // C-ordered matrix is Fortran-contiguous, and np.save says so.
        let cols = sliced(&a, ":, [3, 0]").unwrap();
        assert_eq!((cols.shape(), cols.saved_fortran()), (&[3u64, 2][..], true));
        assert_eq!(values(&cols), [3, 7, 11, 0, 4, 8]);
        let mixed = sliced(&a, "1, [0, 2]").unwrap();
        assert_eq!((mixed.shape(), values(&mixed)), (&[2u64][..], vec![4, 6]));
        let empty = sliced(&a, "[]").unwrap();
        assert_eq!((empty.shape(), empty.saved_fortran()), (&[0u64, 4][..], false));
        let pairs = sliced(&a, "[0, 2], [1]").unwrap();
        assert_eq!(values(&pairs), [1, 9]);

        // Fortran storage: a row gather keeps the rows' order of strides.
        let f = array(&[3, 4], true);
        let rows = sliced(&f, "[1]").unwrap();
        assert!(rows.saved_fortran() || rows.shape()[0] == 1);
        assert_eq!(values(&sliced(&f, "[1], 1:3").unwrap()), [4, 7]);
    }

    #[test]
    fn the_gathered_axis_goes_where_numpy_puts_it() {
        let a = array(&[3, 4, 5], false);
        let shape = |spec: &str| sliced(&a, spec).unwrap().shape().to_vec();
        assert_eq!(shape("[0, 2]"), [2, 4, 5]);
        assert_eq!(shape(":, [0, 2]"), [3, 2, 5]);
        assert_eq!(shape(":, 1, [0, 2]"), [3, 2], "next to an integer: in place");
        assert_eq!(shape("1, :, [0, 2]"), [2, 4], "apart from the integer: first");
        assert_eq!(shape("[0, 2], None, 1"), [2, 1, 5]);
        assert_eq!(shape("[0, 2], ..., 1"), [2, 4]);
        assert_eq!(shape("::2, [1, 3]"), [2, 2, 5]);
        let b = array(&[3, 4, 5, 6], false);
        assert_eq!(
            sliced(&b, ":, [0, 2], ..., 1, :").unwrap().shape(),
            &[2, 3, 6],
            "an empty ... separates"
        );
        let f = sliced(&a, ":, 1, [0, 2]").unwrap();
        assert!(f.saved_fortran());
        assert_eq!(values(&f), [5, 25, 45, 7, 27, 47]);
    }

    #[test]
    fn list_errors_use_numpy_wording() {
        let a = array(&[3, 4], false);
        let err = |spec| sliced(&a, spec).unwrap_err().to_string();
        assert_eq!(err("[1, 7]"), "index 7 is out of bounds for axis 0 with size 3");
        assert_eq!(err(":, [0, -5]"), "index -5 is out of bounds for axis 1 with size 4");
        assert_eq!(
            err("[7], 9"),
            "index 9 is out of bounds for axis 1 with size 4",
            "integers first"
        );
        assert_eq!(err("[7], ::0"), "slice step cannot be zero");
        assert_eq!(
            err("[0, 1], [0, 1, 2]"),
            "shape mismatch: indexing arrays could not be broadcast together with shapes (2,) (3,) "
        );
        assert_eq!(
            err("[0], [0], [0]"),
            "too many indices for array: array is 2-dimensional, but 3 were indexed"
        );
        assert_eq!(
            sliced(&a, "[7], []").unwrap().shape(),
            &[0],
            "nothing selected, nothing checked"
        );
        assert_eq!(err("[7], 0:0"), "index 7 is out of bounds for axis 0 with size 3");
    }

    #[test]
    fn list_assignment_broadcasts_and_the_last_repeat_wins() {
        let mut a = array(&[3, 2], false);
        let payload = test_array("<i4", &[3, 1], false, bytemuck::cast_slice(&[7i32, 8, 9]))
            .npy_bytes()
            .to_vec();
        let value = crate::npy::parse(&payload).unwrap();
        assign(&mut a, &parse("[2, 0, 2]").unwrap(), &value).unwrap();
        assert_eq!(values(&a), [8, 8, 2, 3, 9, 9]);
        let err = assign(&mut a, &parse("[0, 1]").unwrap(), &value).unwrap_err();
        assert_eq!(
            err.to_string(),
            "shape mismatch: value array of shape (3,1) could not be broadcast to indexing result of shape (2,2)"
        );
        let err = assign(&mut a, &parse("[0, 5]").unwrap(), &value).unwrap_err();
        assert_eq!(err.to_string(), "index 5 is out of bounds for axis 0 with size 3");
        assert_eq!(values(&a), [8, 8, 2, 3, 9, 9], "untouched on error");
    }

    #[test]
    fn python_slice_semantics() {
        assert_eq!(resolve_slice(None, None, Some(-1), 5).unwrap(), (4, -1, 5));
        assert_eq!(resolve_slice(Some(-100), Some(100), None, 5).unwrap(), (0, 1, 5));
        assert_eq!(resolve_slice(Some(3), Some(1), None, 5).unwrap().2, 0);
        assert_eq!(resolve_slice(Some(1), None, Some(3), 8).unwrap(), (1, 3, 3));
        assert!(resolve_slice(None, None, Some(0), 5).is_err());
    }

    #[test]
    fn rows_columns_and_steps_in_c_order() {
        let a = array(&[3, 4], false);
        let row = sliced(&a, "1").unwrap();
        assert_eq!((row.shape(), values(&row)), (&[4u64][..], vec![4, 5, 6, 7]));
        let col = sliced(&a, ":, -1").unwrap();
        assert_eq!(values(&col), vec![3, 7, 11]);
        let rev = sliced(&a, "::-2, 1::2").unwrap();
        assert_eq!((rev.shape(), values(&rev)), (&[2u64, 2][..], vec![9, 11, 1, 3]));
        assert_eq!(values(&sliced(&a, "2, 3").unwrap()), vec![11]);
        assert_eq!(sliced(&a, "None, ..., None").unwrap().shape(), &[1, 3, 4, 1]);
        assert_eq!(sliced(&a, "5:").unwrap().shape(), &[0, 4]);
    }

    #[test]
    fn fortran_views_keep_fortran_order_like_np_save() {
        // Stored [[0, 2, 4], [1, 3, 5]] in Fortran order.
        let a = array(&[2, 3], true);
        let all = sliced(&a, "...").unwrap();
        assert!(all.saved_fortran());
        assert_eq!(values(&all), vec![0, 1, 2, 3, 4, 5]);
        let cols = sliced(&a, ":, 1:").unwrap();
        assert!(cols.saved_fortran(), "F-contiguous column block");
        assert_eq!(values(&cols), vec![2, 3, 4, 5]);
        let strided = sliced(&a, ":, ::2").unwrap();
        assert!(!strided.saved_fortran(), "non-contiguous views are saved in C order");
        assert_eq!(values(&strided), vec![0, 4, 1, 5]);
        let row = sliced(&a, "1").unwrap();
        assert!(!row.saved_fortran());
        assert_eq!(values(&row), vec![1, 3, 5]);
    }

    #[test]
    fn errors_use_numpy_wording() {
        let a = array(&[3, 4], false);
        let err = |spec| sliced(&a, spec).unwrap_err().to_string();
        assert_eq!(err("3"), "index 3 is out of bounds for axis 0 with size 3");
        assert_eq!(err(":, -5"), "index -5 is out of bounds for axis 1 with size 4");
        assert_eq!(
            err("0, 0, 0"),
            "too many indices for array: array is 2-dimensional, but 3 were indexed"
        );
        assert_eq!(err("::0"), "slice step cannot be zero");
        let deep = "None, ".repeat(63);
        assert!(err(&deep).contains("the limit is 64"));
    }

    #[test]
    fn scalars_become_native_and_trimmed() {
        let be = test_array(">i2", &[2], false, &[0, 1, 0, 2]);
        let item = sliced(&be, "1").unwrap();
        assert_eq!((item.dtype().descr(), item.data()), ("'<i2'".to_owned(), &[2u8, 0][..]));
        let zero_d = sliced(&be, "1, ...").unwrap();
        assert_eq!(zero_d.dtype().descr(), "'>i2'", "an Ellipsis keeps a 0-d array");
        let s = test_array("|S4", &[2], false, b"ab\0\0\0\0\0\0");
        assert_eq!(sliced(&s, "0").unwrap().dtype().descr(), "'|S2'");
        assert_eq!(sliced(&s, "1").unwrap().dtype().descr(), "'|S1'");
    }

    #[test]
    fn a_sequence_into_one_element_follows_numpy() {
        let write = |array: &mut NpArray, spec: &str, value: &NpArray| {
            let payload = value.npy_bytes().to_vec();
            assign(array, &parse(spec).unwrap(), &crate::npy::parse(&payload).unwrap())
        };
        let mut a = array(&[3], false);
        let five = test_array("<i4", &[1], false, &5i32.to_le_bytes());
        let err = write(&mut a, "2", &five).unwrap_err();
        assert_eq!(err.to_string(), "setting an array element with a sequence.");
        assert_eq!(values(&a), [0, 1, 2], "untouched on error");
        write(&mut a, "2, ...", &five).unwrap();
        write(&mut a, "1:2", &five).unwrap();
        assert_eq!(values(&a), [0, 5, 5], "a view broadcasts the value");

        let mut flags = test_array("|b1", &[2], false, &[0, 0]);
        write(&mut flags, "1", &test_array("|b1", &[1, 1], false, &[1])).unwrap();
        assert_eq!(flags.data(), &[0, 1], "a one-element bool array is its truth value");
        let err = write(&mut flags, "1", &test_array("|b1", &[2], false, &[1, 1])).unwrap_err();
        assert_eq!(err.to_string(), "setting an array element with a sequence.");

        let mut c = test_array("<c8", &[2], false, &[0; 16]);
        let err = write(&mut c, "0", &test_array("<c8", &[1], false, &[1; 8])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "only 0-dimensional arrays can be converted to Python scalars"
        );
        let mut s = test_array("|S2", &[2], false, b"abcd");
        let err = write(&mut s, "0", &test_array("|S2", &[1], false, b"xy")).unwrap_err();
        assert_eq!(err.to_string(), "setting an array element with a sequence");
        let mut t = test_array("<m8[s]", &[1], false, &[0; 8]);
        let err = write(&mut t, "0", &test_array("<m8[s]", &[1], false, &[1; 8])).unwrap_err();
        assert_eq!(err.to_string(), "Could not convert object to NumPy timedelta");

        // Raw bytes: the value's buffer, cut or zero-padded to one item.
        let mut v = test_array("|V2", &[2], false, &[9; 4]);
        write(&mut v, "0", &test_array("|V2", &[2], false, &[1, 2, 3, 4])).unwrap();
        write(&mut v, "1", &test_array("|V2", &[0], false, &[])).unwrap();
        assert_eq!(v.data(), &[1, 2, 0, 0]);
        let err = write(&mut v, "0", &test_array("|V2", &[2, 2], true, &[0; 8])).unwrap_err();
        assert_eq!(err.to_string(), "ndarray is not C-contiguous");

        let mut zero_d = test_array("<i4", &[], false, &[0; 4]);
        assert!(write(&mut zero_d, "()", &five).is_err());
        write(&mut zero_d, "...", &five).unwrap();
        assert_eq!(values(&zero_d), [5]);
    }

    #[test]
    fn assignment_broadcasts_and_checks() {
        let mut a = array(&[2, 3], true);
        let payload = test_array("<i4", &[], false, &9i32.to_le_bytes()).npy_bytes().to_vec();
        let value = crate::npy::parse(&payload).unwrap();
        assign(&mut a, &parse(":, 1").unwrap(), &value).unwrap();
        assert_eq!(values(&a), vec![0, 1, 9, 9, 4, 5]);
        assert!(assign(&mut a, &parse("5").unwrap(), &value).is_err());
        assert_eq!(values(&a), vec![0, 1, 9, 9, 4, 5], "untouched on error");
    }

    #[test]
    fn row_ranges_and_fortran_columns_are_stored_runs() {
        let run = |a: &NpArray, spec: &str| stored_run(a, &parse(spec).unwrap()).unwrap();
        let c = array(&[10, 4], false);
        let r = run(&c, "3:7").unwrap();
        assert_eq!(
            (r.shape.as_slice(), r.fortran_order, r.bytes),
            (&[4u64, 4][..], false, 48..112)
        );
        assert_eq!(run(&c, "-1:").unwrap().bytes, 144..160);
        assert_eq!(run(&c, "2").unwrap().bytes, 32..48);
        assert_eq!(run(&c, "None, 1:3, ...").unwrap().shape.as_slice(), &[1, 2, 4]);
        assert_eq!(run(&c, "").unwrap().bytes, 0..160);
        for not_a_run in ["::2", ":, 1", "3:3", "[1, 2]", "1, 2", "::-1"] {
            assert_eq!(run(&c, not_a_run), None, "{not_a_run}");
        }
        let f = array(&[4, 10], true);
        let r = run(&f, ":, 3:7").unwrap();
        assert_eq!(
            (r.shape.as_slice(), r.fortran_order, r.bytes),
            (&[4u64, 4][..], true, 48..112)
        );
        // One column of a Fortran array is 1-d: saved in C order, same bytes.
        assert!(!run(&f, ":, 5").unwrap().fortran_order);
    }

    #[test]
    fn header_in_place_puts_the_bytes_back() {
        let mut block: Vec<u8> = (0..32).collect();
        {
            let npy = HeaderInPlace::new(&mut block, 10..20, b"HEAD").unwrap();
            assert_eq!(npy.bytes(), b"HEAD\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13");
        }
        assert_eq!(block, (0..32).collect::<Vec<u8>>());
        assert!(HeaderInPlace::new(&mut block, 3..20, b"HEAD").is_none(), "no room");
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _npy = HeaderInPlace::new(&mut block, 4..8, b"HEAD").unwrap();
            panic!("while replying");
        }));
        assert!(unwound.is_err());
        assert_eq!(block, (0..32).collect::<Vec<u8>>(), "restored on unwinding");
    }

    fn spec_item() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let bound = proptest::option::of(-6i64..7);
        prop_oneof![
            (-5i64..5).prop_map(|i| i.to_string()),
            (
                bound.clone(),
                bound,
                proptest::option::of(prop_oneof![-2i64..0, 1i64..3])
            )
                .prop_map(|(a, b, c)| {
                    let f = |x: Option<i64>| x.map_or(String::new(), |v| v.to_string());
                    match c {
                        Some(step) => format!("{}:{}:{step}", f(a), f(b)),
                        None => format!("{}:{}", f(a), f(b)),
                    }
                }),
            Just(":".to_owned()),
            Just("...".to_owned()),
            Just("None".to_owned()),
        ]
    }

    proptest::proptest! {
        /// Whenever a slice is a stored run, the run's bytes, shape and order
        /// are exactly what the slice builds.
        #[test]
        fn stored_runs_are_what_the_slice_builds(
            shape in proptest::collection::vec(0u64..5, 0..4),
            fortran_order in proptest::bool::ANY,
            items in proptest::collection::vec(spec_item(), 0..4),
        ) {
            let a = array(&shape, fortran_order);
            let spec = items.join(", ");
            let Ok(items) = parse(&spec) else { return Ok(()) };
            match (slice(&a, &items), stored_run(&a, &items)) {
                (Ok(built), Ok(Some(run))) => {
                    proptest::prop_assert_eq!(built.shape(), run.shape.as_slice());
                    proptest::prop_assert_eq!(built.saved_fortran(), run.fortran_order);
                    proptest::prop_assert_eq!(built.data(), &a.data()[run.bytes]);
                }
                (Ok(_), Ok(None)) => {}
                (Err(e), Err(f)) => proptest::prop_assert_eq!(e.to_string(), f.to_string()),
                (built, run) => proptest::prop_assert!(false, "{spec}: {built:?} vs {run:?}"),
            }
        }
    }
}
