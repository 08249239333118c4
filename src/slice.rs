//! NumPy basic indexing on stored arrays: `arr[spec]` for reads (`NP.GET … SLICE`)
//! and `arr[spec] = value` for writes (`NP.SETSLICE`).
//!
//! A spec is the text between the brackets, e.g. `"10:20"`, `"::2, -1"`,
//! `"..., 0"` or `"None, 1:"`. Indexing produces a strided *view* of the stored
//! buffer; reading it copies only the selected elements, so the cost is
//! O(result), whatever the size of the array.

use smallvec::SmallVec;

use crate::array::NpArray;
use crate::dtype::{ByteOrder, Dtype, Kind};
use crate::error::{NpyError, Result};
use crate::npy::ParsedNpy;
use crate::shape::{self, Shape, MAX_NDIM};

/// The longest spec accepted: far more than 64 dimensions' worth of indices.
pub const MAX_SPEC_LEN: usize = 4096;

/// One comma-separated item of a spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item {
    Index(i64),
    Slice {
        start: Option<i64>,
        stop: Option<i64>,
        step: Option<i64>,
    },
    Ellipsis,
    NewAxis,
}

fn index_error(reason: impl Into<String>) -> NpyError {
    NpyError::Index(reason.into())
}

fn parse_int(text: &str, spec: &str) -> Result<i64> {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(index_error(format!(
            "invalid slice {spec:?}: {text:?} is not an integer (use integers, start:stop:step, ... or None)"
        )));
    }
    text.parse::<i64>()
        .map_err(|_| index_error(format!("invalid slice {spec:?}: {text} does not fit in 64 bits")))
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
    let mut parts: Vec<&str> = trimmed.split(',').map(str::trim).collect();
    if parts.len() > 1 && parts.last() == Some(&"") {
        parts.pop(); // "5," is the tuple (5,)
    }
    let items = parts
        .into_iter()
        .map(|part| match part {
            "" => Err(index_error(format!("invalid slice {spec:?}: empty index"))),
            "..." | "Ellipsis" => Ok(Item::Ellipsis),
            "None" | "np.newaxis" | "newaxis" => Ok(Item::NewAxis),
            _ if part.contains(':') => {
                let bounds: Vec<&str> = part.split(':').map(str::trim).collect();
                if bounds.len() > 3 {
                    return Err(index_error(format!(
                        "invalid slice {spec:?}: {part:?} has more than two ':'"
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
fn resolve_slice(start: Option<i64>, stop: Option<i64>, step: Option<i64>, len: u64) -> Result<(i128, i128, u64)> {
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
    Ok((start, step, count as u64))
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

    /// `arr[items]` for the array `whole` describes, with NumPy's errors.
    pub fn select(&self, items: &[Item]) -> Result<View> {
        let ndim = self.dims.len();
        let indexed = items
            .iter()
            .filter(|i| matches!(i, Item::Index(_) | Item::Slice { .. }))
            .count();
        if indexed > ndim {
            return Err(index_error(format!(
                "too many indices for array: array is {ndim}-dimensional, but {indexed} were indexed"
            )));
        }
        let mut out = View {
            offset: self.offset,
            dims: SmallVec::new(),
            itemsize: self.itemsize,
        };
        let mut empty = false;
        let mut axis = 0;
        for item in items {
            match *item {
                Item::NewAxis => out.dims.push(Dim { len: 1, stride: 0 }),
                Item::Ellipsis => {
                    let skipped = ndim - indexed;
                    out.dims.extend_from_slice(&self.dims[axis..axis + skipped]);
                    axis += skipped;
                }
                Item::Index(index) => {
                    let dim = self.dims[axis];
                    let resolved = if index < 0 {
                        i128::from(index) + i128::from(dim.len)
                    } else {
                        i128::from(index)
                    };
                    if resolved < 0 || resolved >= i128::from(dim.len) {
                        return Err(index_error(format!(
                            "index {index} is out of bounds for axis {axis} with size {}",
                            dim.len
                        )));
                    }
                    out.offset = (i128::from(out.offset) + resolved * i128::from(dim.stride)) as u64;
                    axis += 1;
                }
                Item::Slice { start, stop, step } => {
                    let dim = self.dims[axis];
                    let (first, step, len) = resolve_slice(start, stop, step, dim.len)?;
                    if len > 0 {
                        out.offset = (i128::from(out.offset) + first * i128::from(dim.stride)) as u64;
                    } else {
                        empty = true;
                    }
                    out.dims.push(Dim {
                        len,
                        stride: (i128::from(dim.stride) * step) as i64,
                    });
                    axis += 1;
                }
            }
        }
        out.dims.extend_from_slice(&self.dims[axis..]);
        if out.dims.len() > MAX_NDIM {
            return Err(index_error(format!(
                "the result would have {} dimensions, the limit is {MAX_NDIM}",
                out.dims.len()
            )));
        }
        if empty {
            out.offset = 0;
        }
        Ok(out)
    }

    pub fn shape(&self) -> Shape {
        self.dims.iter().map(|d| d.len).collect()
    }

    fn is_empty(&self) -> bool {
        self.dims.iter().any(|d| d.len == 0)
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
    let mut index: SmallVec<[u64; 8]> = SmallVec::from_elem(0, outer);
    let (mut to, mut from) = (dst_view.offset as i64, src_view.offset as i64);
    loop {
        let (t, f) = (to as usize, from as usize);
        dst[t..t + block].copy_from_slice(&src[f..f + block]);
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
    let view = View::whole(array.shape(), array.itemsize(), array.fortran_order()).select(items)?;
    let fortran_order = view.saves_fortran_order();
    let shape = view.shape();
    let out_view = View::whole(&shape, view.itemsize, fortran_order);
    let out = NpArray::from_fn(array.dtype().clone(), shape, fortran_order, |out| {
        copy(out, &out_view, array.data(), &view, fortran_order)
    })?;
    if selects_element(array, items) {
        as_numpy_scalar(out)
    } else {
        Ok(out)
    }
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
    NpArray::from_parts(Dtype { kind, order }, shape, false, &bytes)
}

/// The source of an assignment seen through the target's shape, with NumPy's
/// broadcasting: missing leading dimensions and dimensions of length 1 repeat.
fn broadcast(value: &ParsedNpy, target: &View) -> Result<View> {
    let source = View::whole(&value.shape, value.dtype.itemsize(), value.fortran_order);
    let target_shape = target.shape();
    let mismatch = || {
        index_error(format!(
            "could not broadcast input array from shape {} into shape {}",
            shape::repr(&value.shape),
            shape::repr(&target_shape)
        ))
    };
    if source.dims.len() > target.dims.len() {
        // NumPy drops leading length-1 dimensions of the value.
        let extra = source.dims.len() - target.dims.len();
        if source.dims[..extra].iter().any(|d| d.len != 1) {
            return Err(mismatch());
        }
    }
    let lead = target.dims.len().saturating_sub(source.dims.len());
    let src_dims = &source.dims[source.dims.len().saturating_sub(target.dims.len())..];
    let mut dims = SmallVec::new();
    for (i, target_dim) in target.dims.iter().enumerate() {
        let dim = if i < lead {
            Dim { len: 1, stride: 0 }
        } else {
            src_dims[i - lead]
        };
        let stride = match dim.len {
            len if len == target_dim.len => dim.stride,
            1 => 0,
            _ => return Err(mismatch()),
        };
        dims.push(Dim {
            len: target_dim.len,
            stride,
        });
    }
    Ok(View {
        offset: 0,
        dims,
        itemsize: source.itemsize,
    })
}

/// `arr[items] = value` in place (items from [`parse`]). The value must have the
/// array's dtype (no casting) and broadcast to the selection's shape; the array
/// is untouched on error.
pub fn assign(array: &mut NpArray, items: &[Item], value: &ParsedNpy) -> Result<()> {
    if value.dtype != *array.dtype() {
        return Err(index_error(format!(
            "dtype mismatch: the array is {} ({}), the value is {} ({}); NP.SETSLICE does not cast",
            array.dtype().name(),
            array.dtype().descr(),
            value.dtype.name(),
            value.dtype.descr()
        )));
    }
    let target = View::whole(array.shape(), array.itemsize(), array.fortran_order()).select(items)?;
    if selects_element(array, items) && !value.shape.is_empty() {
        let item = sequence_as_element(value)?;
        let start = target.offset as usize;
        array.data_mut()[start..start + item.len()].copy_from_slice(&item);
        return Ok(());
    }
    let source = broadcast(value, &target)?;
    copy(array.data_mut(), &target, value.data, &source, false);
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
    let itemsize = value.dtype.itemsize() as usize;
    let size = shape::size(&value.shape);
    let error = |message: &str| Err(index_error(message));
    match value.dtype.kind {
        // The truth value, or the record, of a one-element array.
        Kind::Bool | Kind::Record(_) if size == 1 => Ok(value.data.to_vec()),
        Kind::Bool | Kind::Record(_) => error("setting an array element with a sequence."),
        // Raw bytes take the value's buffer, cut or zero-padded to the item.
        Kind::Void(_) => {
            let c_contiguous = !value.fortran_order || value.shape.iter().filter(|&&d| d > 1).count() <= 1 || size == 0;
            if !c_contiguous {
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
        NpArray::from_parts(dtype, shape.iter().copied().collect(), fortran_order, &data).unwrap()
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
        assert!(parse(&"1,".repeat(MAX_SPEC_LEN)).is_err());
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
        assert!(all.fortran_order());
        assert_eq!(values(&all), vec![0, 1, 2, 3, 4, 5]);
        let cols = sliced(&a, ":, 1:").unwrap();
        assert!(cols.fortran_order(), "F-contiguous column block");
        assert_eq!(values(&cols), vec![2, 3, 4, 5]);
        let strided = sliced(&a, ":, ::2").unwrap();
        assert!(!strided.fortran_order(), "non-contiguous views are saved in C order");
        assert_eq!(values(&strided), vec![0, 4, 1, 5]);
        let row = sliced(&a, "1").unwrap();
        assert!(!row.fortran_order());
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
}
