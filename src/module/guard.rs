//! Panics must never cross into Redis: redis-module's wrappers do not catch
//! them, and an unwinding panic through `extern "C"` aborts redis-server.
//!
//! A command has two phases. Everything that can fail, and all the work likely
//! to panic (parsing, validation, building the new value), runs first, under
//! [`command`]: a panic there changed nothing, so it becomes an error reply and
//! the server lives on. The change itself (storing, overwriting in place, TTLs)
//! together with its replication and keyspace event runs under [`commit`]: a
//! panic there would leave a value changed that neither replicas nor the AOF
//! saw, so the server stops on purpose instead of silently diverging from them.
//! Every panic's message and location reach the Redis log first ([`install_panic_hook`]).

use std::ffi::CString;
use std::panic::{self, catch_unwind, AssertUnwindSafe};

use redis_module::{raw, RedisError, RedisResult};

/// The reply to a command whose first phase panicked; nothing was changed.
pub const NOT_APPLIED: &str =
    "ERR internal error in redis-numpy (the command was not applied; the server log has the details)";

/// Writes `message` to the Redis log at warning level. Safe from any thread
/// (the `free` callback may run on a lazy-free thread) and for any text:
/// the message is passed as a `%s` argument, never as the format.
pub fn log_warning(message: &str) {
    let text = CString::new(format!("redis-numpy: {message}").replace('\0', "\\0")).expect("NUL bytes were replaced");
    // SAFETY: RedisModule_Log was filled in by RedisModule_Init before any
    // command or callback runs; a NULL context is allowed (the line then has
    // no module prefix), and "%s" consumes exactly the one C string passed.
    if let Some(log) = unsafe { raw::RedisModule_Log } {
        // SAFETY: see above; all three strings outlive the call.
        unsafe { log(std::ptr::null_mut(), c"warning".as_ptr(), c"%s".as_ptr(), text.as_ptr()) };
    }
}

/// Logs every panic's message and location through Redis's log, before
/// [`command`], [`callback`] or [`commit`] handle it. Set once, at load.
pub fn install_panic_hook() {
    panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(no message)");
        let location = info.location().map_or_else(
            || "an unknown location".to_owned(),
            |l| format!("{}:{}:{}", l.file(), l.line(), l.column()),
        );
        log_warning(&format!("panic at {location}: {message}"));
    }));
}

/// Runs a command body; a panic becomes an `ERR` reply and the server lives on.
/// The body must make its changes under [`commit`], so a panic caught here
/// happened before any change and the reply's "not applied" is true.
pub fn command(body: impl FnOnce() -> RedisResult) -> RedisResult {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(Err(RedisError::Str(NOT_APPLIED)))
}

/// Runs the changing part of a write, from its first change through its
/// replication and keyspace event. Nothing in it may fail; a panic in it
/// aborts redis-server deliberately (after the hook logged it), because the
/// value may be half-changed and was not replicated: with a restart from the
/// AOF or a failover to a replica, every copy agrees again on the state before
/// the command.
pub fn commit<T>(body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|_| {
        log_warning(
            "a panic interrupted a write after it had changed data, before replication; \
             stopping the server so that replicas and the AOF cannot silently diverge from it",
        );
        std::process::abort()
    })
}

/// Runs a type callback; on panic returns `fallback`.
pub fn callback<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// A named point in a write path: the last step before its first change
/// (`"before-change"`) or the first step after it (`"after-change"`). Builds
/// with the `debug-panic` feature can be told to panic there (`NP._PANIC AT
/// name`), which is how the tests prove both halves of this file; release
/// builds compile it to nothing.
#[inline(always)]
pub fn checkpoint(name: &'static str) {
    #[cfg(feature = "debug-panic")]
    super::debug_panic::reached(name);
    #[cfg(not(feature = "debug-panic"))]
    let _ = name;
}
