//! `NP._PANIC [AT point]`: compiled only with the `debug-panic` feature, for
//! the tests that prove the panic guard. Without arguments it panics at once
//! (the reply is an error, the server lives on). With `AT point` it arms a
//! panic at that [`guard::checkpoint`] of the next write that reaches it:
//! `before-change` must leave the value untouched, `after-change` must stop
//! the server before the half-done write is replicated.

use std::sync::Mutex;

use redis_module::{Context, RedisError, RedisResult, RedisString, RedisValue, Status};

use super::{entry, guard};

static ARMED: Mutex<Option<String>> = Mutex::new(None);

/// Panics if a panic was armed at `point` (once).
pub fn reached(point: &str) {
    let mut armed = ARMED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if armed.as_deref() == Some(point) {
        *armed = None;
        drop(armed);
        panic!("deliberate panic at {point} from NP._PANIC");
    }
}

fn np_panic(_ctx: &Context, args: &[RedisString]) -> RedisResult {
    guard::command(|| match args {
        [_] => panic!("deliberate panic from NP._PANIC"),
        [_, at, point] if at.to_string_lossy().eq_ignore_ascii_case("AT") => {
            *ARMED.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(point.to_string_lossy());
            Ok(RedisValue::SimpleStringStatic("OK"))
        }
        _ => Err(RedisError::WrongArity),
    })
}

/// Registers `NP._PANIC` through the same entry as every other command.
pub fn register(ctx: &Context) -> Status {
    entry::create(ctx, c"np._panic", entry::lean_entry!(np_panic), c"", (0, 0, 0))
}
