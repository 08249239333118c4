//! Arbitrary bytes as an NP.SET payload. Parsing must never panic, and a
//! payload that is accepted must come back unchanged when stored again: the
//! synthesized header is canonical, so `from_npy(a.npy_bytes())` is a fixed point.
//! The header cache (primed by earlier inputs, libFuzzer runs them all in one
//! process) must answer exactly as a fresh parse, for the input and for the
//! input cut one byte short (same header, wrong data length), and say
//! whether the header is np.save's as a fresh comparison does.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redis_numpy::layout::header_cache;
use redis_numpy::meta::Order;
use redis_numpy::{npy, NpArray};

fn cache_agrees(bytes: &[u8]) {
    let fresh = npy::parse(bytes);
    for _ in 0..2 {
        match (&fresh, header_cache::parse(bytes)) {
            (Ok(f), Ok(c)) => {
                assert_eq!(
                    (&f.meta, f.data.as_ptr(), f.data.len()),
                    (&c.meta, c.data.as_ptr(), c.data.len()),
                    "a cached decode differs from a fresh one"
                );
            }
            (Err(f), Err(c)) => assert_eq!(f, &c, "the cache changed the error"),
            (f, c) => panic!("fresh {f:?}, cached {c:?}"),
        }
        // With whether the header is np.save's: as a fresh comparison says.
        match (&fresh, header_cache::parse_canonical(bytes)) {
            (Ok(f), Ok((c, header))) => {
                assert_eq!((&f.meta, f.data.len()), (&c.meta, c.data.len()));
                let prefix = &bytes[..bytes.len() - f.data.len()];
                let canonical = prefix == &npy::write_header(&f.meta)[..];
                assert_eq!(header.map(|h| h.bytes()), canonical.then_some(prefix.len()));
            }
            (Err(f), Err(c)) => assert_eq!(f, &c, "the cache changed the error"),
            (f, c) => panic!("fresh {f:?}, cached {c:?}"),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    cache_agrees(data);
    if let Some((_, short)) = data.split_last() {
        cache_agrees(short);
    }
    let Ok(array) = NpArray::from_npy(data) else {
        return;
    };
    let canonical = array.npy_bytes();
    let header_len = canonical.len() - array.data().len();
    assert_eq!(
        header_len % npy::ARRAY_ALIGN,
        0,
        "synthesized header is not 64-byte aligned"
    );
    // 64-byte aligned, or 16 (enough for every dtype's typed view) when packed.
    let align = if array.is_packed() {
        redis_numpy::layout::packed::DATA_ALIGN
    } else {
        npy::ARRAY_ALIGN
    };
    assert_eq!(array.data().as_ptr() as usize % align, 0, "data is not aligned");
    // What the module writes, the module accepts again (and so does np.load).
    assert!(
        header_len <= npy::MAX_HEADER_LEN + 12,
        "synthesized header is over the limit"
    );
    assert_eq!(
        array.order(),
        Order::of(array.shape(), array.saved_fortran()),
        "the order is not canonical"
    );
    // The data is the tail of the accepted payload, untouched.
    assert!(data.ends_with(array.data()));

    let again = NpArray::from_npy(&canonical).expect("a synthesized .npy must parse");
    assert!(again.npy_bytes() == canonical, "synthesized .npy is not a fixed point");
    assert_eq!(again.dtype(), array.dtype());
    assert_eq!(again.shape(), array.shape());
    assert_eq!(again.order(), array.order());

    // The metadata accessors the commands use must not panic either.
    let _ = (
        array.dtype().name(),
        array.dtype().descr(),
        array.size(),
        array.nbytes(),
    );
    let meta = array.meta();
    let slab = meta.growth_axis().map(|axis| meta.slab_bytes(axis));
    let _ = (slab, array.memory_usage(|_, n| n), array.pieces(1 << 12));
});
