//! Panics must never cross into Redis: redis-module's wrappers do not catch
//! them, and an unwinding panic through `extern "C"` aborts redis-server.

use std::panic::{catch_unwind, AssertUnwindSafe};

use redis_module::{RedisError, RedisResult};

/// Runs a command body; a panic becomes an `ERR` reply and the server lives on.
pub fn command(body: impl FnOnce() -> RedisResult) -> RedisResult {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|_| {
        Err(RedisError::Str(
            "ERR internal error in redis-numpy (the command was not applied)",
        ))
    })
}

/// Runs a type callback; on panic returns `fallback`.
pub fn callback<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}
