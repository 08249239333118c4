//! `NP.RESERVE key length`: room for the array to grow to `length` entries
//! along its growth axis, so that the `NP.APPEND`s of a staged upload copy
//! each byte once instead of growing the buffer by half again and again.

use redis_module::{Context, RedisError, RedisResult, RedisString, RedisValue};

use super::write::parse_length;
use crate::module::write_key::WriteKey;
use crate::module::{config, guard, memory, stats, value_type};

/// Makes the room (O(N) in the array's current size when the buffer moves,
/// O(1) otherwise) and replies `OK`. The stored array does not change, only
/// its allocation, and the room is a function of the array and `length`, so
/// the command replicates verbatim and a replica reserves the same room.
pub fn np_reserve(ctx: &Context, args: &[RedisString]) -> RedisResult {
    stats::command();
    guard::command(|| {
        let [_, key_name, length] = args else {
            return Err(RedisError::WrongArity);
        };
        let length = parse_length(length)?;
        let mut key = WriteKey::open(ctx, key_name);
        let Some(array) = key.array_mut()? else {
            return Err(RedisError::Str("ERR no such key"));
        };
        let wanted = array.reserved_nbytes(length)?;
        config::check_array_bytes(ctx, wanted)?;
        // Redis counts the room at once, written or not: room past maxmemory
        // would make it evict other keys for memory nothing uses yet.
        memory::check_room(ctx, wanted.saturating_sub(value_type::memory_usage(array) as u64))?;
        guard::checkpoint("before-change");
        // `reserve` allocates before it moves anything: an error from it
        // leaves the array as it was, and its contents never change.
        guard::commit(|| -> RedisResult {
            array.reserve(length)?;
            guard::checkpoint("after-change");
            ctx.replicate_verbatim();
            Ok(RedisValue::SimpleStringStatic("OK"))
        })
    })
}
