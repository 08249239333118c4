//! `NP.CONVERT key`: turns a string holding `.npy` bytes (what `SET key
//! <np.save bytes>` stored) into an array in place, keeping the key's TTL.
//! The string is checked exactly as NP.SET checks its payload; a refused
//! string is left as it was. Nothing is ever unpickled: object arrays and
//! pickles are refused like any other invalid payload.

use redis_module::{Context, NotifyEvent, RedisError, RedisResult, RedisString, RedisValue};

use super::{expire, notify, parse_payload};
use crate::array::NpArray;
use crate::module::write_key::WriteKey;
use crate::module::{guard, stats};

/// Replies 1 when the string became an array, 0 when the key does not exist;
/// WRONGTYPE for keys that hold anything but a string (an array included).
/// Holds the string and a copy of its data at once: at most twice the value.
/// The result depends only on the key's value, so the command replicates verbatim.
pub fn np_convert(ctx: &Context, args: &[RedisString]) -> RedisResult {
    stats::command();
    guard::command(|| {
        let [_, key_name] = args else {
            return Err(RedisError::WrongArity);
        };
        let mut key = WriteKey::open(ctx, key_name);
        let Some(bytes) = key.string_bytes()? else {
            return Ok(RedisValue::Integer(0));
        };
        let parsed = parse_payload(ctx, bytes)?;
        let array = NpArray::from_parsed(&parsed)?;
        let ttl = expire::get(ctx, key_name);
        guard::checkpoint("before-change");
        guard::commit(|| {
            // Setting a module value over a string deletes the key first,
            // and its TTL with it: put the same expire time back.
            key.store(array);
            if let Some(at) = ttl {
                expire::set(ctx, key_name, at);
            }
            guard::checkpoint("after-change");
            ctx.replicate_verbatim();
            notify(ctx, NotifyEvent::MODULE, c"np.convert", key_name);
        });
        Ok(RedisValue::Integer(1))
    })
}
