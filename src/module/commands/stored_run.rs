//! `NP.GET key SLICE spec` when the slice is one run of the stored bytes
//! (rows `a:b`, the last frames of a rolling buffer): the reply is sent from
//! the stored buffer, copied once, as `GETRANGE` does. The run is in the
//! array's data order; in a wrapped rolling buffer it may lie in either
//! segment, or across the wrap (then it is gathered).
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
use redis_module::{raw, Context, RedisError, RedisString};
use smallvec::SmallVec;

use crate::array::NpArray;
use crate::layout::header_cache;
use crate::slice::{HeaderInPlace, StoredRun};

/// A key opened for reading, as `ctx.open_key` opens it, and its raw handle,
/// which reaches the value by a pointer that may write: for [`reply`], and to
/// make a wrapped rolling buffer contiguous ([`ReadKey::contiguous_array`]).
pub(crate) struct ReadKey {
    pub key: RedisKey,
    raw: *mut raw::RedisModuleKey,
}

pub(crate) fn open(ctx: &Context, name: &RedisString) -> ReadKey {
    let raw = raw::open_key(ctx.ctx, name.inner, raw::KeyMode::READ);
    // SAFETY: `raw` was just opened in this command's context, which outlives
    // the RedisKey; the RedisKey owns it from here and closes it when dropped.
    let key = unsafe { RedisKey::from_raw_parts(ctx.ctx, raw) };
    ReadKey { key, raw }
}

impl ReadKey {
    /// The array at the key (as [`super::array_at`]), for its metadata or
    /// for readers of [`NpArray::segments`].
    pub(crate) fn array(&self) -> Result<Option<&NpArray>, RedisError> {
        super::array_at(&self.key)
    }

    /// [`ReadKey::array`] with its data in one piece, for readers of
    /// [`NpArray::data`]: a wrapped rolling buffer is made contiguous first,
    /// in place. Its value (dtype, shape, bytes) does not change, only where
    /// the bytes lie, so a read command may do this.
    pub(crate) fn contiguous_array(&mut self) -> Result<Option<&NpArray>, RedisError> {
        let Some(array) = self.array_mut()? else {
            return Ok(None);
        };
        array.make_contiguous()?;
        Ok(Some(array))
    }

    /// The array at the key, writable: the exclusive borrow of `self` rules
    /// out any other reference to it obtained through this key.
    fn array_mut(&mut self) -> Result<Option<&mut NpArray>, RedisError> {
        if self.array()?.is_none() {
            return Ok(None);
        }
        // SAFETY: `self.raw` is open (its RedisKey is alive) and holds a value
        // of our type (`array` found one); the raw getter returns the pointer
        // to the `Box<NpArray>` the module gave Redis, with its full provenance.
        let value: *mut c_void = unsafe { raw::RedisModule_ModuleTypeGetValue.unwrap()(self.raw) };
        // SAFETY: the pointer is valid and aligned (a live Box). References to
        // the array are only handed out through `self` (`array`, this
        // function), so the exclusive borrow of `self` makes this one the
        // only one alive; no other thread reads values while a command runs
        // (see the module doc). The borrow is bounded by `self`, so the key
        // stays open.
        Ok(Some(unsafe { &mut *value.cast::<NpArray>() }))
    }
}

/// Replies with `np.save(arr[spec])` for the run `run` of the array at `key`,
/// which holds an array.
pub(super) fn reply(ctx: &Context, key: &mut ReadKey, run: &StoredRun) {
    let array = key.array_mut().ok().flatten().expect("the key holds an array");
    // From the recently written headers: reads of the same run (the last
    // frames of a rolling buffer, a whole array) write it once.
    let header: SmallVec<[u8; 256]> =
        header_cache::with_written(array.dtype(), &run.shape, run.fortran_order, SmallVec::from_slice);
    // A run within one segment of a wrapped rolling buffer is sent like any
    // other; one across the wrap is gathered.
    if let Some((block, in_block)) = array.run_in_block_mut(run.bytes.clone()) {
        if let Some(npy) = &HeaderInPlace::new(block, in_block, &header) {
            let bytes = npy.bytes();
            raw::reply_with_string_buffer(ctx.ctx, bytes.as_ptr().cast(), bytes.len());
            return;
        }
    }
    let (first, second) = array.data_range(run.bytes.clone());
    super::reply_gathered(ctx, |out| {
        crate::array::reserve_empty(out, header.len() + run.bytes.len());
        out.extend_from_slice(&header);
        out.extend_from_slice(first);
        out.extend_from_slice(second);
    });
}
