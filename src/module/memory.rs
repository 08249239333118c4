//! Refusals of work that would take Redis past `maxmemory`. Redis checks a
//! `deny-oom` command once, before it runs, and never counts what the
//! command then allocates: these checks cover reads that build a copy and
//! writes whose allocation is known up front.

use redis_module::{Context, ContextFlags, RedisError};

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
    let info = ctx.server_info("memory");
    let field = |name: &str| info.field(name).and_then(|v| v.to_string_lossy().parse::<u64>().ok());
    let (Some(max), Some(used)) = (field("maxmemory"), field("used_memory")) else {
        return Ok(());
    };
    if max > 0 && used.saturating_add(extra) > max {
        return Err(RedisError::String(format!(
            "OOM {extra} more bytes would take used memory ({used}) past 'maxmemory' ({max})"
        )));
    }
    Ok(())
}
