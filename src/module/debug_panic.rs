//! `NP._PANIC [AT point]`: compiled only with the `debug-panic` feature, for
//! the tests that prove the panic guard. Without arguments it panics at once
//! (the reply is an error, the server lives on). With `AT point` it arms a
//! panic at that [`guard::checkpoint`] of the next write that reaches it:
//! `before-change` must leave the value untouched, `after-change` must stop
//! the server before the half-done write is replicated.

use std::ffi::c_int;
use std::sync::Mutex;

use redis_module::{raw, Context, RedisError, RedisValue, Status};

use super::guard;

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

extern "C" fn np_panic(ctx: *mut raw::RedisModuleCtx, argv: *mut *mut raw::RedisModuleString, argc: c_int) -> c_int {
    let context = Context::new(ctx);
    let args = redis_module::decode_args(ctx, argv, argc);
    let reply = guard::command(|| match args.as_slice() {
        [_] => panic!("deliberate panic from NP._PANIC"),
        [_, at, point] if at.to_string_lossy().eq_ignore_ascii_case("AT") => {
            *ARMED.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(point.to_string_lossy());
            Ok(RedisValue::SimpleStringStatic("OK"))
        }
        _ => Err(RedisError::WrongArity),
    });
    context.reply(reply) as c_int
}

pub fn register(ctx: &Context) -> Status {
    // SAFETY: called from OnLoad with the module's context and static C strings.
    unsafe {
        raw::RedisModule_CreateCommand.unwrap()(ctx.ctx, c"np._panic".as_ptr(), Some(np_panic), c"".as_ptr(), 0, 0, 0)
    }
    .into()
}
