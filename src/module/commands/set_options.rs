//! `NP.SET`'s options, parsed with `SET`'s rules: `NX | XX`, `GET`,
//! `EX s | PX ms | EXAT ts | PXAT ts | KEEPTTL`, case-insensitive, in any
//! order; a repeated option is allowed and the last value wins, conflicting
//! ones are a syntax error; SET's error texts.

use redis_module::{RedisError, RedisString};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Condition {
    /// `NX`: only if the key does not exist.
    Missing,
    /// `XX`: only if the key exists.
    Exists,
}

/// What happens to the key's time to live.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Ttl {
    /// No option: like SET, the new value has no TTL.
    Clear,
    /// `KEEPTTL`.
    Keep,
    /// `EX`/`PX`/`EXAT`/`PXAT`, resolved to a Unix time in milliseconds.
    ExpireAt(i64),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ExpireKind {
    Ex,
    Px,
    ExAt,
    PxAt,
}

#[derive(Debug)]
pub struct SetOptions {
    pub condition: Option<Condition>,
    pub get: bool,
    pub ttl: Ttl,
}

impl SetOptions {
    /// True when the command has no options, so it can be replicated verbatim.
    pub fn is_plain(&self) -> bool {
        self.condition.is_none() && !self.get && self.ttl == Ttl::Clear
    }

    /// Whether NX/XX allow the write, given whether the key exists.
    pub fn condition_met(&self, exists: bool) -> bool {
        match self.condition {
            None => true,
            Some(Condition::Missing) => !exists,
            Some(Condition::Exists) => exists,
        }
    }
}

const SYNTAX: RedisError = RedisError::Str("ERR syntax error");
const NOT_INTEGER: RedisError = RedisError::Str("ERR value is not an integer or out of range");
const INVALID_EXPIRE: RedisError = RedisError::Str("ERR invalid expire time in 'np.set' command");

/// Parses the options after `NP.SET key npy`. `now_ms` is the server's clock;
/// `allow_past` accepts an `EXAT`/`PXAT` already past (commands from a master
/// or the AOF, which must apply what the master did); clients get an error
/// for it, and nothing changes.
pub fn parse(args: &[RedisString], now_ms: i64, allow_past: bool) -> Result<SetOptions, RedisError> {
    let mut condition = None;
    let mut get = false;
    let mut keep_ttl = false;
    let mut expire: Option<(ExpireKind, &RedisString)> = None;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let option = arg.to_string_lossy().to_ascii_uppercase();
        let kind = match option.as_str() {
            "NX" | "XX" => {
                let wanted = if option == "NX" {
                    Condition::Missing
                } else {
                    Condition::Exists
                };
                if condition.is_some_and(|c| c != wanted) {
                    return Err(SYNTAX);
                }
                condition = Some(wanted);
                continue;
            }
            "GET" => {
                get = true;
                continue;
            }
            "KEEPTTL" => {
                if expire.is_some() {
                    return Err(SYNTAX);
                }
                keep_ttl = true;
                continue;
            }
            "EX" => ExpireKind::Ex,
            "PX" => ExpireKind::Px,
            "EXAT" => ExpireKind::ExAt,
            "PXAT" => ExpireKind::PxAt,
            _ => return Err(SYNTAX),
        };
        if keep_ttl || expire.is_some_and(|(k, _)| k != kind) {
            return Err(SYNTAX);
        }
        expire = Some((kind, rest.next().ok_or(SYNTAX)?));
    }
    let ttl = match expire {
        Some((kind, value)) => Ttl::ExpireAt(expire_at(kind, value, now_ms, allow_past)?),
        None if keep_ttl => Ttl::Keep,
        None => Ttl::Clear,
    };
    Ok(SetOptions { condition, get, ttl })
}

/// SET's rules: the number must be a positive integer; seconds must not
/// overflow as milliseconds; relative times are added to now.
fn expire_at(kind: ExpireKind, value: &RedisString, now_ms: i64, allow_past: bool) -> Result<i64, RedisError> {
    let text = value.to_string_lossy();
    // Redis's integers have no `+` sign; Rust's parser would accept one.
    let n: i64 = (!text.starts_with('+'))
        .then(|| text.parse().ok())
        .flatten()
        .ok_or(NOT_INTEGER)?;
    if n <= 0 {
        return Err(INVALID_EXPIRE);
    }
    let ms = match kind {
        ExpireKind::Ex | ExpireKind::ExAt => n.checked_mul(1000).ok_or(INVALID_EXPIRE)?,
        ExpireKind::Px | ExpireKind::PxAt => n,
    };
    let at = match kind {
        ExpireKind::Ex | ExpireKind::Px => ms.checked_add(now_ms).ok_or(INVALID_EXPIRE)?,
        ExpireKind::ExAt | ExpireKind::PxAt => ms,
    };
    if at <= now_ms && !allow_past {
        return Err(RedisError::Str(
            "ERR invalid expire time in 'np.set' command: EXAT/PXAT is in the past (nothing was written)",
        ));
    }
    Ok(at)
}
