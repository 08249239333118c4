//! `NP._PANIC`: compiled only with the `debug-panic` feature, for the test that
//! proves a Rust panic in a command becomes an error reply, not a crash.

use std::ffi::c_int;

use redis_module::{raw, Context, Status};

use super::guard;

extern "C" fn np_panic(ctx: *mut raw::RedisModuleCtx, _argv: *mut *mut raw::RedisModuleString, _argc: c_int) -> c_int {
    let context = Context::new(ctx);
    let reply = guard::command(|| panic!("deliberate panic from NP._PANIC"));
    context.reply(reply) as c_int
}

pub fn register(ctx: &Context) -> Status {
    // SAFETY: called from OnLoad with the module's context and static C strings.
    unsafe {
        raw::RedisModule_CreateCommand.unwrap()(ctx.ctx, c"np._panic".as_ptr(), Some(np_panic), c"".as_ptr(), 0, 0, 0)
    }
    .into()
}
