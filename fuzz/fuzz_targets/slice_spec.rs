//! Arbitrary slice specs (NP.GET … SLICE, NP.SETSLICE) on a small array whose
//! shape and order come from the first bytes. Nothing may panic; an accepted
//! selection (basic slices, or index lists that gather and repeat) must hold
//! exactly its shape's worth of elements, each one an element of the array,
//! with the size the resolved `Selection` announced; assigning a scalar
//! through it must keep the array's size, and writing the selection back
//! through the same spec must change nothing, repeated indices included; a
//! write's distinct selection (`Selection::distinct`) is what the spec with
//! each index list cut to the kept positions resolves to, and keeps the shape
//! but for the gathered axis.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redis_numpy::dtype::Dtype;
use redis_numpy::meta::Meta;
use redis_numpy::slice::{self, Item, Selection};
use redis_numpy::{npy, NpArray};

fuzz_target!(|data: &[u8]| {
    let [head, order, rest @ ..] = data else {
        return;
    };
    let Ok(spec) = std::str::from_utf8(rest) else {
        return;
    };
    // Up to 4 dimensions of length 0..=5, from the bits of `head`.
    let ndim = (head & 3) as usize + usize::from(head & 4 != 0);
    let shape: Vec<u64> = (0..ndim).map(|i| u64::from((head >> i) % 6)).collect();
    let size: u64 = shape.iter().product();
    let data: Vec<u8> = (0..size as u32).flat_map(u32::to_le_bytes).collect();
    let dtype = Dtype::from_typestr("<u4").unwrap();
    let mut array = NpArray::from_parts(
        Meta::new(dtype.clone(), shape.iter().copied().collect(), order & 1 == 1),
        &data,
    )
    .unwrap();

    let Ok(items) = slice::parse(spec) else {
        return;
    };
    let Ok(selection) = Selection::resolve(&array, &items) else {
        assert!(slice::slice(&array, &items).is_err(), "resolve and slice agree");
        return;
    };
    let part = selection.build(&array).expect("a resolved selection builds");
    let expected: u64 = part.shape().iter().product();
    assert_eq!(part.nbytes(), expected * 4);
    assert_eq!(selection.nbytes(), Ok(part.nbytes()));
    if let Some(run) = selection.stored_run(array.dtype()) {
        assert_eq!(run.meta, *part.meta(), "a stored run has the slice's header");
        assert_eq!(
            &array.data()[run.bytes],
            part.data(),
            "a stored run is the slice's bytes"
        );
    }
    for item in part.data().chunks_exact(4) {
        assert!(u64::from(u32::from_le_bytes(item.try_into().unwrap())) < size.max(1));
    }

    // A write visits each distinct element once: the kept positions of the
    // gathered axis select the same shape but for that axis.
    if let Some(distinct) = selection.distinct() {
        assert_eq!(distinct.full_shape.as_slice(), part.shape());
        // Lists of one index broadcast over the others and stay as they are.
        let cut: Vec<Item> = items
            .iter()
            .map(|item| match item {
                Item::List(indices) if indices.len() > 1 => {
                    Item::List(distinct.kept.iter().map(|&p| indices[p]).collect())
                }
                other => other.clone(),
            })
            .collect();
        let resolved = Selection::resolve(&array, &cut).expect("fewer of the same indices");
        assert_eq!(distinct.selection, resolved);
        let once = distinct.selection.build(&array).expect("fewer of the same indices");
        let mut shape = distinct.full_shape.clone();
        shape[distinct.axis] = distinct.kept.len() as u64;
        assert_eq!(once.shape(), shape.as_slice());
        assert!(distinct.kept.windows(2).all(|w| w[0] < w[1]));
    }

    let part_npy = part.npy_bytes();
    let same = npy::parse(&part_npy).unwrap();
    selection
        .assign(&mut array, &same)
        .expect("a selection fits where it came from");
    assert_eq!(array.data(), &data[..], "writing a selection back changes nothing");

    let payload = NpArray::from_parts(Meta::new(dtype, Default::default(), false), &7u32.to_le_bytes()).unwrap();
    let payload_npy = payload.npy_bytes();
    let value = npy::parse(&payload_npy).unwrap();
    selection
        .assign(&mut array, &value)
        .expect("a scalar broadcasts to any valid slice");
    assert_eq!(array.nbytes(), size * 4);
});
