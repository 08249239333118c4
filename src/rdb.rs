//! The RDB encoding of a stored array, free of Redis so it can be tested and fuzzed.
//!
//! Redis stores, per key, the type's encoding version and two string buffers
//! (see docs/rdb-format.md):
//! 1. `meta`: `flags: u8` (bit 0 = Fortran order; other bits must be 0),
//!    `ndim` and each dimension as LEB128 varints, then the dtype's descr text
//!    (UTF-8) up to the end of the buffer;
//! 2. `data`: exactly `nbytes` raw bytes, in the array's own byte order.
//!
//! The `.npy` header is not stored: it is synthesized again on load.

use crate::array::NpArray;
use crate::dtype::Dtype;
use crate::error::{NpyError, Result};
use crate::shape::{Shape, MAX_NDIM};

/// The encoding version written today. Loaders for every older version stay.
pub const ENCODING_VERSION: i32 = 1;

const FLAG_FORTRAN: u8 = 1;
const KNOWN_FLAGS: u8 = FLAG_FORTRAN;

pub fn encode_meta(array: &NpArray) -> Vec<u8> {
    let descr = array.dtype().descr();
    let mut out = Vec::with_capacity(2 + array.ndim() * 3 + descr.len());
    out.push(if array.fortran_order() { FLAG_FORTRAN } else { 0 });
    put_varint(&mut out, array.ndim() as u64);
    for &d in array.shape() {
        put_varint(&mut out, d);
    }
    out.extend_from_slice(descr.as_bytes());
    out
}

/// Rebuilds an array from what `rdb_save` wrote, validating every field.
pub fn decode(encver: i32, meta: &[u8], data: &[u8]) -> Result<NpArray> {
    if encver != ENCODING_VERSION {
        return Err(NpyError::rdb(format!(
            "unknown encoding version {encver} (this module reads version {ENCODING_VERSION})"
        )));
    }
    let (&flags, mut rest) = meta.split_first().ok_or_else(|| NpyError::rdb("empty metadata"))?;
    if flags & !KNOWN_FLAGS != 0 {
        return Err(NpyError::rdb(format!("unknown flags {flags:#04x}")));
    }
    let ndim = take_varint(&mut rest)?;
    if ndim > MAX_NDIM as u64 {
        return Err(NpyError::rdb(format!("{ndim} dimensions, the limit is {MAX_NDIM}")));
    }
    let shape = (0..ndim).map(|_| take_varint(&mut rest)).collect::<Result<Shape>>()?;
    let descr = std::str::from_utf8(rest).map_err(|_| NpyError::rdb("descr is not UTF-8"))?;
    let dtype = Dtype::from_descr_text(descr).map_err(|e| match e {
        NpyError::Invalid(reason) => NpyError::Rdb(reason),
        other => other,
    })?;
    NpArray::from_parts(dtype, shape, flags & FLAG_FORTRAN != 0, data).map_err(|e| match e {
        NpyError::Invalid(reason) => NpyError::Rdb(reason),
        other => other,
    })
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn take_varint(input: &mut &[u8]) -> Result<u64> {
    let mut value: u64 = 0;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = input.split_first().ok_or_else(|| NpyError::rdb("truncated varint"))?;
        *input = rest;
        let bits = u64::from(byte & 0x7f);
        if shift == 63 && bits > 1 {
            return Err(NpyError::rdb("varint overflows 64 bits"));
        }
        value |= bits << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(NpyError::rdb("varint overflows 64 bits"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(npy_descr: &str, shape: &[u64], fortran: bool) {
        let dtype = Dtype::from_descr_text(npy_descr).unwrap();
        let n = crate::shape::nbytes(shape, dtype.itemsize()).unwrap() as usize;
        let data: Vec<u8> = (0..n).map(|i| (i * 31 % 251) as u8).collect();
        let a = NpArray::from_parts(dtype, Shape::from_slice(shape), fortran, &data).unwrap();
        let meta = encode_meta(&a);
        let b = decode(ENCODING_VERSION, &meta, a.data()).unwrap();
        assert_eq!(a.npy_bytes(), b.npy_bytes());
    }

    #[test]
    fn roundtrips() {
        roundtrip("'<f8'", &[3, 4], false);
        roundtrip("'>i2'", &[2, 3, 4], true);
        roundtrip("'<M8[10ms]'", &[], false);
        roundtrip(
            "[('a', '<i4'), ('', '|V4'), ('b', [('x', '>f4')], (2, 3))]",
            &[5],
            false,
        );
        roundtrip("'|u1'", &[0, 1 << 40], false);
        roundtrip("'|b1'", &[1; 64], false);
    }

    #[test]
    fn meta_is_compact() {
        let a = NpArray::from_parts(
            Dtype::from_typestr("<f4").unwrap(),
            Shape::from_slice(&[1000, 384]),
            false,
            &vec![0; 1_536_000],
        )
        .unwrap();
        assert_eq!(encode_meta(&a), b"\x00\x02\xe8\x07\x80\x03'<f4'");
    }

    #[test]
    fn varints() {
        for v in [0, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            let mut buf = Vec::new();
            put_varint(&mut buf, v);
            let mut slice = &buf[..];
            assert_eq!(take_varint(&mut slice).unwrap(), v);
            assert!(slice.is_empty());
        }
        assert!(take_varint(&mut &[0xff; 11][..]).is_err());
        assert!(take_varint(&mut &[0x80][..]).is_err());
        assert!(take_varint(&mut &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02][..]).is_err());
    }

    #[test]
    fn refuses_corrupt_input() {
        let ok = b"\x00\x01\x03'<f8'";
        assert!(decode(1, ok, &[0; 24]).is_ok());
        let cases: [(i32, &[u8], usize, &str); 8] = [
            (2, ok, 24, "unknown encoding version 2"),
            (1, b"", 0, "empty metadata"),
            (1, b"\x02\x01\x03'<f8'", 24, "unknown flags"),
            (1, b"\x00\x41", 0, "65 dimensions"),
            (1, b"\x00\x02\x03", 24, "truncated"),
            (1, b"\x00\x01\x03'<f9'", 24, "not a supported dtype"),
            (1, b"\x00\x01\x03'<f8'", 23, "data is 23 bytes"),
            (1, b"\x00\x01\x03'|O'", 24, "object"),
        ];
        for (encver, meta, n, expected) in cases {
            let e = decode(encver, meta, &vec![0; n]).unwrap_err().to_string();
            assert!(e.contains(expected), "{meta:?}: {e}");
        }
    }
}

/// Every `np.save` output in tests/fixtures survives parse → RDB encode →
/// decode → synthesize byte for byte.
#[cfg(test)]
mod fixture_tests {
    use super::*;

    #[test]
    fn numpy_fixtures_roundtrip_byte_exact() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/npy");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).expect("fixtures exist") {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let array = NpArray::from_npy(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(
                array.npy_bytes() == bytes,
                "{name}: synthesized .npy differs from np.save's"
            );
            let reloaded = decode(ENCODING_VERSION, &encode_meta(&array), array.data()).unwrap();
            assert!(reloaded.npy_bytes() == bytes, "{name}: differs after the RDB encoding");
            seen += 1;
        }
        assert!(seen >= 40, "only {seen} fixtures found in {}", dir.display());
    }
}
