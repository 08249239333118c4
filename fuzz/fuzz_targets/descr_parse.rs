//! Arbitrary `descr` literals. Parsing must never panic, and an accepted
//! dtype's canonical descr text must parse back to the same dtype.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redis_numpy::dtype::Dtype;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(dtype) = Dtype::from_descr_text(text) else {
        return;
    };
    let descr = dtype.descr();
    let again = Dtype::from_descr_text(&descr).unwrap_or_else(|e| panic!("{descr} does not parse back: {e}"));
    assert_eq!(again, dtype, "descr round trip changed the dtype");
    assert_eq!(again.descr(), descr);
    assert_eq!(dtype.descr_len(), descr.len());
    assert!(
        descr.len() <= 4 * data.len() + 16,
        "the canonical descr grows at most linearly"
    );
    let _ = (
        dtype.name(),
        dtype.itemsize(),
        dtype.typestr(),
        dtype.kind_char(),
        dtype.heap_bytes(),
    );
});
