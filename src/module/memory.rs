//! Refusals of work that would take Redis past `maxmemory`. Redis checks a
//! `deny-oom` command once, before it runs, and never counts what the
//! command then allocates: these checks cover reads that build a copy and
//! writes whose allocation is known up front.

use std::ffi::CStr;

use redis_module::{raw, Context, ContextFlags, RedisError};

/// Redis's own reply to a `deny-oom` command over `maxmemory`.
pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

/// Commands from the master link or the AOF are never refused: the value was
/// accepted once, and a replica that refused would diverge.
fn exempt(ctx: &Context) -> bool {
    ctx.get_flags()
        .intersects(ContextFlags::REPLICATED | ContextFlags::LOADING)
}

/// Refuses, as Redis refuses a `deny-oom` command, work that builds a copy
/// of (part of) an array while Redis is over `maxmemory`.
pub fn check_not_over(ctx: &Context) -> Result<(), RedisError> {
    if !exempt(ctx) && ctx.get_flags().contains(ContextFlags::OOM) {
        return Err(RedisError::Str(OOM));
    }
    Ok(())
}

/// Refuses an allocation of `extra` bytes that would take Redis's used
/// memory past `maxmemory` (there is none to cross when it is 0).
pub fn check_room(ctx: &Context, extra: u64) -> Result<(), RedisError> {
    check_not_over(ctx)?;
    if exempt(ctx) || extra == 0 {
        return Ok(());
    }
    let [Some(max), Some(used)] = info_memory(ctx, [c"maxmemory", c"used_memory"]) else {
        return Ok(());
    };
    if max > 0 && used.saturating_add(extra) > max {
        return Err(RedisError::String(format!(
            "OOM {extra} more bytes would take used memory ({used}) past 'maxmemory' ({max})"
        )));
    }
    Ok(())
}

/// Fields of `INFO memory`, read as numbers. (redis-module's
/// `ServerInfo::field` retains the string it returns once more than its drop
/// releases: a leak per call.)
fn info_memory<const N: usize>(ctx: &Context, names: [&CStr; N]) -> [Option<u64>; N] {
    // SAFETY: the API table is written once by RedisModule_Init, before any command runs.
    let api = unsafe {
        (
            raw::RedisModule_GetServerInfo,
            raw::RedisModule_ServerInfoGetFieldUnsigned,
            raw::RedisModule_FreeServerInfo,
        )
    };
    let (Some(get), Some(unsigned), Some(free)) = api else {
        return [None; N];
    };
    // SAFETY: `ctx.ctx` is the running command's context; the section is a C string.
    let info = unsafe { get(ctx.ctx, c"memory".as_ptr()) };
    if info.is_null() {
        return [None; N];
    }
    let values = names.map(|name| {
        let mut err = 0;
        // SAFETY: `info` is live until freed below; `name` is a C string and
        // `err` a local the call writes its status to.
        let value = unsafe { unsigned(info, name.as_ptr(), &mut err) };
        (err == raw::REDISMODULE_OK as i32).then_some(value)
    });
    // SAFETY: `info` came from GetServerInfo with this context and is freed once.
    unsafe { free(ctx.ctx, info) };
    values
}
