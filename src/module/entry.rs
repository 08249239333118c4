//! The command entries: every command is registered through them.
//!
//! redis-module's generated entry costs a small `NP.SET` a good part of the
//! module's own server time (docs/benchmarks.md): it copies `argv`
//! into a fresh `Vec<RedisString>`, retaining every argument (and frees both
//! afterwards), and replies a static status through a freshly allocated
//! `CString`. Here the handler borrows Redis's `argv` for the call, as C
//! modules do, and `OK` is replied from a static C string. Everything else
//! (errors, `RedisValue` replies) goes through the crate's own `Context::reply`.
//! The handlers run under the panic guard as every other handler does.

use std::ffi::{c_int, CStr};
use std::mem::{ManuallyDrop, MaybeUninit};

use redis_module::{raw, Context, RedisResult, RedisString, RedisValue, Status};

/// A handler run through [`dispatch`]: it borrows the arguments.
pub type Handler = fn(&Context, &[RedisString]) -> RedisResult;

/// Calls with at most this many arguments view them from the stack.
const INLINE_ARGS: usize = 8;

/// Runs `handler` for one call of a command registered with [`create`].
#[inline(always)]
pub fn dispatch(
    ctx: *mut raw::RedisModuleCtx,
    argv: *mut *mut raw::RedisModuleString,
    argc: c_int,
    handler: Handler,
) -> c_int {
    let context = Context::new(ctx);
    let count = usize::try_from(argc).unwrap_or(0);
    let argv: &[*mut raw::RedisModuleString] = if argv.is_null() || count == 0 {
        &[]
    } else {
        // SAFETY: Redis calls a command with `argc` valid string pointers in
        // `argv`, which stay alive and unchanged until the command returns;
        // the views made of them below do not outlive this call.
        unsafe { std::slice::from_raw_parts(argv, count) }
    };
    // The arguments were not retained, so they must not be freed: each view
    // is a `RedisString` that is never dropped (`MaybeUninit` and
    // `ManuallyDrop` do not run `Drop`, which would free the string), on
    // unwinding too.
    let result = if argv.len() <= INLINE_ARGS {
        let mut views = [const { MaybeUninit::<RedisString>::uninit() }; INLINE_ARGS];
        for (view, &arg) in views.iter_mut().zip(argv) {
            view.write(RedisString::from_redis_module_string(ctx, arg));
        }
        // SAFETY: the first `argv.len()` elements were initialised just
        // above, and `MaybeUninit<T>` has the layout of `T`.
        let args = unsafe { std::slice::from_raw_parts(views.as_ptr().cast::<RedisString>(), argv.len()) };
        handler(&context, args)
    } else {
        let views: Vec<ManuallyDrop<RedisString>> = argv
            .iter()
            .map(|&arg| ManuallyDrop::new(RedisString::from_redis_module_string(ctx, arg)))
            .collect();
        // SAFETY: `ManuallyDrop<T>` is `repr(transparent)` over `T`.
        let args = unsafe { std::slice::from_raw_parts(views.as_ptr().cast::<RedisString>(), views.len()) };
        handler(&context, args)
    };
    reply(&context, result) as c_int
}

/// `OK` without an allocation; the rest as redis-module replies it.
fn reply(ctx: &Context, result: RedisResult) -> Status {
    match result {
        Ok(RedisValue::SimpleStringStatic("OK")) => raw::reply_with_simple_string(ctx.ctx, c"OK".as_ptr()),
        other => ctx.reply(other),
    }
}

/// The `extern "C"` command entry that runs `$handler` through [`dispatch`]:
/// an [`Entry`], usable in a constant (the command table in `mod.rs`).
macro_rules! lean_entry {
    ($handler:path) => {{
        extern "C" fn entry(
            ctx: *mut redis_module::raw::RedisModuleCtx,
            argv: *mut *mut redis_module::raw::RedisModuleString,
            argc: std::ffi::c_int,
        ) -> std::ffi::c_int {
            $crate::module::entry::dispatch(ctx, argv, argc, $handler)
        }
        entry as $crate::module::entry::Entry
    }};
}
pub(crate) use lean_entry;

/// The entry function type Redis calls.
pub type Entry = unsafe extern "C" fn(*mut raw::RedisModuleCtx, *mut *mut raw::RedisModuleString, c_int) -> c_int;

/// Registers a command whose entry was made by [`lean_entry`]; the arguments
/// are those of `RedisModule_CreateCommand`.
pub fn create(ctx: &Context, name: &CStr, entry: Entry, flags: &CStr, keys: (c_int, c_int, c_int)) -> Status {
    // SAFETY: the API pointer is written once by RedisModule_Init, before OnLoad.
    let Some(create_command) = (unsafe { raw::RedisModule_CreateCommand }) else {
        return Status::Err;
    };
    // SAFETY: `ctx` is the module's load context; both strings outlive the
    // call (Redis copies them); `entry` is a plain `extern "C"` function.
    let status = unsafe {
        create_command(
            ctx.ctx,
            name.as_ptr(),
            Some(entry),
            flags.as_ptr(),
            keys.0,
            keys.1,
            keys.2,
        )
    };
    if status == raw::REDISMODULE_OK as c_int {
        Status::Ok
    } else {
        ctx.log_warning(&format!("failed to create command {}", name.to_string_lossy()));
        Status::Err
    }
}
