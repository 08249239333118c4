//! `NP.GET key SLICE spec` when the slice is one run of the stored bytes
//! (rows `a:b`, the last frames of a rolling buffer): the reply is sent from
//! the stored buffer, copied once, as `GETRANGE` does.
//!
//! A bulk string reply must be one contiguous buffer, and the `.npy` header
//! has to come first. When at least a header's length of the value's own
//! block lies before the run (the stored header, earlier rows, or the dead
//! prefix of a rolling buffer), the header is written over those bytes, the
//! reply copies header + run in one call, and the bytes are put back
//! (`slice::HeaderInPlace`, which restores them on unwinding too). Otherwise
//! header and run are gathered into one buffer first: two copies, still no
//! temporary array.
//!
//! Why changing the stored bytes for a moment is sound: the reply call copies
//! synchronously on the main thread, and nothing else reads a value's bytes
//! while a command runs. Redis's I/O threads only move client buffers, lazy
//! freeing only frees values already unlinked, defragmentation runs between
//! commands, and a fork (BGSAVE, replication) sees its own copy-on-write
//! snapshot; the write only makes the page holding the header private a
//! little earlier. This module runs no threads of its own; one that read
//! arrays off the main thread would have to lock them against this.

use std::ffi::c_void;

use redis_module::key::RedisKey;
use redis_module::{raw, Context, RedisString};

use crate::array::NpArray;
use crate::npy;
use crate::slice::{HeaderInPlace, StoredRun};

/// A key opened for reading, as `ctx.open_key` opens it, and its raw handle,
/// which [`reply`] needs to reach the value by a pointer that may write.
pub(super) struct ReadKey {
    pub key: RedisKey,
    raw: *mut raw::RedisModuleKey,
}

pub(super) fn open(ctx: &Context, name: &RedisString) -> ReadKey {
    let raw = raw::open_key(ctx.ctx, name.inner, raw::KeyMode::READ);
    // SAFETY: `raw` was just opened in this command's context, which outlives
    // the RedisKey; the RedisKey owns it from here and closes it when dropped.
    let key = unsafe { RedisKey::from_raw_parts(ctx.ctx, raw) };
    ReadKey { key, raw }
}

/// Replies with `np.save(arr[spec])` for the run `run` of the array at `key`
/// (where `array_at` found an array; the caller holds no borrow of it now).
pub(super) fn reply(ctx: &Context, key: &ReadKey, run: &StoredRun) {
    // SAFETY: `key.raw` is open (its RedisKey is alive) and holds a value of
    // our type, checked by the caller; the raw getter returns the pointer to
    // the `Box<NpArray>` the module gave Redis, with its full provenance.
    let value: *mut c_void = unsafe { raw::RedisModule_ModuleTypeGetValue.unwrap()(key.raw) };
    // SAFETY: the pointer is valid and aligned (a live Box), and nothing else
    // refers to the array while this borrow lives: the caller's shared borrow
    // of it has ended, and no other thread reads values while a command runs
    // (module doc above). The borrow ends when this function returns, with
    // the key still open.
    let array = unsafe { &mut *value.cast::<NpArray>() };
    let header = npy::write_header(array.dtype(), &run.shape, run.fortran_order);
    let (block, data_start) = array.block_and_data_start_mut();
    let in_block = data_start + run.bytes.start..data_start + run.bytes.end;
    let header_in_place = HeaderInPlace::new(block, in_block, &header);
    if let Some(npy) = &header_in_place {
        let bytes = npy.bytes();
        raw::reply_with_string_buffer(ctx.ctx, bytes.as_ptr().cast(), bytes.len());
        return;
    }
    drop(header_in_place);
    super::reply_gathered(ctx, |out| {
        crate::array::reserve_empty(out, header.len() + run.bytes.len());
        out.extend_from_slice(&header);
        out.extend_from_slice(&array.data()[run.bytes.clone()]);
    });
}
