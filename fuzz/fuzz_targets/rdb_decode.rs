//! Arbitrary RDB records: `encver` byte, u32 LE meta length, meta, data.
//! (fuzz/seed.sh writes valid records in this layout from the fixtures.)
//! Decoding must never panic; an accepted record must re-encode to a record
//! that decodes to the same array, byte for byte.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redis_numpy::rdb;

fuzz_target!(|input: &[u8]| {
    let Some((&encver, rest)) = input.split_first() else {
        return;
    };
    let encver = i32::from(encver as i8);
    let Some((len, rest)) = rest.split_first_chunk::<4>() else {
        return;
    };
    let meta_len = u32::from_le_bytes(*len) as usize;
    let (meta, data) = rest.split_at(meta_len.min(rest.len()));
    let Ok(array) = rdb::decode(encver, meta, data) else {
        return;
    };
    assert!(array.data() == data);
    let meta2 = rdb::encode_meta(&array);
    let again = rdb::decode(rdb::ENCODING_VERSION, &meta2, array.data()).expect("re-encoded record must decode");
    assert!(
        again.npy_bytes() == array.npy_bytes(),
        "RDB round trip changed the array"
    );
    assert_eq!(rdb::encode_meta(&again), meta2, "meta encoding is not canonical");
});
