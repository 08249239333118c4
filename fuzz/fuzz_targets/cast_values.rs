//! `AS dtype` casts and `VALUES` on arbitrary element bytes: source dtype,
//! target, shape and order from the first bytes, the data from the rest.
//! Nothing may panic; every numeric cast succeeds, keeps shape and order and
//! has the target's size; a cast to the same dtype, a byte-order swap there
//! and back, and an integer widening there and back change no element; the
//! target parser accepts exactly the numeric dtypes; VALUES has one value per element.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redis_numpy::convert::{self, Value};
use redis_numpy::dtype::{Dtype, Kind};
use redis_numpy::meta::Meta;
use redis_numpy::NpArray;

const SOURCES: [&str; 21] = [
    "|b1", "|i1", "<i2", ">i2", "<i4", ">i8", "|u1", ">u2", "<u4", "<u8", ">u8", "<f2", ">f4", "<f8", ">f8", "<c8",
    ">c16", "|S3", "<U2", "<M8[s]", ">m8[ns]",
];
const TARGETS: [&str; 24] = [
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float16",
    "float32",
    "float64",
    "complex64",
    "complex128",
    ">i4",
    "<u2",
    ">f8",
    "<c8",
    "|b1",
    "S4",
    "<M8[s]",
    "object",
    "float128",
    "",
];

fn floats(kind: &Kind) -> bool {
    matches!(
        kind,
        Kind::Float16 | Kind::Float32 | Kind::Float64 | Kind::Complex64 | Kind::Complex128
    )
}

/// Equal element bytes, or for floats equal values (NaN equal to any NaN:
/// a NaN's payload bits through a wider float are not part of the contract).
fn same_elements(a: &NpArray, b: &NpArray) -> bool {
    if a.data() == b.data() {
        return true;
    }
    if !floats(&a.dtype().kind) {
        return false;
    }
    let (va, vb) = (convert::values(a).unwrap(), convert::values(b).unwrap());
    va.iter().zip(&vb).all(|pair| match pair {
        (Value::Float(x), Value::Float(y)) => x == y || (x.is_nan() && y.is_nan()),
        (Value::Complex(xr, xi), Value::Complex(yr, yi)) => {
            (xr == yr || (xr.is_nan() && yr.is_nan())) && (xi == yi || (xi.is_nan() && yi.is_nan()))
        }
        (x, y) => x == y,
    })
}

fn swapped(d: &Dtype) -> Dtype {
    let t = d.typestr().unwrap();
    let flipped = match t.as_bytes()[0] {
        b'<' => format!(">{}", &t[1..]),
        b'>' => format!("<{}", &t[1..]),
        _ => t,
    };
    Dtype::from_typestr(&flipped).unwrap()
}

fn widest(kind: &Kind) -> Option<&'static str> {
    match kind {
        Kind::Int8 | Kind::Int16 | Kind::Int32 | Kind::Int64 => Some("<i8"),
        Kind::UInt8 | Kind::UInt16 | Kind::UInt32 | Kind::UInt64 => Some("<u8"),
        Kind::Float16 | Kind::Float32 => Some("<f8"),
        Kind::Complex64 => Some("<c16"),
        _ => None,
    }
}

fuzz_target!(|data: &[u8]| {
    let [from, to, dims, rest @ ..] = data else {
        return;
    };
    let from = Dtype::from_typestr(SOURCES[*from as usize % SOURCES.len()]).unwrap();
    let ndim = (dims & 3) as usize;
    let shape: Vec<u64> = (0..ndim).map(|i| u64::from((dims >> (2 * i + 2)) & 3) + 1).collect();
    let n = shape.iter().product::<u64>() as usize * from.itemsize() as usize;
    let mut bytes: Vec<u8> = if rest.is_empty() {
        vec![0; n]
    } else {
        rest.iter().copied().cycle().take(n).collect()
    };
    if from.kind == Kind::Bool {
        bytes.iter_mut().for_each(|b| *b &= 1);
    }
    let fortran = dims & 0x80 != 0 && ndim > 1;
    let array = NpArray::from_parts(
        Meta::new(from.clone(), shape.iter().copied().collect(), fortran),
        &bytes,
    )
    .unwrap();

    if let Ok(values) = convert::values(&array) {
        assert_eq!(values.len() as u64, array.size(), "one value per element");
    }

    let target = TARGETS[*to as usize % TARGETS.len()];
    let Ok(to) = convert::parse_target(target) else {
        assert!(
            Dtype::from_typestr(target).is_ok_and(|d| !d.is_numeric()) || Dtype::from_typestr(target).is_err(),
            "{target} refused but numeric"
        );
        return;
    };
    assert!(to.is_numeric());
    let cast = convert::cast(&array, &to);
    if !from.is_numeric() {
        assert!(cast.is_err(), "only numeric arrays cast");
        return;
    }
    let cast = cast.expect("numeric casts always succeed");
    assert_eq!(cast.shape(), array.shape());
    assert_eq!(cast.order(), array.order());
    assert_eq!(cast.dtype(), &to);
    assert_eq!(cast.nbytes(), array.size() * to.itemsize());

    let same = convert::cast(&array, &from).unwrap();
    assert!(
        same_elements(&same, &array),
        "a cast to the same dtype changed an element"
    );
    let back = convert::cast(&convert::cast(&array, &swapped(&from)).unwrap(), &from).unwrap();
    assert!(
        same_elements(&back, &array),
        "a byte-order swap and back changed an element"
    );
    if let Some(wide) = widest(&from.kind) {
        let wide = Dtype::from_typestr(wide).unwrap();
        let back = convert::cast(&convert::cast(&array, &wide).unwrap(), &from).unwrap();
        assert!(same_elements(&back, &array), "a widening and back changed an element");
    }
});
