//! The `numpy-arr` Redis data type and its callbacks. The module's `unsafe`
//! code lives here, in `command_docs.rs` (command-info registration) and in
//! the test-only `debug_panic.rs`.
//!
//! Every callback runs its body under `guard::callback`, so a panic cannot
//! unwind into Redis.

use std::ffi::{c_int, c_void, CString};
use std::ptr;

use redis_module::native_types::RedisType;
use redis_module::raw;

use super::{config, guard, stats};
use crate::array::{AlignedBytes, NpArray, DATA_ALIGN};
use crate::error::NpyError;
use crate::{npy, rdb};

/// Redis identifies the type by this 9-character name in RDB files; never change it.
pub const TYPE_NAME: &str = "numpy-arr";

/// Arrays at least this large count one unit of free effort per MiB, so
/// `UNLINK`/`FLUSHALL ASYNC` free big ones in the background (Redis's lazy-free
/// threshold is 64 units).
const FREE_EFFORT_UNIT: usize = 1 << 20;

/// Largest data piece one AOF command carries (see `aof_rewrite`).
pub const AOF_PIECE_BYTES: u64 = 64 << 20;

pub static NP_TYPE: RedisType = RedisType::new(
    TYPE_NAME,
    rdb::ENCODING_VERSION,
    raw::RedisModuleTypeMethods {
        version: raw::REDISMODULE_TYPE_METHOD_VERSION as u64,
        rdb_load: Some(rdb_load),
        rdb_save: Some(rdb_save),
        aof_rewrite: Some(aof_rewrite),
        mem_usage: Some(mem_usage),
        digest: Some(digest),
        free: Some(free),
        aux_load: None,
        aux_save: None,
        aux_save2: None,
        aux_save_triggers: 0,
        free_effort: Some(free_effort),
        unlink: None,
        copy: Some(copy),
        defrag: Some(defrag),
        copy2: None,
        free_effort2: None,
        mem_usage2: None,
        unlink2: None,
    },
);

/// # Safety
/// `value` is a pointer Redis got from `Box::into_raw(Box<NpArray>)` (set_value, rdb_load, copy).
unsafe fn array<'a>(value: *const c_void) -> &'a NpArray {
    &*value.cast::<NpArray>()
}

/// # Safety
/// Called by Redis with a valid IO handle while loading a value of this type.
unsafe extern "C" fn rdb_load(rdb: *mut raw::RedisModuleIO, encver: c_int) -> *mut c_void {
    guard::callback(ptr::null_mut(), || {
        // A short read is reported by Redis itself (HANDLE_IO_ERRORS is set).
        let Ok(meta) = raw::load_string_buffer(rdb) else {
            return ptr::null_mut();
        };
        let mut short_read = false;
        let loaded = rdb::decode_with(encver, meta.as_ref(), config::max_array_bytes(), || {
            raw::load_string_buffer(rdb).map_err(|_| {
                short_read = true;
                NpyError::rdb("short read")
            })
        });
        match loaded {
            Ok(array) => {
                stats::added(&array);
                Box::into_raw(Box::new(array)).cast::<c_void>()
            }
            Err(_) if short_read => ptr::null_mut(),
            Err(e) => {
                log_io_error(rdb, &e.to_string());
                ptr::null_mut()
            }
        }
    })
}

fn log_io_error(rdb: *mut raw::RedisModuleIO, message: &str) {
    let text = CString::new(format!("redis-numpy: {message}").replace('\0', " ")).unwrap_or_default();
    // SAFETY: `rdb` is the live IO handle of this load; the format takes one C string.
    unsafe { raw::RedisModule_LogIOError.unwrap()(rdb, c"warning".as_ptr(), c"%s".as_ptr(), text.as_ptr()) };
}

/// # Safety
/// Called by Redis with a valid IO handle and a value of this type.
unsafe extern "C" fn rdb_save(rdb: *mut raw::RedisModuleIO, value: *mut c_void) {
    guard::callback((), || {
        let array = array(value);
        raw::save_slice(rdb, &rdb::encode_meta(array));
        for string in rdb::data_strings(array) {
            raw::save_slice(rdb, string);
        }
    });
}

/// Only called with `aof-use-rdb-preamble no`; otherwise Redis writes RDB.
/// Big arrays are written as NP.SET of a first piece and NP.APPEND of the
/// rest, so no single command argument exceeds [`AOF_PIECE_BYTES`] by much.
///
/// # Safety
/// Called by Redis with a valid AOF handle, key and value of this type.
unsafe extern "C" fn aof_rewrite(aof: *mut raw::RedisModuleIO, key: *mut raw::RedisModuleString, value: *mut c_void) {
    guard::callback((), || {
        let array = array(value);
        let emit = |command: &std::ffi::CStr, npy: &[u8]| {
            raw::RedisModule_EmitAOF.unwrap()(aof, command.as_ptr(), c"sb".as_ptr(), key, npy.as_ptr(), npy.len());
        };
        let pieces = array.pieces(AOF_PIECE_BYTES);
        if pieces.len() == 1 {
            return emit(c"NP.SET", array.npy_bytes());
        }
        for (i, (shape, range)) in pieces.into_iter().enumerate() {
            let mut npy = npy::write_header(array.dtype(), &shape, array.fortran_order());
            npy.extend_from_slice(&array.data()[range]);
            emit(if i == 0 { c"NP.SET" } else { c"NP.APPEND" }, &npy);
        }
    });
}

/// # Safety
/// `value` is a value of this type.
unsafe extern "C" fn mem_usage(value: *const c_void) -> usize {
    guard::callback(0, || memory_usage(array(value)))
}

/// What an array really occupies (MEMORY USAGE, NP.INFO's `memory`): the data
/// buffer counts as the allocator's block, jemalloc's size-class rounding
/// included, as Redis counts its own strings.
pub fn memory_usage(array: &NpArray) -> usize {
    array.memory_usage(|ptr, requested| {
        // SAFETY: the buffer came from RedisModule_Alloc (our global allocator, which
        // returns Redis's pointer unchanged); the API pointer is set before any command runs.
        match unsafe { raw::RedisModule_MallocSize } {
            Some(malloc_size) if requested > 0 => unsafe { malloc_size(ptr.cast_mut().cast()) },
            _ => requested,
        }
    })
}

/// # Safety
/// Called by `DEBUG DIGEST(-VALUE)` with a valid digest and a value of this type.
unsafe extern "C" fn digest(md: *mut raw::RedisModuleDigest, value: *mut c_void) {
    guard::callback((), || {
        let npy = array(value).npy_bytes();
        raw::RedisModule_DigestAddStringBuffer.unwrap()(md, npy.as_ptr().cast_mut().cast(), npy.len());
        raw::RedisModule_DigestEndSequence.unwrap()(md);
    });
}

/// # Safety
/// `value` is a value of this type, given up by Redis; it is not used again.
unsafe extern "C" fn free(value: *mut c_void) {
    guard::callback((), || {
        let array = Box::from_raw(value.cast::<NpArray>());
        stats::removed(&array);
    });
}

/// # Safety
/// `value` is a value of this type.
unsafe extern "C" fn free_effort(_key: *mut raw::RedisModuleString, value: *const c_void) -> usize {
    guard::callback(1, || 1 + array(value).nbytes() as usize / FREE_EFFORT_UNIT)
}

/// Active defragmentation, on Redis builds whose jemalloc supports it (not
/// Debian's, which refuses `activedefrag yes`): moves the value and its data
/// buffer when jemalloc asks. Buffers are allocated in multiples of 64 bytes,
/// so a moved buffer keeps its 64-byte alignment. Returns 0: nothing is left
/// for a later pass.
///
/// # Safety
/// Called by Redis with a defrag context and a pointer to a value of this type.
unsafe extern "C" fn defrag(
    ctx: *mut raw::RedisModuleDefragCtx,
    _key: *mut raw::RedisModuleString,
    value: *mut *mut c_void,
) -> c_int {
    guard::callback(0, || {
        let Some(defrag_alloc) = raw::RedisModule_DefragAlloc else {
            return 0;
        };
        // SAFETY (both moves): DefragAlloc returns null or a copy of the block,
        // having freed the original; every reference is updated before use.
        let moved = defrag_alloc(ctx, *value);
        if !moved.is_null() {
            *value = moved;
        }
        let buf = (*(*value).cast::<NpArray>()).buffer_mut();
        if buf.capacity() == 0 {
            return 0;
        }
        let (ptr, align, len, capacity) = std::mem::replace(buf, AlignedBytes::new(DATA_ALIGN)).into_raw_parts();
        let moved = defrag_alloc(ctx, ptr.cast()).cast::<u8>();
        let ptr = if moved.is_null() { ptr } else { moved };
        debug_assert_eq!(ptr as usize % DATA_ALIGN, 0);
        *buf = AlignedBytes::from_raw_parts(ptr, align, len, capacity);
        0
    })
}

/// `COPY`: an independent deep copy.
///
/// # Safety
/// `value` is a value of this type.
unsafe extern "C" fn copy(
    _from: *mut raw::RedisModuleString,
    _to: *mut raw::RedisModuleString,
    value: *const c_void,
) -> *mut c_void {
    guard::callback(ptr::null_mut(), || {
        let copy = array(value).clone();
        stats::added(&copy);
        Box::into_raw(Box::new(copy)).cast::<c_void>()
    })
}
