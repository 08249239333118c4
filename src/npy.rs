//! The `.npy` container: parsing what `np.save` writes and writing its header
//! back byte-for-byte (NumPy 2.x `numpy/lib/_format_impl.py`).
//!
//! Layout: magic `\x93NUMPY`, major and minor version bytes, header length
//! (u16 LE in 1.0, u32 LE in 2.0/3.0), header text, data. The header text is
//! Latin-1 in 1.0/2.0 and UTF-8 in 3.0, padded with spaces and a final `\n`
//! so that the data starts at a multiple of 64.

use std::borrow::Cow;

use crate::dtype::Dtype;
use crate::error::{excerpt, NpyError, Result};
use crate::meta::Meta;
use crate::pyliteral::{self, Literal, Next, Parser};
use crate::shape::{self, Shape};

pub const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// Largest header we accept. NumPy writes headers over 64 KiB for wide
/// structured dtypes; parsing is linear, so the limit is generous.
pub const MAX_HEADER_LEN: usize = 1 << 20;
/// Longest canonical descr text a stored dtype may have: what is left of
/// [`MAX_HEADER_LEN`] after the rest of the dict with 64 twenty-digit
/// dimensions, the growth-axis spaces and the padding (under 1,600 bytes).
/// So every header the module writes for a stored dtype (`NP.GET` with any
/// slice, AOF, RDB) is one the module and `np.load` accept again.
pub const MAX_DESCR_LEN: usize = MAX_HEADER_LEN - 2048;
/// The data of every array NumPy writes starts at a multiple of this.
pub const ARRAY_ALIGN: usize = 64;
/// NumPy leaves room for the growth axis to reach this many digits.
const GROWTH_AXIS_MAX_DIGITS: usize = 21;

/// A validated `.npy` payload: its metadata and a borrow of its data bytes.
#[derive(Debug)]
pub struct ParsedNpy<'a> {
    pub meta: Meta,
    pub data: &'a [u8],
}

/// The refusal of a payload that is not `.npy`, with a hint for the two
/// formats NumPy users most often have at hand instead.
fn bad_magic(bytes: &[u8]) -> &'static str {
    if bytes.starts_with(b"PK\x03\x04") {
        "bad magic: this is an np.savez archive (a zip of .npy files), not .npy; store each array it holds on its own"
    } else if bytes.first() == Some(&0x80) {
        "bad magic: this looks like a pickle, which is never unpickled; store np.save's bytes instead"
    } else {
        "bad magic (expected \\x93NUMPY, as np.save writes)"
    }
}

/// Validates a whole `.npy` payload. Sizes are checked against the payload
/// before anything is allocated, and the data length must match exactly.
pub fn parse(bytes: &[u8]) -> Result<ParsedNpy<'_>> {
    if bytes.is_empty() {
        return Err(NpyError::invalid("empty payload"));
    }
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err(NpyError::invalid(bad_magic(bytes)));
    }
    let (major, minor) = match bytes.get(6..8) {
        Some(&[major, minor]) => (major, minor),
        _ => return Err(NpyError::invalid("truncated before the version")),
    };
    let len_field = match (major, minor) {
        (1, 0) => 2,
        (2, 0) | (3, 0) => 4,
        _ => return Err(NpyError::invalid(format!("unsupported format version {major}.{minor}"))),
    };
    let start = 8 + len_field;
    let len_bytes = bytes
        .get(8..start)
        .ok_or_else(|| NpyError::invalid("truncated before the header length"))?;
    let header_len = len_bytes
        .iter()
        .rev()
        .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
    if header_len > MAX_HEADER_LEN {
        return Err(NpyError::invalid(format!(
            "header is {header_len} bytes, the limit is {MAX_HEADER_LEN}"
        )));
    }
    let end = start + header_len;
    let raw = bytes.get(start..end).ok_or_else(|| {
        NpyError::invalid(format!(
            "header length {header_len} runs past the end of the payload ({} bytes)",
            bytes.len()
        ))
    })?;
    let text: Cow<str> = if major == 3 {
        Cow::Borrowed(std::str::from_utf8(raw).map_err(|_| NpyError::invalid("format 3.0 header is not valid UTF-8"))?)
    } else if raw.is_ascii() {
        Cow::Borrowed(std::str::from_utf8(raw).expect("ASCII is UTF-8"))
    } else {
        Cow::Owned(raw.iter().map(|&b| char::from(b)).collect())
    };
    let (dtype, shape, fortran_order) = parse_header_dict(&text)?;
    let data = &bytes[end..];
    let descr_len = dtype.descr_len();
    if descr_len > MAX_DESCR_LEN {
        return Err(NpyError::invalid(format!(
            "the dtype's descr is {descr_len} bytes as np.save writes it, the limit is {MAX_DESCR_LEN}"
        )));
    }
    let nbytes = shape::nbytes(&shape, dtype.itemsize()).map_err(NpyError::in_payload)?;
    if data.len() as u64 != nbytes {
        return Err(NpyError::invalid(format!(
            "data is {} bytes but shape {} of {} needs {nbytes}",
            data.len(),
            shape::repr(&shape),
            dtype.name()
        )));
    }
    Ok(ParsedNpy {
        meta: Meta::new(dtype, shape, fortran_order),
        data,
    })
}

/// Reads the header dict as it is parsed: each key's value is interpreted
/// where it stands, so no tree of literals is built.
fn parse_header_dict(text: &str) -> Result<(Dtype, Shape, bool)> {
    let mut p = Parser::new(text);
    if p.peek_kind()? != Next::Dict {
        return Err(NpyError::invalid("header is not a dict literal"));
    }
    let (mut descr, mut order, mut shape) = (None, None, None);
    p.dict(|p, key| {
        let Literal::Str { value: name, .. } = key else {
            return Err(NpyError::invalid("header keys must be strings"));
        };
        let twice = || NpyError::invalid(format!("header key {:?} appears twice", &*name));
        match name.as_ref() {
            "descr" if descr.is_some() => Err(twice()),
            "descr" => {
                descr = Some(Dtype::parse(p)?);
                Ok(())
            }
            "fortran_order" if order.is_some() => Err(twice()),
            "fortran_order" => match p.peek_kind()? {
                Next::Bool => {
                    order = Some(p.boolean()?);
                    Ok(())
                }
                other => Err(NpyError::invalid(format!(
                    "fortran_order must be True or False, got {}",
                    other.kind()
                ))),
            },
            "shape" if shape.is_some() => Err(twice()),
            "shape" => {
                shape = Some(array_shape(p)?);
                Ok(())
            }
            other => Err(NpyError::invalid(format!("unexpected header key {:?}", excerpt(other)))),
        }
    })?;
    p.end()?;
    let missing = |key: &str| NpyError::invalid(format!("header lacks the {key:?} key"));
    Ok((
        descr.ok_or_else(|| missing("descr"))?,
        shape.ok_or_else(|| missing("shape"))?,
        order.ok_or_else(|| missing("fortran_order"))?,
    ))
}

/// The `shape` tuple: at most [`shape::MAX_NDIM`] dimensions, refused as soon
/// as one more is read.
fn array_shape(p: &mut Parser) -> Result<Shape> {
    let next = p.peek_kind()?;
    if next != Next::Tuple {
        return Err(NpyError::invalid(format!("shape must be a tuple, got {}", next.kind())));
    }
    let mut dims = Shape::new();
    let count = p.items(|p, i| {
        if i < shape::MAX_NDIM {
            dims.push(pyliteral::dim(p)?);
        } else {
            p.value()?;
        }
        Ok(())
    })?;
    if count > shape::MAX_NDIM {
        return Err(NpyError::invalid(format!(
            "shape has {count} dimensions, the limit is {}",
            shape::MAX_NDIM
        )));
    }
    Ok(dims)
}

/// Writes the header `np.save` would write for this metadata: magic, version,
/// length, dict text with the growth-axis spare spaces, padding and `\n`.
/// Its length is always a multiple of [`ARRAY_ALIGN`].
pub fn write_header(meta: &Meta) -> Vec<u8> {
    let (dtype, shape, fortran_order) = (meta.dtype(), meta.shape(), meta.saved_fortran());
    let mut text = String::with_capacity(128 + dtype.descr_len());
    text.push_str("{'descr': ");
    dtype.write_descr(&mut text);
    text.push_str(", 'fortran_order': ");
    text.push_str(if fortran_order { "True" } else { "False" });
    text.push_str(", 'shape': ");
    pyliteral::write_tuple(&mut text, shape);
    text.push_str(", }");
    let growth = if fortran_order { shape.last() } else { shape.first() };
    if let Some(d) = growth {
        let digits = d.to_string().len();
        text.extend(std::iter::repeat_n(' ', GROWTH_AXIS_MAX_DIGITS.saturating_sub(digits)));
    }

    // Latin-1 when every character fits (versions 1.0 and 2.0), else UTF-8 (3.0).
    let (encoded, utf8) = if text.is_ascii() {
        (text.into_bytes(), false)
    } else {
        let latin1: Option<Vec<u8>> = text.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect();
        match latin1 {
            Some(bytes) => (bytes, false),
            None => (text.into_bytes(), true),
        }
    };
    let wrap = |len_field: usize| {
        let hlen = encoded.len() + 1; // + the final '\n'
        let padlen = ARRAY_ALIGN - (MAGIC.len() + 2 + len_field + hlen) % ARRAY_ALIGN;
        (hlen + padlen, padlen)
    };
    let (major, len_field, (total, padlen)) = match (utf8, wrap(2)) {
        (false, (total, padlen)) if total <= usize::from(u16::MAX) => (1u8, 2, (total, padlen)),
        (false, _) => (2, 4, wrap(4)),
        (true, _) => (3, 4, wrap(4)),
    };
    let mut out = Vec::with_capacity(MAGIC.len() + 2 + len_field + total);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[major, 0]);
    let len_le = (total as u32).to_le_bytes();
    out.extend_from_slice(&len_le[..len_field]);
    out.extend_from_slice(&encoded);
    out.extend(std::iter::repeat_n(b' ', padlen));
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::test_meta;

    fn npy(header: &str, data: &[u8]) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&[1, 0]);
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }

    fn err(bytes: &[u8]) -> String {
        parse(bytes).expect_err("must be refused").to_string()
    }

    #[test]
    fn writes_numpys_header_for_a_matrix() {
        // `np.save(io, np.zeros((3, 4)))` writes a 118-byte header text (NumPy 2.4).
        let dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }";
        let text = format!("{dict}{}\n", " ".repeat(118 - 1 - dict.len()));
        let d = Dtype::from_typestr("<f8").unwrap();
        assert_eq!(write_header(&test_meta(&d, &[3, 4], false)), npy(&text, b""));
    }

    #[test]
    fn header_is_aligned_for_every_growth_digit_count() {
        let d = Dtype::from_typestr("|u1").unwrap();
        for dim0 in [0, 1, 10, 12345, u32::MAX as u64, i64::MAX as u64] {
            for shape in [vec![], vec![dim0], vec![dim0, 7], vec![7, dim0]] {
                for fortran in [false, true] {
                    let h = write_header(&test_meta(&d, &shape, fortran));
                    assert_eq!(h.len() % ARRAY_ALIGN, 0, "{shape:?}");
                    // The header parses; only the (absent) data can be wrong.
                    match parse(&h) {
                        Ok(parsed) => assert_eq!(parsed.meta.shape(), &shape[..]),
                        Err(e) => assert!(
                            e.to_string().contains("data is 0 bytes") || e.to_string().contains("too big"),
                            "{shape:?}: {e}"
                        ),
                    }
                }
            }
        }
    }

    #[test]
    fn chooses_versions_like_numpy() {
        let wide = (0..3000)
            .map(|i| format!("('field_{i:05}', '<f8')"))
            .collect::<Vec<_>>()
            .join(", ");
        let d = Dtype::from_descr_text(&format!("[{wide}]")).unwrap();
        let h = write_header(&test_meta(&d, &[0], false));
        assert_eq!(&h[6..8], &[2, 0], "over 64 KiB needs 2.0");
        assert_eq!(h.len() % ARRAY_ALIGN, 0);
        assert_eq!(parse(&h).unwrap().meta.dtype(), &d);

        let latin = Dtype::from_descr_text("[('é', '<i4')]").unwrap();
        let h = write_header(&test_meta(&latin, &[0], false));
        assert_eq!(&h[6..8], &[1, 0], "Latin-1 names stay in 1.0");
        assert!(h.contains(&0xE9));

        let greek = Dtype::from_descr_text("[('λ', '<i4')]").unwrap();
        let h = write_header(&test_meta(&greek, &[0], false));
        assert_eq!(&h[6..8], &[3, 0], "non-Latin-1 names need 3.0");
        assert_eq!(parse(&h).unwrap().meta.dtype(), &greek);
    }

    #[test]
    fn parses_data_and_order() {
        let h = "{'descr': '<i2', 'fortran_order': True, 'shape': (2, 2), }";
        let bytes = npy(h, &[1, 0, 2, 0, 3, 0, 4, 0]);
        let p = parse(&bytes).unwrap();
        assert!(p.meta.saved_fortran());
        assert_eq!(p.data, &[1, 0, 2, 0, 3, 0, 4, 0]);
        let scalar = "{'shape': (), 'fortran_order': False, 'descr': '|u1'}";
        assert_eq!(parse(&npy(scalar, &[9])).unwrap().meta.shape().len(), 0);
    }

    #[test]
    fn refuses_bad_containers() {
        assert!(err(b"").contains("empty payload"));
        assert!(err(b"hello world").contains("bad magic"));
        assert!(err(b"PK\x03\x04\x14\x00").contains("this is an np.savez archive"));
        assert!(err(b"\x80\x04\x95").contains("looks like a pickle"));
        assert!(err(b"\x93NUMPY").contains("truncated"));
        assert!(err(b"\x93NUMPY\x04\x00\x10\x00").contains("unsupported format version 4.0"));
        assert!(err(b"\x93NUMPY\x01\x00\x10").contains("truncated"));
        assert!(err(b"\x93NUMPY\x01\x00\x10\x00{'descr'").contains("runs past the end"));
        assert!(err(b"\x93NUMPY\x02\x00\xff\xff\xff\x7f{").contains("the limit is"));
        let bad_utf8 = b"\x93NUMPY\x03\x00\x02\x00\x00\x00\xff\xfe";
        assert!(err(bad_utf8).contains("UTF-8"));
    }

    #[test]
    fn refuses_bad_headers() {
        let cases = [
            ("[1, 2]", "not a dict"),
            ("{'descr': '<f8', 'fortran_order': False}", "lacks the \"shape\""),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'x': 1}",
                "unexpected header key",
            ),
            (
                "{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (1,)}",
                "appears twice",
            ),
            (
                "{'descr': '|O', 'fortran_order': False, 'shape': (1,)}",
                "object arrays",
            ),
            ("{'descr': '<f8', 'fortran_order': 0, 'shape': (1,)}", "True or False"),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': [1]}",
                "must be a tuple",
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (-1,)}",
                "negative dimension",
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': ('1',)}",
                "must be integers",
            ),
            (
                "{'descr': 1, 'fortran_order': False, 'shape': (1,)}",
                "string or a list",
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (1,)} trailing",
                "after the literal",
            ),
        ];
        for (header, expected) in cases {
            let e = err(&npy(header, &[0; 8]));
            assert!(e.contains(expected), "{header}: {e}");
            assert!(e.starts_with("invalid .npy: "), "{e}");
        }
    }

    #[test]
    fn every_header_written_for_a_stored_dtype_is_accepted_again() {
        // A name long enough that the descr is exactly MAX_DESCR_LEN bytes.
        let name = "n".repeat(MAX_DESCR_LEN - "[('', '|b1')]".len());
        let d = Dtype::from_descr_text(&format!("[('{name}', '|b1')]")).unwrap();
        assert_eq!(d.descr_len(), MAX_DESCR_LEN);
        for fortran in [false, true] {
            let widest = write_header(&test_meta(&d, &[i64::MAX as u64; shape::MAX_NDIM], fortran));
            assert!(widest.len() - 12 <= MAX_HEADER_LEN, "{}", widest.len());
        }
        let h = write_header(&test_meta(&d, &[0], false));
        assert_eq!(parse(&h).unwrap().meta.dtype(), &d);

        let longer = Dtype::from_descr_text(&format!("[('{name}x', '|b1')]")).unwrap();
        let e = err(&write_header(&test_meta(&longer, &[0], false)));
        assert!(
            e.contains(&format!("descr is {} bytes as np.save writes it", MAX_DESCR_LEN + 1)),
            "{e}"
        );
    }

    #[test]
    fn a_compact_header_whose_canonical_form_is_too_long_is_refused() {
        // 1,043,008 bytes as sent; np.save would write 1,166,964.
        let fields: Vec<String> = (0..62_000).map(|i| format!("('f{i}','|i1')")).collect();
        let header = format!("{{'descr':[{}],'fortran_order':False,'shape':(0,)}}", fields.join(","));
        let mut payload = MAGIC.to_vec();
        payload.extend_from_slice(&[2, 0]);
        payload.extend_from_slice(&(header.len() as u32).to_le_bytes());
        payload.extend_from_slice(header.as_bytes());
        assert!(header.len() < MAX_HEADER_LEN);
        assert!(err(&payload).contains("as np.save writes it, the limit is"));
    }

    #[test]
    fn the_widest_dtype_with_numpy_field_names_is_storable() {
        // Fields f0, f1, … of the smallest type, as many as a header can hold.
        let mut fields: Vec<String> = Vec::new();
        let mut descr_len = "[]".len();
        loop {
            let field = format!("('f{}', '|b1')", fields.len());
            let more = if fields.is_empty() { 0 } else { ", ".len() };
            if descr_len + more + field.len() > MAX_DESCR_LEN {
                break;
            }
            descr_len += more + field.len();
            fields.push(field);
        }
        let n = fields.len();
        assert!(n < crate::dtype::MAX_FIELDS, "{n} fields");
        let d = Dtype::from_descr_text(&format!("[{}]", fields.join(", "))).unwrap();
        assert_eq!(d.descr_len(), descr_len);
        assert_eq!(
            parse(&write_header(&test_meta(&d, &[0], false))).unwrap().meta.dtype(),
            &d
        );
    }

    #[test]
    fn fortran_order_is_stored_as_np_save_writes_it() {
        for (shape, data, kept) in [
            ("(3,)", 6, false),
            ("(3, 1)", 6, false),
            ("()", 2, false),
            ("(2, 3)", 12, true),
        ] {
            let h = format!("{{'descr': '<i2', 'fortran_order': True, 'shape': {shape}, }}");
            assert_eq!(
                parse(&npy(&h, &vec![0; data])).unwrap().meta.saved_fortran(),
                kept,
                "{shape}"
            );
        }
    }

    #[test]
    fn errors_never_repeat_long_input() {
        let long = "9".repeat(500_000);
        for h in [
            format!("{{'descr': '<f8', 'fortran_order': False, 'shape': ({long},)}}"),
            format!("{{'{long}': 1}}"),
        ] {
            let mut payload = MAGIC.to_vec();
            payload.extend_from_slice(&[2, 0]);
            payload.extend_from_slice(&(h.len() as u32).to_le_bytes());
            payload.extend_from_slice(h.as_bytes());
            let e = err(&payload);
            assert!(e.len() < 200, "{e}");
        }
    }

    #[test]
    fn refuses_bad_shapes_before_allocating() {
        let dims65 = vec!["1"; 65].join(", ");
        let h = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': ({dims65},)}}");
        assert!(err(&npy(&h, &[0; 8])).contains("65 dimensions"));
        let huge = "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,)}";
        assert!(err(&npy(huge, &[0; 8])).contains("needs 8000000000000"));
        let overflow = "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296)}";
        assert!(err(&npy(overflow, &[])).contains("too big"));
        let short = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,)}";
        assert!(err(&npy(short, &[0; 15])).contains("data is 15 bytes"));
        assert!(err(&npy(short, &[0; 17])).contains("data is 17 bytes"));
    }
}
