//! The RDB encoding of a stored array, free of Redis so it can be tested and fuzzed.
//!
//! Redis stores, per key, the type's encoding version and a series of string
//! buffers (see docs/rdb-format.md):
//! 1. `meta`: `flags: u8` (bit 0 = Fortran order; other bits must be 0),
//!    `ndim` and each dimension as LEB128 varints, then the dtype's descr text
//!    (UTF-8) up to the end of the buffer;
//! 2. the data, `nbytes` raw bytes in the array's own byte order: version 2
//!    splits it into strings of [`DATA_CHUNK_BYTES`] (the last one shorter,
//!    none for an empty array); version 1 wrote it as one string.
//!
//! The `.npy` header is not stored: it is synthesized again on load.

use std::borrow::Cow;

use crate::array::NpArray;
use crate::dtype::Dtype;
use crate::error::{NpyError, Result};
use crate::meta::Meta;
use crate::shape::{Shape, MAX_NDIM};

/// The encoding version written today. Every older version still loads.
pub const ENCODING_VERSION: i32 = 2;

/// Version 2's data string size. Loading copies each string into the array
/// through one small reused buffer, instead of faulting in a second
/// array-sized one, and saving compresses piece by piece.
pub const DATA_CHUNK_BYTES: usize = 1 << 20;

const FLAG_FORTRAN: u8 = 1;
const KNOWN_FLAGS: u8 = FLAG_FORTRAN;

pub fn encode_meta(array: &NpArray) -> Vec<u8> {
    let descr = array.dtype().descr();
    let mut out = Vec::with_capacity(2 + array.ndim() * 3 + descr.len());
    out.push(if array.saved_fortran() { FLAG_FORTRAN } else { 0 });
    put_varint(&mut out, array.ndim() as u64);
    for &d in array.shape() {
        put_varint(&mut out, d);
    }
    out.extend_from_slice(descr.as_bytes());
    out
}

/// The data strings `rdb_save` writes after the meta: the data in pieces of
/// [`DATA_CHUNK_BYTES`], borrowed from the value. A wrapped rolling buffer
/// saves exactly as its contiguous form: the one piece that crosses its wrap
/// is copied into a buffer of its own (never the whole array: saving runs in
/// a fork child, where every page written is copied).
pub fn data_strings(array: &NpArray) -> impl Iterator<Item = Cow<'_, [u8]>> {
    let nbytes = array.nbytes() as usize;
    (0..nbytes).step_by(DATA_CHUNK_BYTES).map(move |start| {
        match array.data_range(start..nbytes.min(start + DATA_CHUNK_BYTES)) {
            (piece, []) => Cow::Borrowed(piece),
            (first, second) => Cow::Owned([first, second].concat()),
        }
    })
}

fn stored(e: NpyError) -> NpyError {
    e.in_stored()
}

/// Rebuilds an array from its meta and the data strings that follow it, read
/// one at a time through `next_string`, validating every field and length.
/// The meta alone is not trusted with a big allocation: at most one data
/// string's worth ([`DATA_CHUNK_BYTES`]) is reserved before the data arrives,
/// and the buffer grows as it does (see [`NpArray::builder`]).
pub fn decode_with<B: AsRef<[u8]>>(
    encver: i32,
    meta: &[u8],
    mut next_string: impl FnMut() -> Result<B>,
) -> Result<NpArray> {
    if !(1..=ENCODING_VERSION).contains(&encver) {
        return Err(NpyError::rdb(format!(
            "unknown encoding version {encver} (this module reads versions 1 to {ENCODING_VERSION})"
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
    let dtype = Dtype::from_stored_descr_text(descr).map_err(stored)?;
    // Values saved before the order was stored as np.save writes it may say
    // Fortran for a C-contiguous shape; they load as np.load would read them.
    let meta = Meta::new(dtype, shape, flags & FLAG_FORTRAN != 0);
    if encver == 1 {
        let data = next_string()?;
        return NpArray::from_parts(meta, data.as_ref()).map_err(stored);
    }
    let mut array = NpArray::builder(meta, DATA_CHUNK_BYTES as u64).map_err(stored)?;
    while array.remaining() > 0 {
        let expected = array.remaining().min(DATA_CHUNK_BYTES);
        let string = next_string()?;
        if string.as_ref().len() != expected {
            return Err(NpyError::rdb(format!(
                "data string is {} bytes, expected {expected}",
                string.as_ref().len()
            )));
        }
        array.push(string.as_ref()).map_err(stored)?;
    }
    array.finish().map_err(stored)
}

/// [`decode_with`] over data held in one slice: version 1's single string,
/// or version 2's strings cut at [`DATA_CHUNK_BYTES`]. For tests, fuzzers and
/// benches; Redis hands the module one string at a time.
#[cfg(any(test, feature = "system-alloc"))]
pub fn decode(encver: i32, meta: &[u8], data: &[u8]) -> Result<NpArray> {
    let mut strings: Box<dyn Iterator<Item = &[u8]>> = if encver == 1 {
        Box::new(std::iter::once(data))
    } else {
        Box::new(data.chunks(DATA_CHUNK_BYTES))
    };
    let array = decode_with(encver, meta, || {
        strings
            .next()
            .ok_or_else(|| NpyError::rdb("data is shorter than the shape needs"))
    })?;
    match strings.next() {
        Some(_) => Err(NpyError::rdb("data is longer than the shape needs")),
        None => Ok(array),
    }
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
    use crate::array::test_array;
    #[allow(unused_imports)]
    use crate::meta::{test_meta, Meta};

    fn roundtrip(npy_descr: &str, shape: &[u64], fortran: bool) {
        let dtype = Dtype::from_descr_text(npy_descr).unwrap();
        let n = crate::shape::nbytes(shape, dtype.itemsize()).unwrap() as usize;
        let data: Vec<u8> = (0..n).map(|i| (i * 31 % 251) as u8).collect();
        let a = NpArray::from_parts(Meta::new(dtype, Shape::from_slice(shape), fortran), &data).unwrap();
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
        let a = test_array("<f4", &[1000, 384], false, &vec![0; 1_536_000]);
        assert_eq!(encode_meta(&a), b"\x00\x02\xe8\x07\x80\x03'<f4'");
    }

    #[test]
    fn version_2_splits_data_into_chunks_and_checks_each() {
        let n = 2 * DATA_CHUNK_BYTES + 8;
        let data: Vec<u8> = (0..n).map(|i| (i % 253) as u8).collect();
        let a = test_array("|u1", &[n as u64], false, &data);
        let strings: Vec<Cow<[u8]>> = data_strings(&a).collect();
        assert_eq!(
            strings.iter().map(|s| s.len()).collect::<Vec<_>>(),
            [DATA_CHUNK_BYTES, DATA_CHUNK_BYTES, 8]
        );
        let meta = encode_meta(&a);
        let mut it = strings.iter();
        let b = decode_with(2, &meta, || Ok(it.next().unwrap().clone())).unwrap();
        assert_eq!(a.npy_bytes(), b.npy_bytes());
        // A string cut at another place is refused, as is a missing one.
        let mut wrong = [&data[..DATA_CHUNK_BYTES - 1], &data[DATA_CHUNK_BYTES - 1..]].into_iter();
        let e = decode_with(2, &meta, || wrong.next().ok_or_else(|| NpyError::rdb("no more"))).unwrap_err();
        assert!(e.to_string().contains("expected 1048576"), "{e}");
        assert!(decode(2, &meta, &data[..n - 1]).is_err());
        // Version 1: the data in one string.
        let c = decode(1, &meta, &data).unwrap();
        assert_eq!(a.npy_bytes(), c.npy_bytes());
        // An empty array has no data string in version 2, one empty string in version 1.
        let meta = encode_meta(&test_array("<f4", &[0, 3], false, &[]));
        assert_eq!(data_strings(&decode(2, &meta, &[]).unwrap()).count(), 0);
        assert!(decode_with(2, &meta, || -> Result<&[u8]> { panic!("no string to read") }).is_ok());
        // A record claiming 2^60 bytes reserves one data string's worth before its data is missed.
        let huge = b"\x00\x01\x80\x80\x80\x80\x80\x80\x80\x80\x10'|u1'";
        let e = decode_with(2, huge, || Err::<&[u8], _>(NpyError::rdb("short read"))).unwrap_err();
        assert_eq!(e.to_string(), "invalid stored array: short read");
        assert!(decode(1, &meta, &[]).is_ok());
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
        assert!(decode(2, ok, &[0; 24]).is_ok());
        let cases: [(i32, &[u8], usize, &str); 10] = [
            (3, ok, 24, "unknown encoding version 3"),
            (0, ok, 24, "unknown encoding version 0"),
            (1, b"", 0, "empty metadata"),
            (1, b"\x02\x01\x03'<f8'", 24, "unknown flags"),
            (1, b"\x00\x41", 0, "65 dimensions"),
            (1, b"\x00\x02\x03", 24, "truncated"),
            (1, b"\x00\x01\x03'<f9'", 24, "not a supported dtype"),
            (1, b"\x00\x01\x03'<f8'", 23, "data is 23 bytes"),
            (2, b"\x00\x01\x03'<f8'", 23, "data string is 23 bytes, expected 24"),
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
