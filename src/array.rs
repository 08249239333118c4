//! The stored value: decoded metadata plus one 64-byte-aligned buffer.
//!
//! The buffer holds the synthesized `.npy` header followed by the data. NumPy
//! headers are always a multiple of 64 bytes long, so the data stays 64-byte
//! aligned for typed views, and `NP.GET` replies with a single contiguous copy,
//! exactly like `GET` of a string.

use aligned_vec::{AVec, ConstAlign};
use half::f16;
use num_complex::Complex;

use crate::dtype::{ByteOrder, Dtype, Kind};
use crate::error::{NpyError, Result};
use crate::npy::{self, ParsedNpy};
use crate::shape::{self, Shape};

pub const DATA_ALIGN: usize = 64;
pub type AlignedBytes = AVec<u8, ConstAlign<DATA_ALIGN>>;

#[derive(Debug, Clone)]
pub struct NpArray {
    dtype: Dtype,
    shape: Shape,
    fortran_order: bool,
    /// Header (`header_len` bytes) then data.
    buf: AlignedBytes,
    header_len: usize,
}

impl NpArray {
    /// Validates a `.npy` payload and stores it in canonical form.
    pub fn from_npy(bytes: &[u8]) -> Result<NpArray> {
        let parsed = npy::parse(bytes)?;
        NpArray::from_parts(parsed.dtype, parsed.shape, parsed.fortran_order, parsed.data)
    }

    /// Builds a value from already-decoded metadata and its data bytes.
    pub fn from_parts(dtype: Dtype, shape: Shape, fortran_order: bool, data: &[u8]) -> Result<NpArray> {
        let mut array = NpArray::allocate(dtype, shape, fortran_order, DataSize::Exactly(data.len() as u64))?;
        array.buf.extend_from_slice(data);
        Ok(array)
    }

    /// Starts a value whose data arrives in pieces (RDB loading). Room for at
    /// most `reserve_limit` bytes is taken up front; beyond that the buffer
    /// grows by doubling as data arrives, so a corrupt record that claims a
    /// huge shape costs nothing until its data is really there.
    pub fn builder(dtype: Dtype, shape: Shape, fortran_order: bool, reserve_limit: u64) -> Result<NpArrayBuilder> {
        let nbytes = shape::nbytes(&shape, dtype.itemsize())?;
        let array = NpArray::allocate(
            dtype,
            shape,
            fortran_order,
            DataSize::Reserve(nbytes.min(reserve_limit)),
        )?;
        Ok(NpArrayBuilder { array, nbytes })
    }

    /// Builds a value whose data `fill` writes (into zeroed memory of the right size).
    pub fn from_fn(dtype: Dtype, shape: Shape, fortran_order: bool, fill: impl FnOnce(&mut [u8])) -> Result<NpArray> {
        let nbytes = shape::nbytes(&shape, dtype.itemsize())? as usize;
        let mut array = NpArray::allocate(dtype, shape, fortran_order, DataSize::Reserve(nbytes as u64))?;
        array.buf.resize(array.header_len + nbytes, 0);
        fill(array.data_mut());
        Ok(array)
    }

    /// The header written and room reserved for the data.
    fn allocate(dtype: Dtype, shape: Shape, fortran_order: bool, size: DataSize) -> Result<NpArray> {
        if shape.len() > shape::MAX_NDIM {
            return Err(NpyError::invalid(format!(
                "{} dimensions, the limit is {}",
                shape.len(),
                shape::MAX_NDIM
            )));
        }
        let nbytes = shape::nbytes(&shape, dtype.itemsize())?;
        let reserve = match size {
            DataSize::Exactly(len) if len != nbytes => {
                return Err(NpyError::invalid(format!("data is {len} bytes, expected {nbytes}")))
            }
            DataSize::Exactly(len) | DataSize::Reserve(len) => len,
        };
        let header = npy::write_header(&dtype, &shape, fortran_order);
        debug_assert_eq!(header.len() % DATA_ALIGN, 0);
        let mut buf = AlignedBytes::new(DATA_ALIGN);
        buf.try_reserve_exact(header.len() + reserve as usize)
            .map_err(|_| NpyError::invalid(format!("cannot allocate {reserve} bytes")))?;
        buf.extend_from_slice(&header);
        Ok(NpArray {
            dtype,
            shape,
            fortran_order,
            buf,
            header_len: header.len(),
        })
    }

    pub fn dtype(&self) -> &Dtype {
        &self.dtype
    }

    pub fn shape(&self) -> &[u64] {
        &self.shape
    }

    pub fn fortran_order(&self) -> bool {
        self.fortran_order
    }

    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    pub fn size(&self) -> u64 {
        shape::size(&self.shape)
    }

    pub fn itemsize(&self) -> u64 {
        self.dtype.itemsize()
    }

    pub fn nbytes(&self) -> u64 {
        self.data().len() as u64
    }

    /// The whole `.npy`, byte-identical to what `np.save` writes for this array.
    pub fn npy_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The array's data, 64-byte aligned.
    pub fn data(&self) -> &[u8] {
        &self.buf[self.header_len..]
    }

    /// The data as a typed slice, when `T` is this array's element type in native order.
    /// The whole buffer, for the glue's active defragmentation, which moves it.
    pub fn buffer_mut(&mut self) -> &mut AlignedBytes {
        &mut self.buf
    }

    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.header_len..]
    }

    pub fn as_slice<T: Element>(&self) -> Option<&[T]> {
        if !T::matches(&self.dtype) || self.dtype.order == ByteOrder::Big {
            return None;
        }
        bytemuck::try_cast_slice(self.data()).ok()
    }

    /// The axis `np.save` leaves header room for, and the one `append` grows:
    /// 0 in C order, the last axis in Fortran order; none for 0-d arrays.
    pub fn growth_axis(&self) -> Option<usize> {
        match (self.shape.len(), self.fortran_order) {
            (0, _) => None,
            (_, false) => Some(0),
            (n, true) => Some(n - 1),
        }
    }

    /// Bytes one step along the growth axis occupies (one row in C order).
    pub fn slab_bytes(&self) -> u64 {
        let Some(axis) = self.growth_axis() else {
            return self.nbytes();
        };
        let others: u64 = self
            .shape
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != axis)
            .map(|(_, d)| d)
            .product();
        others * self.itemsize()
    }

    /// The data size after appending `rows`, or why they do not fit. Nothing changes.
    pub fn check_append(&self, rows: &ParsedNpy) -> Result<u64> {
        self.appended_shape(rows)
            .map(|_| self.nbytes() + rows.data.len() as u64)
    }

    fn appended_shape(&self, rows: &ParsedNpy) -> Result<Shape> {
        let axis = self
            .growth_axis()
            .ok_or_else(|| NpyError::append("the stored array is 0-d"))?;
        if rows.dtype != self.dtype {
            return Err(NpyError::append(format!(
                "dtype {} does not match the stored {}",
                rows.dtype.descr(),
                self.dtype.descr()
            )));
        }
        let expected_rest = without_axis(&self.shape, axis);
        let steps = if rows.shape.len() == self.shape.len() {
            (without_axis(&rows.shape, axis) == expected_rest).then_some(rows.shape[axis])
        } else if rows.shape.len() + 1 == self.shape.len() {
            // A single row without the growth axis, e.g. shape (3,) onto (n, 3).
            (rows.shape == expected_rest).then_some(1)
        } else {
            None
        };
        let steps = steps.ok_or_else(|| {
            NpyError::append(format!(
                "shape {} does not fit {} along axis {axis}",
                shape::repr(&rows.shape),
                shape::repr(&self.shape)
            ))
        })?;
        let trivially_ordered = rows.shape.iter().filter(|&&d| d > 1).count() <= 1;
        if rows.fortran_order != self.fortran_order && !trivially_ordered {
            let order = |f: bool| if f { "Fortran" } else { "C" };
            return Err(NpyError::append(format!(
                "the payload is in {} order but the stored array is in {} order",
                order(rows.fortran_order),
                order(self.fortran_order)
            )));
        }
        let mut shape = self.shape.clone();
        shape[axis] = shape[axis]
            .checked_add(steps)
            .ok_or_else(|| NpyError::append("the growth axis would overflow"))?;
        shape::nbytes(&shape, self.itemsize())?;
        Ok(shape)
    }

    /// Replaces the contents with `value` inside the existing buffer when it
    /// fits without much slack (at most 1/8 more than needed), so overwriting
    /// an array with one of the same size touches no fresh memory. Returns
    /// false, changing nothing, when the buffer does not fit.
    pub fn overwrite_in_place(&mut self, value: &ParsedNpy) -> bool {
        let header = npy::write_header(&value.dtype, &value.shape, value.fortran_order);
        let needed = header.len() + value.data.len();
        let capacity = self.buf.capacity();
        if needed > capacity || capacity - needed > needed / 8 {
            return false;
        }
        self.buf.clear();
        self.buf.extend_from_slice(&header);
        self.buf.extend_from_slice(value.data);
        self.dtype = value.dtype.clone();
        self.shape = value.shape.clone();
        self.fortran_order = value.fortran_order;
        self.header_len = header.len();
        true
    }

    /// Appends `rows` along the growth axis in amortised O(appended bytes):
    /// the buffer grows by at least half its size when it must grow.
    pub fn append(&mut self, rows: &ParsedNpy) -> Result<()> {
        let shape = self.appended_shape(rows)?;
        let header = npy::write_header(&self.dtype, &shape, self.fortran_order);
        if header.len() != self.header_len {
            // Only when a non-growth dimension or the padding changes length; never in practice.
            let mut data = self.data().to_vec();
            data.extend_from_slice(rows.data);
            *self = NpArray::from_parts(self.dtype.clone(), shape, self.fortran_order, &data)?;
            return Ok(());
        }
        let needed = self.buf.len() + rows.data.len();
        if needed > self.buf.capacity() {
            let target = needed.max(self.buf.capacity() + self.buf.capacity() / 2);
            self.buf
                .try_reserve_exact(target - self.buf.len())
                .map_err(|_| NpyError::append(format!("cannot allocate {target} bytes")))?;
        }
        self.buf[..header.len()].copy_from_slice(&header);
        self.buf.extend_from_slice(rows.data);
        self.shape = shape;
        Ok(())
    }

    /// Splits the array along the growth axis into `.npy` pieces of about
    /// `max_bytes` of data each: the first for NP.SET, the rest for NP.APPEND.
    /// Used by the AOF rewrite so no single argument is huge.
    pub fn pieces(&self, max_bytes: u64) -> Vec<(Shape, std::ops::Range<usize>)> {
        let slab = self.slab_bytes();
        let axis = match self.growth_axis() {
            Some(axis) if self.nbytes() > max_bytes && slab > 0 => axis,
            _ => return vec![(self.shape.clone(), 0..self.data().len())],
        };
        // A Fortran array's first piece must stay Fortran-ordered as np.save
        // writes it (at least two dimensions longer than 1), or NP.SET would
        // store it in C order and NP.APPEND would grow its first axis.
        let per_piece = (max_bytes / slab).max(if self.fortran_order { 2 } else { 1 });
        let total = self.shape[axis];
        let mut out = Vec::new();
        let mut start = 0;
        while start < total {
            let steps = per_piece.min(total - start);
            let mut shape = self.shape.clone();
            shape[axis] = steps;
            out.push((shape, (start * slab) as usize..((start + steps) * slab) as usize));
            start += steps;
        }
        out
    }

    /// Gives the same data a new shape and order flag (same element count)
    /// without moving it: only the header is rewritten, in place when its
    /// length is unchanged, which is nearly always (np.save pads it to 64 bytes).
    pub fn relabel(&mut self, shape: Shape, fortran_order: bool) -> Result<()> {
        if shape::size(&shape) != self.size() || shape.len() > shape::MAX_NDIM {
            return Err(NpyError::invalid(format!(
                "shape {} does not fit {} elements",
                shape::repr(&shape),
                self.size()
            )));
        }
        let header = npy::write_header(&self.dtype, &shape, fortran_order);
        if header.len() != self.header_len {
            let data = self.data().to_vec();
            *self = NpArray::from_parts(self.dtype.clone(), shape, fortran_order, &data)?;
            return Ok(());
        }
        self.buf[..header.len()].copy_from_slice(&header);
        self.shape = shape;
        self.fortran_order = fortran_order;
        Ok(())
    }

    /// Bytes this value occupies, for MEMORY USAGE: the value itself, its
    /// small heap parts, and its buffer as `allocated(ptr, capacity)` reports it
    /// (the glue asks the allocator for the real block size, size-class rounding included).
    pub fn memory_usage(&self, allocated: impl Fn(*const u8, usize) -> usize) -> usize {
        let shape_heap = if self.shape.spilled() {
            self.shape.capacity() * 8
        } else {
            0
        };
        let buffer = allocated(self.buf.as_ptr(), self.buf.capacity());
        std::mem::size_of::<NpArray>() + buffer + shape_heap + self.dtype.heap_bytes()
    }
}

/// Rust element types that an array's data can be viewed as.
pub trait Element: bytemuck::Pod {
    fn matches(dtype: &Dtype) -> bool;
}

macro_rules! element {
    ($($t:ty => $kind:pat),* $(,)?) => {
        $(impl Element for $t {
            fn matches(dtype: &Dtype) -> bool {
                matches!(dtype.kind, $kind)
            }
        })*
    };
}

element! {
    i8 => Kind::Int8,
    i16 => Kind::Int16,
    i32 => Kind::Int32,
    i64 => Kind::Int64 | Kind::DateTime(_) | Kind::TimeDelta(_),
    u8 => Kind::UInt8 | Kind::Bool,
    u16 => Kind::UInt16,
    u32 => Kind::UInt32,
    u64 => Kind::UInt64,
    f16 => Kind::Float16,
    f32 => Kind::Float32,
    f64 => Kind::Float64,
    Complex<f32> => Kind::Complex64,
    Complex<f64> => Kind::Complex128,
}

fn without_axis(shape: &[u64], axis: usize) -> Shape {
    shape
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != axis)
        .map(|(_, &d)| d)
        .collect()
}

/// What `allocate` makes room for: data of exactly this length (checked
/// against the shape before anything is allocated), or room for this much.
enum DataSize {
    Exactly(u64),
    Reserve(u64),
}

/// An array whose data is pushed in pieces; see [`NpArray::builder`].
pub struct NpArrayBuilder {
    array: NpArray,
    nbytes: u64,
}

impl NpArrayBuilder {
    /// Data bytes still missing.
    pub fn remaining(&self) -> usize {
        (self.nbytes - self.array.nbytes()) as usize
    }

    pub fn push(&mut self, piece: &[u8]) -> Result<()> {
        if piece.len() > self.remaining() {
            return Err(NpyError::invalid(format!(
                "data is longer than the {} bytes the shape needs",
                self.nbytes
            )));
        }
        let remaining = self.remaining();
        let buf = &mut self.array.buf;
        if buf.capacity() - buf.len() < piece.len() {
            let grow = piece.len().max(buf.capacity()).min(remaining);
            buf.try_reserve_exact(grow)
                .map_err(|_| NpyError::invalid(format!("cannot allocate {} bytes", buf.len() + grow)))?;
        }
        buf.extend_from_slice(piece);
        Ok(())
    }

    pub fn finish(self) -> Result<NpArray> {
        match self.remaining() {
            0 => Ok(self.array),
            missing => Err(NpyError::invalid(format!(
                "data is {} bytes, expected {}",
                self.nbytes - missing as u64,
                self.nbytes
            ))),
        }
    }
}

/// An array of `typestr` for the pure layer's unit tests.
#[cfg(test)]
pub(crate) fn test_array(typestr: &str, shape: &[u64], fortran_order: bool, data: &[u8]) -> NpArray {
    let dtype = Dtype::from_typestr(typestr).unwrap();
    NpArray::from_parts(dtype, Shape::from_slice(shape), fortran_order, data).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_aligned_and_follows_the_header() {
        let data: Vec<u8> = (0..24u8).collect();
        let a = test_array("<f8", &[3], false, &data);
        assert_eq!(a.data().as_ptr() as usize % DATA_ALIGN, 0);
        assert_eq!(a.data(), &data[..]);
        let again = NpArray::from_npy(a.npy_bytes()).unwrap();
        assert_eq!(again.npy_bytes(), a.npy_bytes());
        assert_eq!((a.size(), a.nbytes(), a.itemsize(), a.ndim()), (3, 24, 8, 1));
    }

    #[test]
    fn typed_views_match_the_dtype() {
        let values = [1.5f32, -2.0, 3.25];
        let a = test_array("<f4", &[3], false, bytemuck::cast_slice(&values));
        assert_eq!(a.as_slice::<f32>(), Some(&values[..]));
        assert_eq!(a.as_slice::<i32>(), None);
        let c = [Complex::new(1.0f64, 2.0)];
        let a = test_array("<c16", &[], false, bytemuck::cast_slice(&c));
        assert_eq!(a.as_slice::<Complex<f64>>(), Some(&c[..]));
        let h = [f16::from_f32(0.5)];
        assert_eq!(
            test_array("<f2", &[1], false, bytemuck::cast_slice(&h)).as_slice::<f16>(),
            Some(&h[..])
        );
        assert_eq!(
            test_array(">f4", &[1], false, &[0; 4]).as_slice::<f32>(),
            None,
            "big-endian has no native view"
        );
    }

    #[test]
    fn refuses_mismatched_data() {
        let e = NpArray::from_parts(
            Dtype::from_typestr("<f8").unwrap(),
            Shape::from_slice(&[2]),
            false,
            &[0; 8],
        );
        assert!(e.unwrap_err().to_string().contains("data is 8 bytes, expected 16"));
    }

    fn parsed(npy: &[u8]) -> ParsedNpy<'_> {
        npy::parse(npy).unwrap()
    }

    #[test]
    fn append_grows_along_axis_0_in_c_order() {
        let mut a = test_array("<i2", &[1, 2], false, &[1, 0, 2, 0]);
        let rows = test_array("<i2", &[2, 2], false, &[3, 0, 4, 0, 5, 0, 6, 0]);
        a.append(&parsed(rows.npy_bytes())).unwrap();
        let one_row = test_array("<i2", &[2], false, &[7, 0, 8, 0]);
        a.append(&parsed(one_row.npy_bytes())).unwrap();
        assert_eq!(a.shape(), &[4, 2]);
        assert_eq!(a.as_slice::<i16>().unwrap(), &[1, 2, 3, 4, 5, 6, 7, 8]);
        let fresh = test_array("<i2", &[4, 2], false, a.data());
        assert_eq!(a.npy_bytes(), fresh.npy_bytes(), "header rewritten as np.save would");
        assert_eq!(a.data().as_ptr() as usize % DATA_ALIGN, 0);
    }

    #[test]
    fn append_grows_the_last_axis_in_fortran_order() {
        let dtype = || Dtype::from_typestr("|u1").unwrap();
        let mut a = NpArray::from_parts(dtype(), Shape::from_slice(&[2, 1]), true, &[1, 2]).unwrap();
        let cols = NpArray::from_parts(dtype(), Shape::from_slice(&[2, 2]), true, &[3, 4, 5, 6]).unwrap();
        a.append(&parsed(cols.npy_bytes())).unwrap();
        assert_eq!(a.shape(), &[2, 3]);
        assert_eq!(a.data(), &[1, 2, 3, 4, 5, 6]);
        let c_cols = test_array("|u1", &[2, 2], false, &[0; 4]);
        let err = a.append(&parsed(c_cols.npy_bytes())).unwrap_err().to_string();
        assert!(
            err.contains("C order but the stored array is in Fortran order"),
            "{err}"
        );
    }

    #[test]
    fn append_refuses_mismatches_without_changing_anything() {
        let mut a = test_array("<f4", &[2, 3], false, &[0; 24]);
        let before = a.npy_bytes().to_vec();
        for (other, expected) in [
            (
                test_array("<f8", &[1, 3], false, &[0; 24]),
                "dtype '<f8' does not match the stored '<f4'",
            ),
            (
                test_array("<f4", &[1, 2], false, &[0; 8]),
                "shape (1, 2) does not fit (2, 3) along axis 0",
            ),
            (test_array("<f4", &[1, 1, 3], false, &[0; 12]), "does not fit"),
        ] {
            let err = a.append(&parsed(other.npy_bytes())).unwrap_err().to_string();
            assert!(err.starts_with("cannot append: ") && err.contains(expected), "{err}");
            assert_eq!(a.npy_bytes(), &before[..]);
        }
        let mut scalar = test_array("<f4", &[], false, &[0; 4]);
        let err = scalar
            .append(&parsed(test_array("<f4", &[], false, &[0; 4]).npy_bytes()))
            .unwrap_err();
        assert!(err.to_string().contains("0-d"));
    }

    #[test]
    fn many_appends_grow_geometrically() {
        let mut a = test_array("<u4", &[0, 4], false, &[]);
        let row = test_array("<u4", &[4], false, &[9; 16]);
        let mut reallocations = 0;
        for _ in 0..10_000 {
            let cap = a.buf.capacity();
            a.append(&parsed(row.npy_bytes())).unwrap();
            reallocations += usize::from(a.buf.capacity() != cap);
        }
        assert_eq!(a.shape(), &[10_000, 4]);
        assert!(reallocations < 30, "{reallocations} reallocations");
        assert!(a.memory_usage(|_, n| n) < 2 * 160_000 + 1024, "slack stays under half");
    }

    #[test]
    fn pieces_split_along_the_growth_axis() {
        let a = test_array("<i8", &[10, 3], false, &[0; 240]);
        assert_eq!(a.pieces(1 << 20), vec![(Shape::from_slice(&[10, 3]), 0..240)]);
        let pieces = a.pieces(100);
        let shapes: Vec<_> = pieces.iter().map(|(s, _)| s[0]).collect();
        assert_eq!(shapes, [4, 4, 2]);
        assert_eq!(pieces.last().unwrap().1, 192..240);
    }

    #[test]
    fn overwrite_reuses_a_buffer_of_the_right_size_only() {
        let mut a = test_array("<f4", &[4, 4], false, &[0; 64]);
        let ptr = a.npy_bytes().as_ptr();
        let payload = test_array("<i8", &[2, 4], true, &[7; 64]).npy_bytes().to_vec();
        assert!(a.overwrite_in_place(&npy::parse(&payload).unwrap()));
        assert_eq!((a.npy_bytes(), a.npy_bytes().as_ptr()), (&payload[..], ptr));
        let small = test_array("|u1", &[2], false, &[1, 2]).npy_bytes().to_vec();
        assert!(!a.overwrite_in_place(&npy::parse(&small).unwrap()), "too much slack");
        assert_eq!(a.npy_bytes(), &payload[..], "unchanged when refused");
    }

    #[test]
    fn memory_usage_covers_the_buffer() {
        let a = test_array("|u1", &[1000], false, &[7; 1000]);
        assert!(a.memory_usage(|_, n| n) >= 1000 + 128);
        assert!(a.memory_usage(|_, n| n) <= 1000 + 128 + 512);
    }
}
