//! Module configuration, settable at load time (`loadmodule … max-array-bytes N`)
//! or at run time (`CONFIG SET numpy.max-array-bytes N`).

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering::Relaxed};

use redis_module::{Context, ContextFlags, RedisError};

/// Largest data buffer NP.SET accepts: Redis's default `proto-max-bulk-len`.
pub const DEFAULT_MAX_ARRAY_BYTES: i64 = 512 * 1024 * 1024;

pub static MAX_ARRAY_BYTES: AtomicI64 = AtomicI64::new(DEFAULT_MAX_ARRAY_BYTES);

/// `numpy.adopt-always`: an `NP.SET` of a large canonical `.npy` keeps the
/// argument as the value even where a copy would take a smaller block (see
/// `NpArray::adopt`): no copy at any size, at a string's memory cost.
pub static ADOPT_ALWAYS: AtomicBool = AtomicBool::new(false);

pub fn adopt_always() -> bool {
    ADOPT_ALWAYS.load(Relaxed)
}

pub fn max_array_bytes() -> u64 {
    MAX_ARRAY_BYTES.load(Relaxed) as u64
}

/// Refuses client writes that would make an array's data larger than the limit.
/// Commands from a master or replayed from the AOF are never limited: the value
/// was accepted once, and refusing it now would lose it.
pub fn check_array_bytes(ctx: &Context, nbytes: u64) -> Result<(), RedisError> {
    let limit = max_array_bytes();
    if nbytes > limit
        && !ctx
            .get_flags()
            .intersects(ContextFlags::REPLICATED | ContextFlags::LOADING)
    {
        return Err(RedisError::String(format!(
            "ERR array data of {nbytes} bytes exceeds numpy.max-array-bytes ({limit})"
        )));
    }
    Ok(())
}
