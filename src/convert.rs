//! Reading elements: casting to another numeric dtype (`NP.GET … AS dtype`)
//! and decoding elements in row-major order (`NP.GET … VALUES`).
//!
//! Casts follow `arr.astype(dtype)` for the numeric kinds: integer casts wrap,
//! complex → real drops the imaginary part, anything → bool is `x != 0`, and
//! float → integer gives what NumPy's cast loops give on x86-64, the platform
//! this module runs on, out-of-range values and NaN included (`float_to_int`).

use half::f16;

use crate::array::NpArray;
use crate::dtype::{ByteOrder, Dtype, Kind};
use crate::error::{NpyError, Result};
use crate::meta::Meta;
use crate::shape::Shape;

/// Most elements one VALUES reply may carry; use SLICE to page through more.
pub const MAX_VALUES: u64 = 1_000_000;

/// One element as `VALUES` returns it, wide enough to hold any numeric kind exactly.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Complex(f64, f64),
    /// `S<n>` items, trailing NULs removed as NumPy does.
    Bytes(Vec<u8>),
    /// `U<n>` items, trailing NULs removed.
    Str(String),
}

/// Refuses VALUES replies of more than MAX_VALUES elements.
pub fn check_value_count(size: u64) -> Result<()> {
    if size > MAX_VALUES {
        return Err(NpyError::Convert(format!(
            "VALUES is limited to {MAX_VALUES} elements and the array has {size} (use SLICE)"
        )));
    }
    Ok(())
}

fn unsupported(what: &str, dtype: &Dtype) -> NpyError {
    NpyError::Convert(format!("{what} is not supported for dtype {}", dtype.name()))
}

/// Parses the target of `AS`: a NumPy name (`float32`, `int8`, `bool`…) or a typestr (`<f4`, `>i2`).
pub fn parse_target(text: &str) -> Result<Dtype> {
    let typestr = match text {
        "bool" => "|b1",
        "int8" => "|i1",
        "int16" => "<i2",
        "int32" => "<i4",
        "int64" => "<i8",
        "uint8" => "|u1",
        "uint16" => "<u2",
        "uint32" => "<u4",
        "uint64" => "<u8",
        "float16" => "<f2",
        "float32" => "<f4",
        "float64" => "<f8",
        "complex64" => "<c8",
        "complex128" => "<c16",
        other => other,
    };
    let dtype = Dtype::from_typestr(typestr).map_err(|_| {
        NpyError::Convert(format!(
            "unknown dtype {text:?} (use a name like float32 or a typestr like <f4)"
        ))
    })?;
    if !dtype.is_numeric() {
        return Err(NpyError::Convert(format!(
            "AS supports bool, int8..int64, uint8..uint64, float16/32/64 and complex64/128, not {}",
            dtype.name()
        )));
    }
    Ok(dtype)
}

/// `array.astype(to)`, keeping the memory order (as NumPy's default `order='K'` does).
pub fn cast(array: &NpArray, to: &Dtype) -> Result<NpArray> {
    if !array.dtype().is_numeric() {
        return Err(unsupported("AS", array.dtype()));
    }
    let from = array.dtype();
    let in_size = from.itemsize() as usize;
    let out_size = to.itemsize() as usize;
    let count = array.data().len() / in_size.max(1);
    let mut out = Vec::with_capacity(count * out_size);
    for item in array.data().chunks_exact(in_size) {
        encode(&decode(from, item), &from.kind, to, &mut out);
    }
    let meta = Meta::new(to.clone(), Shape::from_slice(array.shape()), array.saved_fortran());
    NpArray::from_parts(meta, &out)
}

/// Every element in row-major (C) order, whatever the stored order.
pub fn values(array: &NpArray) -> Result<Vec<Value>> {
    let dtype = array.dtype();
    let supported = dtype.is_numeric()
        || matches!(
            dtype.kind,
            Kind::Bytes(_) | Kind::Unicode(_) | Kind::DateTime(_) | Kind::TimeDelta(_)
        );
    if !supported {
        return Err(unsupported("VALUES", dtype));
    }
    check_value_count(array.size())?;
    let size = dtype.itemsize() as usize;
    let data = array.data();
    let item = |i: usize| &data[i * size..(i + 1) * size];
    c_order_indices(array.shape(), array.saved_fortran())
        .map(|i| match dtype.kind {
            Kind::Bytes(_) => {
                let bytes = item(i);
                let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
                Ok(Value::Bytes(bytes[..end].to_vec()))
            }
            Kind::Unicode(_) => decode_unicode(item(i), dtype.order),
            _ => Ok(decode(dtype, item(i))),
        })
        .collect()
}

/// Storage indices of the elements, visited in C order.
fn c_order_indices(shape: &[u64], fortran: bool) -> Box<dyn Iterator<Item = usize> + '_> {
    let size = shape.iter().product::<u64>() as usize;
    if !fortran || shape.len() < 2 {
        return Box::new(0..size);
    }
    // Fortran strides in elements: the first axis varies fastest.
    let strides: Vec<usize> = shape
        .iter()
        .scan(1usize, |acc, &d| {
            let s = *acc;
            *acc *= d as usize;
            Some(s)
        })
        .collect();
    let mut index = vec![0u64; shape.len()];
    Box::new((0..size).map(move |n| {
        if n > 0 {
            for axis in (0..shape.len()).rev() {
                index[axis] += 1;
                if index[axis] < shape[axis] {
                    break;
                }
                index[axis] = 0;
            }
        }
        index.iter().zip(&strides).map(|(&i, &s)| i as usize * s).sum()
    }))
}

fn decode_unicode(bytes: &[u8], order: ByteOrder) -> Result<Value> {
    let mut text = String::with_capacity(bytes.len() / 4);
    for unit in bytes.chunks_exact(4) {
        let unit: [u8; 4] = unit.try_into().expect("chunks of 4");
        let code = if order == ByteOrder::Big {
            u32::from_be_bytes(unit)
        } else {
            u32::from_le_bytes(unit)
        };
        text.push(char::from_u32(code).ok_or_else(|| NpyError::Convert(format!("invalid code point {code:#x}")))?);
    }
    Ok(Value::Str(text.trim_end_matches('\0').to_owned()))
}

fn read<const N: usize>(bytes: &[u8], order: ByteOrder) -> [u8; N] {
    let mut raw: [u8; N] = bytes[..N].try_into().expect("item has the dtype's size");
    if order == ByteOrder::Big {
        raw.reverse();
    }
    raw
}

/// Decodes one numeric, boolean or datetime item.
fn decode(dtype: &Dtype, b: &[u8]) -> Value {
    let o = dtype.order;
    match dtype.kind {
        Kind::Bool => Value::Bool(b[0] != 0),
        Kind::Int8 => Value::Int(i64::from(b[0] as i8)),
        Kind::Int16 => Value::Int(i64::from(i16::from_le_bytes(read(b, o)))),
        Kind::Int32 => Value::Int(i64::from(i32::from_le_bytes(read(b, o)))),
        Kind::Int64 | Kind::DateTime(_) | Kind::TimeDelta(_) => Value::Int(i64::from_le_bytes(read(b, o))),
        Kind::UInt8 => Value::UInt(u64::from(b[0])),
        Kind::UInt16 => Value::UInt(u64::from(u16::from_le_bytes(read(b, o)))),
        Kind::UInt32 => Value::UInt(u64::from(u32::from_le_bytes(read(b, o)))),
        Kind::UInt64 => Value::UInt(u64::from_le_bytes(read(b, o))),
        Kind::Float16 => Value::Float(f16::from_le_bytes(read(b, o)).to_f64()),
        Kind::Float32 => Value::Float(f64::from(f32::from_le_bytes(read(b, o)))),
        Kind::Float64 => Value::Float(f64::from_le_bytes(read(b, o))),
        Kind::Complex64 => Value::Complex(
            f64::from(f32::from_le_bytes(read(b, o))),
            f64::from(f32::from_le_bytes(read(&b[4..], o))),
        ),
        Kind::Complex128 => Value::Complex(f64::from_le_bytes(read(b, o)), f64::from_le_bytes(read(&b[8..], o))),
        _ => unreachable!("callers check the kind"),
    }
}

const TWO_31: f64 = 2_147_483_648.0;
const TWO_63: f64 = 9_223_372_036_854_775_808.0;

/// SSE's `cvttsd2si` with a 32-bit result: truncation toward zero, and the
/// "integer indefinite" value `i32::MIN` for NaN and out-of-range values.
fn cvtt_i32(x: f64) -> i32 {
    if x > -TWO_31 - 1.0 && x < TWO_31 {
        x as i32
    } else {
        i32::MIN
    }
}

/// `cvttsd2si` with a 64-bit result: `i64::MIN` for NaN and out-of-range values.
fn cvtt_i64(x: f64) -> i64 {
    if (-TWO_63..TWO_63).contains(&x) {
        x as i64
    } else {
        i64::MIN
    }
}

/// A float (or a complex number's real part) converted to the integer kind
/// `to`, as NumPy's cast loops do it on x86-64, where NumPy is built with gcc
/// and converts with C casts. In range, every target truncates toward zero
/// (`1e19 → uint64` is exact). Out of range and for NaN the C result is
/// undefined, and what the compiled code gives is:
///
/// - `int8`, `uint8`, `int16`, `uint16`: a 32-bit `cvttsd2si`, then the low
///   bits (`1e5 → int16` is −31072, `9e15 → int16` is 0);
/// - `int32`: a 32-bit `cvttsd2si` (`9e15`, NaN, ±inf → −2147483648);
/// - `int64`: a 64-bit `cvttsd2si` (≥ 2^63, < −2^63, NaN, ±inf → −2^63);
/// - `uint64`: gcc's unsigned sequence: values ≥ 2^63 have 2^63 subtracted
///   before a 64-bit `cvttsd2si` and added back (as a bit flip), the rest are
///   converted signed and wrap (−1.0 → 2^64−1); ≥ 2^64 and +inf give 0, NaN,
///   −inf and < −2^63 give 2^63;
/// - `uint32`: NumPy's contiguous float32/float64/complex loops are
///   vectorised with the same unsigned sequence at 32 bits (≥ 2^32 and +inf
///   → 0; < −2^31, NaN and −inf → 2147483648), but the last few elements of a
///   run go through the scalar loop, which takes the low 32 bits of a 64-bit
///   `cvttsd2si`. NumPy's own result for those values thus depends on the
///   element's position; this module gives the vectorised result, which NumPy
///   gives for all but those last elements. From float16 (never vectorised)
///   the scalar result is NumPy's only one, and the module's.
fn float_to_int(x: f64, to: &Kind, from: &Kind) -> u64 {
    match to {
        Kind::Int64 => cvtt_i64(x) as u64,
        Kind::UInt64 if x >= TWO_63 => cvtt_i64(x - TWO_63) as u64 ^ (1 << 63),
        Kind::UInt64 => cvtt_i64(x) as u64,
        Kind::UInt32 if *from == Kind::Float16 => u64::from(cvtt_i64(x) as u32),
        Kind::UInt32 if x >= TWO_31 => u64::from(cvtt_i32(x - TWO_31) as u32 ^ (1 << 31)),
        _ => u64::from(cvtt_i32(x) as u32),
    }
}

fn write<const N: usize>(out: &mut Vec<u8>, mut raw: [u8; N], order: ByteOrder) {
    if order == ByteOrder::Big {
        raw.reverse();
    }
    out.extend_from_slice(&raw);
}

/// Appends `e`, an element of kind `from`, converted to `to`.
fn encode(e: &Value, from: &Kind, to: &Dtype, out: &mut Vec<u8>) {
    let o = to.order;
    // Integer targets take the low bits (two's complement wrap) of the value
    // as a 64-bit integer.
    let wide = || match *e {
        Value::Bool(b) => u64::from(b),
        Value::Int(v) => v as u64,
        Value::UInt(v) => v,
        Value::Float(v) | Value::Complex(v, _) => float_to_int(v, &to.kind, from),
        Value::Bytes(_) | Value::Str(_) => unreachable!("not numeric"),
    };
    let real = || match *e {
        Value::Bool(b) => f64::from(u8::from(b)),
        Value::Int(v) => v as f64,
        Value::UInt(v) => v as f64,
        Value::Float(v) | Value::Complex(v, _) => v,
        Value::Bytes(_) | Value::Str(_) => unreachable!("not numeric"),
    };
    // Integers convert straight to f32/f16 (no double rounding through f64).
    let single = || match *e {
        Value::Int(v) => v as f32,
        Value::UInt(v) => v as f32,
        _ => real() as f32,
    };
    let imag = || match *e {
        Value::Complex(_, im) => im,
        _ => 0.0,
    };
    match to.kind {
        Kind::Bool => out.push(u8::from(match *e {
            Value::Complex(re, im) => re != 0.0 || im != 0.0,
            Value::Float(v) => v != 0.0,
            _ => wide() != 0,
        })),
        Kind::Int8 | Kind::UInt8 => out.push(wide() as u8),
        Kind::Int16 | Kind::UInt16 => write(out, (wide() as u16).to_le_bytes(), o),
        Kind::Int32 | Kind::UInt32 => write(out, (wide() as u32).to_le_bytes(), o),
        Kind::Int64 | Kind::UInt64 => write(out, wide().to_le_bytes(), o),
        Kind::Float16 => {
            let h = match *e {
                Value::Float(v) | Value::Complex(v, _) => f16::from_f64(v),
                _ => f16::from_f32(single()),
            };
            write(out, h.to_le_bytes(), o)
        }
        Kind::Float32 => write(out, single().to_le_bytes(), o),
        Kind::Float64 => write(out, real().to_le_bytes(), o),
        Kind::Complex64 => {
            write(out, single().to_le_bytes(), o);
            write(out, (imag() as f32).to_le_bytes(), o);
        }
        Kind::Complex128 => {
            write(out, real().to_le_bytes(), o);
            write(out, imag().to_le_bytes(), o);
        }
        _ => unreachable!("parse_target checks the kind"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::array::test_array;

    #[test]
    fn casts_like_astype() {
        let a = test_array(
            "<f8",
            &[4],
            false,
            bytemuck::cast_slice(&[1.9f64, -1.9, 300.5, f64::NAN]),
        );
        let i8s = cast(&a, &parse_target("int8").unwrap()).unwrap();
        assert_eq!(i8s.data(), &[1u8, 0xff, 44, 0], "truncate toward zero, wrap, NaN → 0");
        let b = cast(&a, &parse_target("bool").unwrap()).unwrap();
        assert_eq!(b.data(), &[1, 1, 1, 1]);
        let u = test_array("<u8", &[1], false, &u64::MAX.to_le_bytes());
        assert_eq!(
            cast(&u, &parse_target("float32").unwrap()).unwrap().as_slice::<f32>(),
            Some(&[1.8446744e19f32][..])
        );
        let be = cast(&u, &parse_target(">i2").unwrap()).unwrap();
        assert_eq!(be.data(), &[0xff, 0xff]);
        assert_eq!(be.dtype().descr(), "'>i2'");
    }

    /// Float → integer casts of values NumPy's C casts leave undefined, as
    /// NumPy 2.4 gives them on x86-64 (`np.full(8, x).astype(t)[0]`).
    #[test]
    fn float_to_int_matches_numpy_on_x86_64() {
        let kinds = [
            Kind::Int8,
            Kind::UInt8,
            Kind::Int16,
            Kind::UInt16,
            Kind::Int32,
            Kind::UInt32,
            Kind::Int64,
            Kind::UInt64,
        ];
        #[rustfmt::skip]
        let table: [(f64, [i128; 8]); 16] = [
            (1e19, [0, 0, 0, 0, -2147483648, 0, -9223372036854775808, 10000000000000000000]),
            (2f64.powi(63), [0, 0, 0, 0, -2147483648, 0, -9223372036854775808, 9223372036854775808]),
            (2f64.powi(64), [0, 0, 0, 0, -2147483648, 0, -9223372036854775808, 0]),
            (1e20, [0, 0, 0, 0, -2147483648, 0, -9223372036854775808, 0]),
            (-1.0, [-1, 255, -1, 65535, -1, 4294967295, -1, 18446744073709551615]),
            (-1e19, [0, 0, 0, 0, -2147483648, 2147483648, -9223372036854775808, 9223372036854775808]),
            (9e15, [0, 0, 0, 0, -2147483648, 0, 9000000000000000, 9000000000000000]),
            (-9e15, [0, 0, 0, 0, -2147483648, 2147483648, -9000000000000000, 18437744073709551616]),
            (1e5, [-96, 160, -31072, 34464, 100000, 100000, 100000, 100000]),
            (-4e9, [0, 0, 0, 0, -2147483648, 2147483648, -4000000000, 18446744069709551616]),
            (4e9, [0, 0, 0, 0, -2147483648, 4000000000, 4000000000, 4000000000]),
            (4294967301.0, [0, 0, 0, 0, -2147483648, 0, 4294967301, 4294967301]),
            (f64::NAN, [0, 0, 0, 0, -2147483648, 2147483648, -9223372036854775808, 9223372036854775808]),
            (f64::INFINITY, [0, 0, 0, 0, -2147483648, 0, -9223372036854775808, 0]),
            (f64::NEG_INFINITY, [0, 0, 0, 0, -2147483648, 2147483648, -9223372036854775808, 9223372036854775808]),
            (-2147483649.0, [0, 0, 0, 0, -2147483648, 2147483648, -2147483649, 18446744071562067967]),
        ];
        for (x, expected) in table {
            for (kind, want) in kinds.iter().zip(expected) {
                let bits = 8 * Dtype {
                    kind: kind.clone(),
                    order: ByteOrder::Little,
                }
                .itemsize();
                let want = (want as u128 & (u128::MAX >> (128 - bits))) as u64;
                let got = float_to_int(x, kind, &Kind::Float64) & (u64::MAX >> (64 - bits));
                assert_eq!(got, want, "{x} as {kind:?}");
            }
        }
        // float16 → uint32 always takes NumPy's scalar path.
        for (x, want) in [
            (f64::NAN, 0),
            (f64::INFINITY, 0),
            (f64::NEG_INFINITY, 0),
            (-65504.0, 4294901792),
        ] {
            assert_eq!(float_to_int(x, &Kind::UInt32, &Kind::Float16), want, "{x}");
        }
    }

    #[test]
    fn complex_and_half() {
        let c = test_array("<c8", &[1], false, bytemuck::cast_slice(&[1.5f32, -2.0]));
        let f = cast(&c, &parse_target("float64").unwrap()).unwrap();
        assert_eq!(f.as_slice::<f64>(), Some(&[1.5][..]));
        let h = cast(&f, &parse_target("float16").unwrap()).unwrap();
        assert_eq!(h.as_slice::<f16>(), Some(&[f16::from_f32(1.5)][..]));
        let back = cast(&h, &parse_target("complex128").unwrap()).unwrap();
        assert_eq!(values(&back).unwrap(), [Value::Complex(1.5, 0.0)]);
    }

    #[test]
    fn values_are_row_major() {
        // Fortran-ordered 2x3 holding [[0, 1, 2], [3, 4, 5]].
        let f = test_array("|u1", &[2, 3], true, &[0, 3, 1, 4, 2, 5]);
        let v: Vec<_> = values(&f).unwrap();
        assert_eq!(v, (0..6).map(Value::UInt).collect::<Vec<_>>());
        let f3 = test_array("|u1", &[2, 2, 2], true, &[0, 4, 2, 6, 1, 5, 3, 7]);
        assert_eq!(values(&f3).unwrap(), (0..8).map(Value::UInt).collect::<Vec<_>>());
    }

    #[test]
    fn values_of_strings_and_times() {
        let s = test_array("|S3", &[2], false, b"ab\0xyz");
        assert_eq!(
            values(&s).unwrap(),
            [Value::Bytes(b"ab".to_vec()), Value::Bytes(b"xyz".to_vec())]
        );
        let mut u = Vec::new();
        for c in ['é', '\0', 'λ', 'z'] {
            u.extend_from_slice(&(c as u32).to_be_bytes());
        }
        let u = test_array(">U2", &[2], false, &u);
        assert_eq!(values(&u).unwrap(), [Value::Str("é".into()), Value::Str("λz".into())]);
        let t = test_array("<M8[s]", &[1], false, &i64::MIN.to_le_bytes());
        assert_eq!(values(&t).unwrap(), [Value::Int(i64::MIN)], "NaT is i64::MIN");
    }

    #[test]
    fn refusals() {
        let v = test_array("|V4", &[1], false, &[0; 4]);
        assert!(values(&v)
            .unwrap_err()
            .to_string()
            .contains("not supported for dtype void32"));
        assert!(cast(&v, &parse_target("int8").unwrap()).is_err());
        assert!(parse_target("<f16").unwrap_err().to_string().contains("AS supports"));
        assert!(parse_target("<M8[s]").unwrap_err().to_string().contains("AS supports"));
        assert!(parse_target("banana")
            .unwrap_err()
            .to_string()
            .contains("unknown dtype"));
        let big = test_array("|S0", &[MAX_VALUES + 1], false, &[]);
        assert!(values(&big).unwrap_err().to_string().contains("use SLICE"));
    }
}
