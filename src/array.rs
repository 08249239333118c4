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
use crate::npy;
use crate::shape::{self, Shape};

pub const DATA_ALIGN: usize = 64;
type AlignedBytes = AVec<u8, ConstAlign<DATA_ALIGN>>;

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
        if shape.len() > shape::MAX_NDIM {
            return Err(NpyError::invalid(format!(
                "{} dimensions, the limit is {}",
                shape.len(),
                shape::MAX_NDIM
            )));
        }
        let nbytes = shape::nbytes(&shape, dtype.itemsize())?;
        if data.len() as u64 != nbytes {
            return Err(NpyError::invalid(format!(
                "data is {} bytes, expected {nbytes}",
                data.len()
            )));
        }
        let header = npy::write_header(&dtype, &shape, fortran_order);
        debug_assert_eq!(header.len() % DATA_ALIGN, 0);
        let mut buf = AlignedBytes::new(DATA_ALIGN);
        buf.try_reserve_exact(header.len() + data.len())
            .map_err(|_| NpyError::invalid(format!("cannot allocate {nbytes} bytes")))?;
        buf.extend_from_slice(&header);
        buf.extend_from_slice(data);
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
    pub fn as_slice<T: Element>(&self) -> Option<&[T]> {
        if !T::matches(&self.dtype) || self.dtype.order == ByteOrder::Big {
            return None;
        }
        bytemuck::try_cast_slice(self.data()).ok()
    }

    /// Bytes this value owns on the heap plus the value itself, for MEMORY USAGE.
    pub fn memory_usage(&self) -> usize {
        let shape_heap = if self.shape.spilled() {
            self.shape.capacity() * 8
        } else {
            0
        };
        std::mem::size_of::<NpArray>() + self.buf.capacity() + shape_heap + dtype_heap(&self.dtype)
    }
}

fn dtype_heap(dtype: &Dtype) -> usize {
    match &dtype.kind {
        Kind::Record(r) => {
            std::mem::size_of_val(r.as_ref())
                + r.fields.capacity() * std::mem::size_of::<crate::dtype::Field>()
                + r.fields
                    .iter()
                    .map(|f| {
                        f.name.capacity()
                            + f.name_source.capacity()
                            + if f.shape.spilled() { f.shape.capacity() * 8 } else { 0 }
                            + dtype_heap(&f.dtype)
                    })
                    .sum::<usize>()
        }
        _ => 0,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn array(typestr: &str, shape: &[u64], data: &[u8]) -> NpArray {
        NpArray::from_parts(
            Dtype::from_typestr(typestr).unwrap(),
            Shape::from_slice(shape),
            false,
            data,
        )
        .unwrap()
    }

    #[test]
    fn data_is_aligned_and_follows_the_header() {
        let data: Vec<u8> = (0..24u8).collect();
        let a = array("<f8", &[3], &data);
        assert_eq!(a.data().as_ptr() as usize % DATA_ALIGN, 0);
        assert_eq!(a.data(), &data[..]);
        let again = NpArray::from_npy(a.npy_bytes()).unwrap();
        assert_eq!(again.npy_bytes(), a.npy_bytes());
        assert_eq!((a.size(), a.nbytes(), a.itemsize(), a.ndim()), (3, 24, 8, 1));
    }

    #[test]
    fn typed_views_match_the_dtype() {
        let values = [1.5f32, -2.0, 3.25];
        let a = array("<f4", &[3], bytemuck::cast_slice(&values));
        assert_eq!(a.as_slice::<f32>(), Some(&values[..]));
        assert_eq!(a.as_slice::<i32>(), None);
        let c = [Complex::new(1.0f64, 2.0)];
        let a = array("<c16", &[], bytemuck::cast_slice(&c));
        assert_eq!(a.as_slice::<Complex<f64>>(), Some(&c[..]));
        let h = [f16::from_f32(0.5)];
        assert_eq!(
            array("<f2", &[1], bytemuck::cast_slice(&h)).as_slice::<f16>(),
            Some(&h[..])
        );
        assert_eq!(
            array(">f4", &[1], &[0; 4]).as_slice::<f32>(),
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

    #[test]
    fn memory_usage_covers_the_buffer() {
        let a = array("|u1", &[1000], &[7; 1000]);
        assert!(a.memory_usage() >= 1000 + 128);
        assert!(a.memory_usage() <= 1000 + 128 + 512);
    }
}
