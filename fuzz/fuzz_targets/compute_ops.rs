//! NP.RESHAPE shapes, NP.REDUCE and NP.UPDATE on small arrays whose dtype,
//! shape, order, op and axis come from the first bytes; the rest is a shape
//! text and a slice spec separated by a newline. Nothing may panic; a reshape
//! keeps the elements in C order; a reduction has the shape without its axis;
//! an update keeps the array's dtype and size, and leaves it unchanged when refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redis_numpy::compute::axes::Axes;
use redis_numpy::compute::{self, reduce, reshape, ufunc};
use redis_numpy::dtype::Dtype;
use redis_numpy::meta::Meta;
use redis_numpy::{npy, slice, NpArray};

const DTYPES: [&str; 12] = [
    "|b1", "|i1", "<i4", ">i8", "<u2", "<f2", "<f4", ">f8", "<c8", "<m8[s]", "<M8[D]", "|S2",
];
const REDUCTIONS: [&str; 12] = [
    "sum",
    "prod",
    "mean",
    "min",
    "max",
    "argmin",
    "argmax",
    "std",
    "var",
    "count_nonzero",
    "any",
    "all",
];
const UPDATES: [&str; 9] = ["add", "sub", "mul", "div", "min", "max", "and", "or", "xor"];

fn array(typestr: &str, shape: &[u64], fortran: bool, seed: u8) -> NpArray {
    let dtype = Dtype::from_typestr(typestr).unwrap();
    let nbytes = shape.iter().product::<u64>() * dtype.itemsize();
    let mut data: Vec<u8> = (0..nbytes)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect();
    if typestr == "|b1" {
        data.iter_mut().for_each(|b| *b &= 1);
    }
    NpArray::from_parts(Meta::new(dtype, shape.iter().copied().collect(), fortran), &data).unwrap()
}

fuzz_target!(|data: &[u8]| {
    let [kind, dims, choice, rest @ ..] = data else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let (shape_text, spec) = text.split_once('\n').unwrap_or((text, ""));
    let ndim = (dims & 3) as usize + usize::from(dims & 4 != 0);
    let shape: Vec<u64> = (0..ndim).map(|i| u64::from((dims >> i) % 5)).collect();
    let typestr = DTYPES[*kind as usize % DTYPES.len()];
    let fortran = choice & 1 == 1;
    let original = array(typestr, &shape, fortran, *kind);

    if let Ok(requested) = reshape::parse_shape(shape_text) {
        let mut reshaped = original.clone();
        if reshape::reshape(&mut reshaped, &requested).is_ok() {
            assert_eq!(reshaped.size(), original.size());
            let c = |a: &NpArray| {
                let mut t = a.clone();
                reshape::reshape(&mut t, &[-1]).unwrap();
                t.data().to_vec()
            };
            assert_eq!(c(&reshaped), c(&original), "a reshape keeps the C-order elements");
        }
        let mut transposed = original.clone();
        reshape::transpose(&mut transposed).unwrap();
        reshape::transpose(&mut transposed).unwrap();
        assert_eq!(
            (transposed.shape(), transposed.data()),
            (original.shape(), original.data()),
            "transposing twice is the identity"
        );
    }

    let Ok(items) = slice::parse(spec) else {
        return;
    };
    let op = reduce::Op::parse(REDUCTIONS[(choice >> 1) as usize % REDUCTIONS.len()]).unwrap();
    let axis = i64::from(choice >> 5) - 3;
    let part = slice::Selection::resolve(&original, &items).and_then(|s| compute::slice_for_compute(&original, &s));
    if let Ok(part) = part {
        for axis in [None, Some(axis)] {
            if let Ok(result) = reduce::reduce(&part, op, axis.map_or(Axes::All, Axes::One), None, None) {
                let expected = if axis.is_some() && part.ndim() > 0 {
                    part.ndim() - 1
                } else {
                    0
                };
                assert_eq!(result.ndim(), expected);
            }
        }
    }

    let bin = ufunc::BinOp::parse(UPDATES[(choice >> 2) as usize % UPDATES.len()]).unwrap();
    let value_type = DTYPES[(kind >> 4) as usize % DTYPES.len()];
    let value_shape: Vec<u64> = shape.iter().skip(usize::from(choice & 2 != 0)).copied().collect();
    let value = array(value_type, &value_shape, false, *dims);
    let payload = value.npy_bytes().to_vec();
    let parsed = npy::parse(&payload).unwrap();
    let mut updated = original.clone();
    match ufunc::update(&mut updated, &items, bin, &parsed) {
        Ok(()) => {
            assert_eq!(updated.dtype(), original.dtype());
            assert_eq!(updated.nbytes(), original.nbytes());
        }
        Err(_) => assert_eq!(
            updated.npy_bytes(),
            original.npy_bytes(),
            "a refused update changes nothing"
        ),
    }
});
