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

use redis_module::{raw, Context};
use smallvec::SmallVec;

use crate::layout::header_cache;
use crate::module::read_key::ReadKey;
use crate::slice::{HeaderInPlace, StoredRun};

/// Replies with `np.save(arr[spec])` for the run `run` of the array at `key`,
/// which holds an array.
pub(super) fn reply(ctx: &Context, key: &mut ReadKey, run: &StoredRun) {
    let array = key.array_mut().ok().flatten().expect("the key holds an array");
    // From the recently written headers: reads of the same run (the last
    // frames of a rolling buffer, a whole array) write it once.
    let header: SmallVec<[u8; 256]> = header_cache::with_written(&run.meta, SmallVec::from_slice);
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
