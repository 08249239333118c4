//! The `numpy-arr` Redis data type and its callbacks (`lib.rs` lists every
//! other place `unsafe` lives).
//!
//! Every callback runs its body under `guard::callback`, so a panic cannot
//! unwind into Redis. Each unsafe operation has its own block and the reason
//! it is sound (the crate denies `unsafe_op_in_unsafe_fn` and undocumented
//! unsafe blocks).

use std::ffi::{c_int, c_void, CString};
use std::ptr;

use redis_module::defrag::DefragContext;
use redis_module::native_types::RedisType;
use redis_module::{raw, Context};

use super::{guard, held, stats};
use crate::array::{BlocksMut, Boxed, NpArray};
use crate::error::NpyError;
use crate::layout::size_class;
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
/// `value` is a pointer Redis got from `Box::into_raw(Box<NpArray>)` (set_value,
/// rdb_load, copy) and has not freed; the result must not outlive the callback.
unsafe fn array<'a>(value: *const c_void) -> &'a NpArray {
    // SAFETY: per this function's contract `value` points to a live, boxed NpArray.
    unsafe { &*value.cast::<NpArray>() }
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
        let loaded = rdb::decode_with(encver, meta.as_ref(), || {
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
    // SAFETY: the API table is written once by RedisModule_Init, before any callback runs.
    let Some(log) = (unsafe { raw::RedisModule_LogIOError }) else {
        return;
    };
    // SAFETY: `rdb` is the live IO handle of this load; the format takes one C string.
    unsafe { log(rdb, c"warning".as_ptr(), c"%s".as_ptr(), text.as_ptr()) };
}

/// # Safety
/// Called by Redis with a valid IO handle and a value of this type.
unsafe extern "C" fn rdb_save(rdb: *mut raw::RedisModuleIO, value: *mut c_void) {
    guard::callback((), || {
        // SAFETY: Redis passes a value of this type, alive for the call.
        let array = unsafe { array(value) };
        raw::save_slice(rdb, &rdb::encode_meta(array));
        for string in rdb::data_strings(array) {
            raw::save_slice(rdb, &string);
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
        // SAFETY: Redis passes a value of this type, alive for the call.
        let array = unsafe { array(value) };
        // SAFETY: the API table is written once by RedisModule_Init, before any callback runs.
        let Some(emit_aof) = (unsafe { raw::RedisModule_EmitAOF }) else {
            return;
        };
        let emit = |command: &std::ffi::CStr, npy: &[u8]| {
            // SAFETY: `aof` and `key` are the live handles of this rewrite; "sb"
            // takes the key string and a pointer + length that outlive the call.
            unsafe { emit_aof(aof, command.as_ptr(), c"sb".as_ptr(), key, npy.as_ptr(), npy.len()) };
        };
        let pieces = array.pieces(AOF_PIECE_BYTES);
        if pieces.len() == 1 {
            return emit(c"NP.SET", &array.npy_bytes());
        }
        for (i, (shape, range)) in pieces.into_iter().enumerate() {
            let mut npy = npy::write_header(&array.meta().with_shape(shape, array.saved_fortran()));
            let (first, second) = array.data_range(range);
            npy.reserve_exact(first.len() + second.len());
            npy.extend_from_slice(first);
            npy.extend_from_slice(second);
            emit(if i == 0 { c"NP.SET" } else { c"NP.APPEND" }, &npy);
        }
    });
}

/// # Safety
/// `value` is a value of this type.
unsafe extern "C" fn mem_usage(value: *const c_void) -> usize {
    // SAFETY: Redis passes a value of this type, alive for the call.
    guard::callback(0, || memory_usage(unsafe { array(value) }))
}

/// What an array really occupies (MEMORY USAGE, NP.INFO's `memory`): each
/// block counts as the allocator's block, jemalloc's size-class rounding
/// included, as Redis counts its own strings.
pub fn memory_usage(array: &NpArray) -> usize {
    // SAFETY: the API table is written once by RedisModule_Init, before any command runs.
    let malloc_size = unsafe { raw::RedisModule_MallocSize };
    array.memory_usage(|block, requested| match malloc_size {
        // SAFETY: every block of a value comes from RedisModule_Alloc (the
        // global allocator returns Redis's pointer unchanged) and is live.
        Some(malloc_size) if requested > 0 => unsafe { malloc_size(block.cast_mut().cast()) },
        _ => requested,
    })
}

/// Says, as information, what a warning-level line of redis-module logs at
/// load on servers before Redis 8 ("Skip register defrag callbacks ..."):
/// those are the global defrag start/end callbacks, which this module does
/// not use; its arrays defragment through the type's own callback.
pub fn log_defrag_support(ctx: &Context) {
    // SAFETY: the API table is written once by RedisModule_Init, before this runs.
    if unsafe { raw::RedisModule_RegisterDefragCallbacks }.is_none() {
        ctx.log_notice(
            "defrag: arrays defragment through the numpy-arr type's callback; \
             the 'Skip register defrag callbacks' line above is expected (this module uses no global defrag callbacks)",
        );
    }
}

/// Asks the allocator whether it rounds requests up to jemalloc's size
/// classes ([`size_class::classes_hold`]): a packed value keeps its header
/// in a class's slack only where that slack exists.
pub fn check_allocator_classes() {
    // SAFETY: the API table is written once by RedisModule_Init, before this runs.
    let (alloc, malloc_size, free) = unsafe {
        (
            raw::RedisModule_Alloc,
            raw::RedisModule_MallocSize,
            raw::RedisModule_Free,
        )
    };
    let (Some(alloc), Some(malloc_size), Some(free)) = (alloc, malloc_size, free) else {
        return;
    };
    let hold = [1552usize, 1152].iter().all(|&n| {
        // SAFETY: a plain allocation of `n` bytes, asked for its size and freed at once.
        let block = unsafe { alloc(n) };
        if block.is_null() {
            return false;
        }
        // SAFETY: `block` is live and came from RedisModule_Alloc.
        let size = unsafe { malloc_size(block) };
        // SAFETY: `block` came from RedisModule_Alloc and is freed once.
        unsafe { free(block) };
        size == size_class::class(n)
    });
    size_class::set_classes_hold(hold);
}

/// # Safety
/// Called by `DEBUG DIGEST(-VALUE)` with a valid digest and a value of this type.
unsafe extern "C" fn digest(md: *mut raw::RedisModuleDigest, value: *mut c_void) {
    guard::callback((), || {
        // SAFETY: Redis passes a value of this type, alive for the call.
        let npy = unsafe { array(value) }.npy_bytes();
        // SAFETY: the API table is written once by RedisModule_Init, before any callback runs.
        let api = unsafe {
            (
                raw::RedisModule_DigestAddStringBuffer,
                raw::RedisModule_DigestEndSequence,
            )
        };
        let (Some(add), Some(end)) = api else {
            return;
        };
        // SAFETY: `md` is the live digest of this call; Redis only reads `npy.len()` bytes.
        unsafe { add(md, npy.as_ptr().cast_mut().cast(), npy.len()) };
        // SAFETY: as above.
        unsafe { end(md) };
    });
}

/// # Safety
/// `value` is a value of this type, given up by Redis; it is not used again.
unsafe extern "C" fn free(value: *mut c_void) {
    guard::callback((), || {
        // SAFETY: `value` came from `Box::into_raw(Box<NpArray>)` and Redis hands it over for good.
        let array = unsafe { Box::from_raw(value.cast::<NpArray>()) };
        stats::removed(&array);
    });
}

/// # Safety
/// `value` is a value of this type.
unsafe extern "C" fn free_effort(_key: *mut raw::RedisModuleString, value: *const c_void) -> usize {
    // SAFETY: Redis passes a value of this type, alive for the call.
    guard::callback(1, || effort(unsafe { array(value) }))
}

/// An adopted array is freed on the main thread whatever its size: its bytes
/// are a Redis string, whose reference is dropped there (see `held`); freeing
/// it is one `free` of one block, as for a string value (effort 1 too).
fn effort(array: &NpArray) -> usize {
    if array.is_adopted() {
        return 1;
    }
    1 + array.nbytes() as usize / FREE_EFFORT_UNIT
}

/// Redis frees a value of at most this free effort at once, even where lazy
/// free is configured (its `LAZYFREE_THRESHOLD`).
const LAZYFREE_THRESHOLD: usize = 64;

/// Whether Redis frees `array` at once when its key is deleted or
/// overwritten, whatever the lazy-free settings: then a command replacing it
/// may drop it itself, with the same effect.
pub fn freed_inline(array: &NpArray) -> bool {
    effort(array) <= LAZYFREE_THRESHOLD
}

/// Active defragmentation, on Redis builds whose jemalloc supports it (not
/// Debian's, which refuses `activedefrag yes`): moves the boxed value and each
/// of its blocks when jemalloc asks (an adopted value's held string too, see
/// `held::defrag`), then lets the value check its data
/// alignment (a moved block of the same size class keeps it on jemalloc; the
/// value realigns itself if an allocator did otherwise). Returns 0: nothing is
/// left for a later pass.
///
/// # Safety
/// Called by Redis, on the main thread, with a defrag context and a pointer to
/// a value of this type.
unsafe extern "C" fn defrag(
    ctx: *mut raw::RedisModuleDefragCtx,
    _key: *mut raw::RedisModuleString,
    value: *mut *mut c_void,
) -> c_int {
    guard::callback(0, || {
        // SAFETY: Redis passes a live defrag context and holds the lock for the call.
        let defrag = unsafe { DefragContext::new(ctx) };
        // SAFETY: `*value` is the boxed NpArray, allocated through RedisModule_Alloc;
        // DefragAlloc returns it or its copy (freeing the original), and the
        // only reference to it, `*value`, is updated right here.
        unsafe { *value = defrag.defrag_realloc(*value) };
        // SAFETY: `*value` is now the value's (possibly new) address; nothing else refers to it.
        let array = unsafe { &mut *(*value).cast::<NpArray>() };
        match array.blocks_mut() {
            BlocksMut::Packed(block) => move_boxed_slice(&defrag, block),
            BlocksMut::Boxed(boxed) => {
                move_box(&defrag, boxed);
                match &mut **boxed {
                    Boxed::Full(full) => move_vec(&defrag, full.buf_mut().block_mut()),
                    Boxed::Adopted(adopted) => held::defrag(&defrag, ctx, adopted.owner_mut()),
                }
            }
        }
        if let Err(e) = array.after_move() {
            redis_module::logging::log_warning(format!("redis-numpy: defrag left a misaligned buffer: {e}"));
        }
        0
    })
}

fn move_boxed_slice(defrag: &DefragContext, block: &mut Box<[u8]>) {
    let (old, len) = (block.as_mut_ptr(), block.len());
    if len == 0 {
        return; // not an allocation
    }
    // SAFETY: the block came from RedisModule_Alloc and nothing else refers to it during the callback.
    let moved = unsafe { defrag.defrag_realloc(old) };
    if moved != old {
        // SAFETY: DefragAlloc copied the `len` bytes to `moved` and freed `old`,
        // so `moved` is an allocation of this Box's layout.
        let fresh = unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(moved, len)) };
        std::mem::forget(std::mem::replace(block, fresh)); // `old` is already freed
    }
}

fn move_box<T>(defrag: &DefragContext, boxed: &mut Box<T>) {
    let old: *mut T = &mut **boxed;
    // SAFETY: the box came from RedisModule_Alloc and nothing else refers to it during the callback.
    let moved = unsafe { defrag.defrag_realloc(old) };
    if moved != old {
        // SAFETY: DefragAlloc copied the `T` to `moved` and freed `old`.
        let fresh = unsafe { Box::from_raw(moved) };
        std::mem::forget(std::mem::replace(boxed, fresh)); // `old` is already freed
    }
}

fn move_vec(defrag: &DefragContext, vec: &mut Vec<u8>) {
    let (old, len, capacity) = (vec.as_mut_ptr(), vec.len(), vec.capacity());
    if capacity == 0 {
        return; // not an allocation
    }
    // SAFETY: the buffer came from RedisModule_Alloc and nothing else refers to it during the callback.
    let moved = unsafe { defrag.defrag_realloc(old) };
    if moved != old {
        // SAFETY: DefragAlloc copied the whole block (`capacity` bytes, `len`
        // of them initialised) to `moved` and freed `old`.
        let fresh = unsafe { Vec::from_raw_parts(moved, len, capacity) };
        std::mem::forget(std::mem::replace(vec, fresh)); // `old` is already freed
    }
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
        // SAFETY: Redis passes a value of this type, alive for the call.
        let copy = unsafe { array(value) }.clone();
        stats::added(&copy);
        Box::into_raw(Box::new(copy)).cast::<c_void>()
    })
}
