//! The Redis side of [`crate::options`]: its errors as replies, and `NP.SET`'s
//! options read from the command's arguments.

use redis_module::{RedisError, RedisString};

use crate::options::OptionError;
pub use crate::options::{SetOptions, Ttl};

impl From<OptionError> for RedisError {
    fn from(e: OptionError) -> Self {
        match e {
            OptionError::WrongArity => RedisError::WrongArity,
            OptionError::Reply(text) => RedisError::String(text.into_owned()),
        }
    }
}

/// [`crate::options::parse_set`] over the arguments after `NP.SET key npy`.
pub fn parse(args: &[RedisString], now_ms: i64, allow_past: bool) -> Result<SetOptions, RedisError> {
    Ok(crate::options::parse_set(args, now_ms, allow_past)?)
}
