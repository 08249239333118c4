//! Absolute TTLs, in Unix milliseconds, which redis-module has no wrapper for:
//! `NP.SET … KEEPTTL` must put back the exact expire time a fresh value loses,
//! and a relative `EX`/`PX` must be stored as the very time it replicates as.

use redis_module::{raw, Context, RedisString};

/// The server's clock in Unix milliseconds, as SET reads it.
pub fn now_ms() -> i64 {
    // SAFETY: RedisModule_Milliseconds is filled in at load and takes no arguments.
    unsafe { raw::RedisModule_Milliseconds.expect("RedisModule_Milliseconds")() }
}

/// A second handle on a key, for its TTL; closed on drop.
struct Handle(*mut raw::RedisModuleKey);

impl Handle {
    fn open(ctx: &Context, key_name: &RedisString, mode: raw::KeyMode) -> Handle {
        Handle(raw::open_key(ctx.ctx, key_name.inner, mode))
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        raw::close_key(self.0);
    }
}

/// The key's expire time, if it has one.
pub fn get(ctx: &Context, key_name: &RedisString) -> Option<i64> {
    let key = Handle::open(ctx, key_name, raw::KeyMode::READ);
    if key.0.is_null() {
        return None; // opened for reading, a missing key has no handle
    }
    // SAFETY: `key.0` is a handle opened above and still open; the API pointer
    // is filled in at load (Redis 6.2.2+).
    let at = unsafe { raw::RedisModule_GetAbsExpire.expect("RedisModule_GetAbsExpire")(key.0) };
    (at != raw::REDISMODULE_NO_EXPIRE as i64).then_some(at)
}

/// Sets the key's expire time. The key must hold a value (it was just written).
pub fn set(ctx: &Context, key_name: &RedisString, at_ms: i64) {
    let key = Handle::open(ctx, key_name, raw::KeyMode::READ | raw::KeyMode::WRITE);
    // SAFETY: as in `get`; the handle is open for writing.
    let status = unsafe { raw::RedisModule_SetAbsExpire.expect("RedisModule_SetAbsExpire")(key.0, at_ms) };
    assert_eq!(
        status,
        raw::REDISMODULE_OK as i32,
        "setting the TTL of a key just written"
    );
}
