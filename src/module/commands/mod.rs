//! Command handlers, by family: `read` (NP.GET and the metadata commands),
//! `write` (NP.SET, NP.APPEND, NP.SETSLICE), `reserve` (NP.RESERVE) and
//! `multi` (NP.MGET, NP.MSET), `convert` (NP.CONVERT).
//!
//! Each follows the same order: arity, parse, open the key, check its type,
//! then change it. Bad input is refused before the key is touched, and every
//! change runs under `guard::commit`, after all the work that can fail: a
//! refused command never changes or loses the value that was there.

mod convert;
mod expire;
mod multi;
mod read;
mod reserve;
mod set_options;
mod stored_run;
mod write;

use redis_module::redisvalue::RedisValueKey;
use std::cell::RefCell;
use std::ffi::CStr;
use std::time::{Duration, Instant};

use redis_module::{raw, Context, NotifyEvent, RedisError, RedisString, RedisValue};

pub use convert::np_convert;
pub use multi::{np_mget, np_mset};
pub(crate) use read::values_reply;
pub use read::{np_dtype, np_get, np_info, np_shape, np_size};
pub use reserve::np_reserve;
pub use write::{np_append, np_set, np_setslice, np_trim};

use super::{config, stats};
use crate::array::NpArray;
use crate::layout::header_cache;
use crate::npy;

fn int(n: u64) -> RedisValue {
    RedisValue::Integer(n as i64)
}

fn shape_reply(array: &NpArray) -> RedisValue {
    RedisValue::Array(array.shape().iter().map(|&d| int(d)).collect())
}

/// A map on RESP3, a flat field/value array on RESP2.
fn map_reply<const N: usize>(fields: [(&str, RedisValue); N]) -> RedisValue {
    RedisValue::OrderedMap(
        fields
            .into_iter()
            .map(|(k, v)| (RedisValueKey::String(k.to_owned()), v))
            .collect(),
    )
}

/// A gather buffer up to this size is kept for good (no timer, no check).
const GATHER_KEEP: usize = 64 * 1024;

/// How long a bigger gather buffer is kept after the last reply that needed
/// more than [`GATHER_KEEP`]: one second, plus one per 64 MiB of buffer, as
/// a client takes longer to read bigger replies (about a second per 256 MiB
/// through redis-py here) and may do other work in between. Reads of big
/// exact-size arrays back to back then gather into pages already faulted
/// in: jemalloc hands the pages of a freed block of 8 MiB or more back to
/// the kernel, and first touch of a fresh page costs several times the copy
/// into it.
fn gather_idle(capacity: usize) -> Duration {
    Duration::from_secs(1) + Duration::from_secs_f64(capacity as f64 / (64 << 20) as f64)
}

/// A bigger buffer is kept only while Redis's used memory is under this
/// fraction of `maxmemory` (always without one), so a kept buffer never
/// pushes the server into evictions or OOM refusals.
const GATHER_KEEP_MEMORY_RATIO: f32 = 0.5;

/// The buffer where header and data are gathered for layouts that do not
/// store them in one piece (Redis 7 has no API to reply one bulk string in
/// pieces). It is allocated through Redis, so it counts in `used_memory`.
struct Gather {
    buf: Vec<u8>,
    /// When a reply last needed more than [`GATHER_KEEP`] bytes.
    last_big: Option<Instant>,
    /// Whether the idle timer that releases a bigger buffer is pending.
    timer_armed: bool,
}

thread_local! {
    static GATHER: RefCell<Gather> = const {
        RefCell::new(Gather { buf: Vec::new(), last_big: None, timer_armed: false })
    };
}

/// Adds the array's `.npy` bytes to the reply: copied once, straight from the
/// stored buffer, when the layout keeps the header in front of the data;
/// otherwise gathered first (the header from the recently written ones).
fn reply_npy(ctx: &Context, array: &NpArray) {
    if let Some(npy) = array.stored_npy() {
        raw::reply_with_string_buffer(ctx.ctx, npy.as_ptr().cast(), npy.len());
        return;
    }
    reply_gathered(ctx, |buf| array.write_npy(buf));
}

/// Adds one bulk string to the reply: what `fill` writes into the gather
/// buffer (growing it with [`crate::array::reserve_empty`]). The buffer is
/// kept for the next reply: up to [`GATHER_KEEP`] for good, beyond that
/// until it has been idle for [`gather_idle`], and only while memory allows
/// ([`GATHER_KEEP_MEMORY_RATIO`]).
fn reply_gathered(ctx: &Context, fill: impl FnOnce(&mut Vec<u8>)) {
    GATHER.with(|gather| {
        let mut gather = gather.borrow_mut();
        let Gather {
            buf,
            last_big,
            timer_armed,
        } = &mut *gather;
        buf.clear();
        fill(buf);
        raw::reply_with_string_buffer(ctx.ctx, buf.as_ptr().cast(), buf.len());
        if buf.capacity() <= GATHER_KEEP {
            return;
        }
        if !memory_allows_keeping() {
            *buf = Vec::new();
            return;
        }
        *last_big = Some(Instant::now());
        if !*timer_armed {
            *timer_armed = true;
            ctx.create_timer(gather_idle(buf.capacity()), release_idle_gather, ());
        }
    });
}

/// Whether Redis's used memory leaves room to keep a big gather buffer.
fn memory_allows_keeping() -> bool {
    // SAFETY: the API table is written once by RedisModule_Init, before any command runs.
    match unsafe { raw::RedisModule_GetUsedMemoryRatio } {
        // SAFETY: a plain query of the server's memory counters, on the main thread.
        Some(ratio) => (unsafe { ratio() }) < GATHER_KEEP_MEMORY_RATIO,
        None => false,
    }
}

/// The idle timer: frees a big gather buffer unused for [`gather_idle`],
/// or looks again when that much time has passed since its last use.
fn release_idle_gather(ctx: &Context, (): ()) {
    GATHER.with(|gather| {
        let mut gather = gather.borrow_mut();
        let keep_for = gather_idle(gather.buf.capacity());
        let idle = gather.last_big.map_or(keep_for, |at| at.elapsed());
        if gather.buf.capacity() <= GATHER_KEEP {
            gather.timer_armed = false;
        } else if idle >= keep_for || !memory_allows_keeping() {
            gather.buf = Vec::new();
            gather.timer_armed = false;
        } else {
            ctx.create_timer(keep_for - idle, release_idle_gather, ());
        }
    });
}

/// Adds a null to the reply (`$-1` on RESP2, `_` on RESP3).
fn reply_null(ctx: &Context) {
    raw::reply_with_null(ctx.ctx);
}

/// A keyspace event, as `Context::notify_keyspace_event` sends it, with the
/// event's name given as a C string: no allocation per write.
fn notify(ctx: &Context, class: NotifyEvent, event: &CStr, key: &RedisString) {
    // SAFETY: the API pointer is written once by RedisModule_Init, before any command runs.
    if let Some(notify) = unsafe { raw::RedisModule_NotifyKeyspaceEvent } {
        // SAFETY: `ctx` is the running command's context, `event` a C string
        // and `key` a live string of this call; Redis copies what it keeps.
        unsafe { notify(ctx.ctx, class.bits(), event.as_ptr(), key.inner) };
    }
}

/// Validates a client's `.npy` payload against the format; refusals are counted.
fn parse_npy(bytes: &[u8]) -> Result<npy::ParsedNpy<'_>, RedisError> {
    Ok(header_cache::parse(bytes).inspect_err(|_| stats::rejected_payload())?)
}

/// [`parse_npy`], then the size limit for an array stored whole.
fn parse_payload<'a>(ctx: &Context, bytes: &'a [u8]) -> Result<npy::ParsedNpy<'a>, RedisError> {
    let parsed = parse_npy(bytes)?;
    config::check_array_bytes(ctx, parsed.data.len() as u64)?;
    Ok(parsed)
}

/// [`parse_payload`] for a payload that may become the value itself
/// (`adoptable`: its argument is held), with whether its header is np.save's
/// (see `NpArray::adopt`); never compared otherwise. Inlined so that the
/// parsed metadata are built where the caller keeps them, not moved there.
#[inline(always)]
fn parse_adoptable<'a>(
    ctx: &Context,
    bytes: &'a [u8],
    adoptable: bool,
) -> Result<(npy::ParsedNpy<'a>, Option<header_cache::CanonicalHeader>), RedisError> {
    if !adoptable {
        return Ok((parse_payload(ctx, bytes)?, None));
    }
    let (parsed, header) = header_cache::parse_canonical(bytes).inspect_err(|_| stats::rejected_payload())?;
    config::check_array_bytes(ctx, parsed.data.len() as u64)?;
    Ok((parsed, header))
}
