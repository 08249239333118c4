//! Command options, parsed free of Redis so they are unit-tested and fuzzed:
//! `NP.SET`'s (with `SET`'s rules), `NP.GET`'s, `NP.APPEND`'s `MAXLEN` and
//! `NP.TRIM`'s length, `NP.REDUCE`'s and `NP.UPDATE`'s. Arguments are anything that
//! derefs to bytes (Redis's strings do); the module turns an [`OptionError`]
//! into its reply.

use std::borrow::Cow;
use std::ops::Deref;

use crate::convert;
use crate::dtype::Dtype;
use crate::error::NpyError;
use crate::slice;

/// Why options were refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionError {
    /// An option's value is missing: Redis's own arity error.
    WrongArity,
    /// The error reply, `ERR` included.
    Reply(Cow<'static, str>),
}

impl From<NpyError> for OptionError {
    fn from(e: NpyError) -> Self {
        OptionError::Reply(format!("ERR {e}").into())
    }
}

pub type Result<T> = std::result::Result<T, OptionError>;

const SYNTAX: OptionError = OptionError::Reply(Cow::Borrowed("ERR syntax error"));
const NOT_INTEGER: OptionError = OptionError::Reply(Cow::Borrowed("ERR value is not an integer or out of range"));
const INVALID_EXPIRE: OptionError = OptionError::Reply(Cow::Borrowed("ERR invalid expire time in 'np.set' command"));
const EXPIRE_IN_PAST: OptionError = OptionError::Reply(Cow::Borrowed(
    "ERR invalid expire time in 'np.set' command: EXAT/PXAT is in the past (nothing was written)",
));
const NEGATIVE_LENGTH: OptionError = OptionError::Reply(Cow::Borrowed("ERR the length must be >= 0"));

fn is(arg: &[u8], name: &str) -> bool {
    arg.eq_ignore_ascii_case(name.as_bytes())
}

/// An option name for an error text: upper case, whatever its bytes.
fn shout(arg: &[u8]) -> String {
    String::from_utf8_lossy(arg).to_ascii_uppercase()
}

/// An integer as Redis reads one (`string2ll`): optional `-`, no `+`, no
/// spaces, no leading zeros, at most 20 bytes, within `i64`.
pub fn redis_integer(arg: &[u8]) -> Option<i64> {
    let digits = arg.strip_prefix(b"-").unwrap_or(arg);
    let canonical = arg == b"0" || matches!(digits.first(), Some(b'1'..=b'9'));
    if !canonical || arg.len() > 20 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(arg).ok()?.parse().ok()
}

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

/// `NP.SET`'s options: `NX | XX`, `GET`, `EX s | PX ms | EXAT ts | PXAT ts |
/// KEEPTTL`, case-insensitive, in any order; a repeated option is allowed and
/// the last value wins, conflicting ones are a syntax error; SET's error texts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
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

/// Parses the options after `NP.SET key npy`. `now_ms` is the server's clock;
/// `allow_past` accepts an `EXAT`/`PXAT` already past (commands from a master
/// or the AOF, which must apply what the master did); clients get an error
/// for it, and nothing changes.
pub fn parse_set<A: Deref<Target = [u8]>>(args: &[A], now_ms: i64, allow_past: bool) -> Result<SetOptions> {
    let mut condition = None;
    let mut get = false;
    let mut keep_ttl = false;
    let mut expire: Option<(ExpireKind, &[u8])> = None;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let arg: &[u8] = arg;
        let kind = if is(arg, "NX") || is(arg, "XX") {
            let wanted = if is(arg, "NX") {
                Condition::Missing
            } else {
                Condition::Exists
            };
            if condition.is_some_and(|c| c != wanted) {
                return Err(SYNTAX);
            }
            condition = Some(wanted);
            continue;
        } else if is(arg, "GET") {
            get = true;
            continue;
        } else if is(arg, "KEEPTTL") {
            if expire.is_some() {
                return Err(SYNTAX);
            }
            keep_ttl = true;
            continue;
        } else if is(arg, "EX") {
            ExpireKind::Ex
        } else if is(arg, "PX") {
            ExpireKind::Px
        } else if is(arg, "EXAT") {
            ExpireKind::ExAt
        } else if is(arg, "PXAT") {
            ExpireKind::PxAt
        } else {
            return Err(SYNTAX);
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
fn expire_at(kind: ExpireKind, value: &[u8], now_ms: i64, allow_past: bool) -> Result<i64> {
    let n = redis_integer(value).ok_or(NOT_INTEGER)?;
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
        return Err(EXPIRE_IN_PAST);
    }
    Ok(at)
}

/// What `NP.GET` was asked for beyond the plain `.npy` bytes.
#[derive(Default, Debug)]
pub struct GetOptions {
    pub slice: Option<Vec<slice::Item>>,
    pub cast: Option<Dtype>,
    pub values: bool,
    /// `MAXBYTES n`: refuse a reply whose array data would exceed `n` bytes.
    pub max_bytes: Option<u64>,
}

impl GetOptions {
    /// Whether the reply may take more memory than the array holds: a cast
    /// (up to 16x the stored data) or VALUES (tens of bytes of reply per
    /// element). Like a `deny-oom` write, such a read is refused while the
    /// server is over `maxmemory`.
    pub fn allocates_beyond_the_array(&self) -> bool {
        self.cast.is_some() || self.values
    }
}

/// `[SLICE spec] [AS dtype] [VALUES] [MAXBYTES n]`, each at most once, in any
/// order. Option names are matched without allocating: the client's
/// whole-array get sends `MAXBYTES` with every read, and a small read notices.
pub fn parse_get<A: Deref<Target = [u8]>>(args: &[A]) -> Result<GetOptions> {
    let mut options = GetOptions::default();
    let mut rest = args.iter();
    while let Some(token) = rest.next() {
        let mut value = || rest.next().ok_or(OptionError::WrongArity);
        if is(token, "SLICE") && options.slice.is_none() {
            options.slice = Some(slice::parse(&String::from_utf8_lossy(value()?))?);
        } else if is(token, "AS") && options.cast.is_none() {
            options.cast = Some(convert::parse_target(&String::from_utf8_lossy(value()?))?);
        } else if is(token, "VALUES") && !options.values {
            options.values = true;
        } else if is(token, "MAXBYTES") && options.max_bytes.is_none() {
            let n = redis_integer(value()?).and_then(|n| u64::try_from(n).ok());
            options.max_bytes = Some(n.ok_or(OptionError::Reply(Cow::Borrowed(
                "ERR MAXBYTES must be a non-negative integer",
            )))?);
        } else {
            let token = shout(token);
            return Err(OptionError::Reply(match token.as_str() {
                "SLICE" | "AS" | "VALUES" | "MAXBYTES" => format!("ERR {token} given twice").into(),
                _ => format!("ERR unknown NP.GET option '{}'", crate::error::excerpt(&token)).into(),
            }));
        }
    }
    Ok(options)
}

/// A rolling-buffer length (`MAXLEN n`, `NP.TRIM key n`): a non-negative
/// integer. 0 is allowed, as XADD allows it: the array keeps its other axes
/// and is empty along the growth axis.
pub fn parse_length(arg: &[u8]) -> Result<u64> {
    let n = redis_integer(arg).ok_or(NOT_INTEGER)?;
    u64::try_from(n).map_err(|_| NEGATIVE_LENGTH)
}

/// The options after `NP.APPEND key npy`: nothing, or `MAXLEN n`.
pub fn parse_maxlen<A: Deref<Target = [u8]>>(args: &[A]) -> Result<Option<u64>> {
    match args {
        [] => Ok(None),
        [token, n] if is(token, "MAXLEN") => parse_length(n).map(Some),
        _ => Err(SYNTAX),
    }
}

/// What `NP.REDUCE` was asked for after the op.
#[derive(Default, Debug)]
pub struct ReduceOptions {
    /// `AXIS a [b …]`: one integer (NumPy's `axis=a`) or several (`axis=(a, b, …)`).
    pub axis: Option<Vec<i64>>,
    pub ddof: Option<i64>,
    pub slice: Option<Vec<slice::Item>>,
    pub dtype: Option<Dtype>,
    pub values: bool,
}

/// `[AXIS n [n …]] [DDOF n] [SLICE spec] [AS dtype] [VALUES]`, each at most
/// once, in any order. AXIS takes the integers that follow it (no option
/// name is an integer).
pub fn parse_reduce<A: Deref<Target = [u8]>>(args: &[A]) -> Result<ReduceOptions> {
    let mut options = ReduceOptions::default();
    let mut rest = args.iter();
    while let Some(token) = rest.next() {
        let token = shout(token);
        let mut value = || {
            rest.next()
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .ok_or(OptionError::WrongArity)
        };
        let integer = |name: &str, text: String| {
            text.trim().parse::<i64>().map_err(|_| {
                OptionError::Reply(
                    format!("ERR {name} must be an integer, got {:?}", crate::error::excerpt(&text)).into(),
                )
            })
        };
        match token.as_str() {
            "AXIS" if options.axis.is_none() => {
                let mut axes = vec![integer("AXIS", value()?)?];
                while let Some(more) = rest
                    .clone()
                    .next()
                    .and_then(|t| std::str::from_utf8(t).ok()?.trim().parse().ok())
                {
                    axes.push(more);
                    rest.next();
                }
                options.axis = Some(axes);
            }
            "DDOF" if options.ddof.is_none() => options.ddof = Some(integer("DDOF", value()?)?),
            "SLICE" if options.slice.is_none() => options.slice = Some(slice::parse(&value()?)?),
            "AS" if options.dtype.is_none() => options.dtype = Some(convert::parse_target(&value()?)?),
            "VALUES" if !options.values => options.values = true,
            "AXIS" | "DDOF" | "SLICE" | "AS" | "VALUES" => {
                return Err(OptionError::Reply(format!("ERR {token} given twice").into()))
            }
            _ => {
                let token = crate::error::excerpt(&token);
                return Err(OptionError::Reply(
                    format!("ERR unknown NP.REDUCE option '{token}'").into(),
                ));
            }
        }
    }
    Ok(options)
}

/// What `NP.KNN` was asked for after the query.
#[derive(Debug)]
pub struct KnnOptions {
    pub k: i64,
    pub metric: crate::search::Metric,
    pub slice: Option<Vec<slice::Item>>,
    pub values: bool,
}

/// `NP.KNN`'s arguments after the key: the query and the options. The
/// query comes first, or last when the first is an option's name (as
/// `redis-cli -x` sends it; a `.npy` payload never is one).
pub fn knn_query<A: Deref<Target = [u8]>>(args: &[A]) -> Option<(&A, &[A])> {
    let first = args.first()?;
    let is_option = ["K", "METRIC", "SLICE", "VALUES"].iter().any(|name| is(first, name));
    if is_option {
        let (last, options) = args.split_last()?;
        Some((last, options))
    } else {
        Some((first, &args[1..]))
    }
}

/// `K k [METRIC l2|ip|cosine|hamming] [SLICE spec] [VALUES]`, each at most once, in
/// any order; `K` is required.
pub fn parse_knn<A: Deref<Target = [u8]>>(args: &[A]) -> Result<KnnOptions> {
    let (mut k, mut metric, mut spec, mut values) = (None, None, None, false);
    let mut rest = args.iter();
    while let Some(token) = rest.next() {
        let token = shout(token);
        let mut value = || rest.next().map(|v| -> &[u8] { v }).ok_or(OptionError::WrongArity);
        match token.as_str() {
            "K" if k.is_none() => k = Some(redis_integer(value()?).ok_or(NOT_INTEGER)?),
            "METRIC" if metric.is_none() => metric = Some(crate::search::Metric::parse(value()?)?),
            "SLICE" if spec.is_none() => spec = Some(slice::parse(&String::from_utf8_lossy(value()?))?),
            "VALUES" if !values => values = true,
            "K" | "METRIC" | "SLICE" | "VALUES" => {
                return Err(OptionError::Reply(format!("ERR {token} given twice").into()))
            }
            _ => {
                let token = crate::error::excerpt(&token);
                return Err(OptionError::Reply(
                    format!("ERR unknown NP.KNN option '{token}'").into(),
                ));
            }
        }
    }
    Ok(KnnOptions {
        k: k.ok_or(OptionError::Reply(Cow::Borrowed(
            "ERR NP.KNN needs K k (how many rows to return)",
        )))?,
        metric: metric.unwrap_or(crate::search::Metric::L2),
        slice: spec,
        values,
    })
}

/// `NP.UPDATE`'s arguments after the op: `npy [SLICE spec]`, or `SLICE spec
/// npy` (as `redis-cli -x` sends it). The payload's index in `args`, and the
/// parsed spec (empty without `SLICE`).
pub fn parse_update<A: Deref<Target = [u8]>>(args: &[A]) -> Result<(usize, Vec<slice::Item>)> {
    let is_slice = |token: &A| is(token, "SLICE");
    let (payload, spec) = match args {
        [_] => (0, None),
        [_, token, spec] if is_slice(token) => (0, Some(spec)),
        [token, spec, _] if is_slice(token) => (2, Some(spec)),
        [_, token, _] => {
            let token = crate::error::excerpt(&shout(token));
            return Err(OptionError::Reply(
                format!("ERR unknown NP.UPDATE option '{token}'").into(),
            ));
        }
        _ => return Err(OptionError::WrongArity),
    };
    let items = match spec {
        Some(spec) => slice::parse(&String::from_utf8_lossy(spec))?,
        None => Vec::new(),
    };
    Ok((payload, items))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(args: &[&str]) -> Result<SetOptions> {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        parse_set(&args, 1_000_000, false)
    }

    #[test]
    fn integers_follow_redis() {
        for (text, n) in [("0", Some(0)), ("-1", Some(-1)), ("42", Some(42))] {
            assert_eq!(redis_integer(text.as_bytes()), n);
        }
        let min = i64::MIN.to_string();
        assert_eq!(redis_integer(min.as_bytes()), Some(i64::MIN));
        for bad in [
            "",
            "-",
            "+1",
            " 1",
            "1 ",
            "01",
            "-0",
            "00",
            "1e3",
            "9223372036854775808",
            "١",
        ] {
            assert_eq!(redis_integer(bad.as_bytes()), None, "{bad:?}");
        }
    }

    #[test]
    fn set_options_like_set() {
        assert!(set(&[]).unwrap().is_plain());
        let o = set(&["nx", "GET", "ex", "10"]).unwrap();
        assert_eq!(o.condition, Some(Condition::Missing));
        assert!(o.get);
        assert_eq!(o.ttl, Ttl::ExpireAt(1_010_000));
        assert_eq!(set(&["PX", "5", "PX", "7"]).unwrap().ttl, Ttl::ExpireAt(1_000_007));
        assert_eq!(set(&["KEEPTTL", "XX", "XX"]).unwrap().ttl, Ttl::Keep);
        assert_eq!(set(&["PXAT", "2000000"]).unwrap().ttl, Ttl::ExpireAt(2_000_000));
        for bad in [
            &["NX", "XX"][..],
            &["EX", "1", "PX", "1"],
            &["KEEPTTL", "EX", "1"],
            &["EX"],
            &["X"],
        ] {
            assert_eq!(set(bad), Err(SYNTAX), "{bad:?}");
        }
        assert_eq!(set(&["EX", "0"]), Err(INVALID_EXPIRE));
        assert_eq!(set(&["EX", "9223372036854775807"]), Err(INVALID_EXPIRE));
        assert_eq!(set(&["PX", "9223372036854775807"]), Err(INVALID_EXPIRE));
        assert_eq!(set(&["EX", "+5"]), Err(NOT_INTEGER));
        assert_eq!(set(&["EXAT", "1"]), Err(EXPIRE_IN_PAST));
        let args: [&[u8]; 2] = [b"EXAT", b"1"];
        assert_eq!(parse_set(&args, 1_000_000, true).unwrap().ttl, Ttl::ExpireAt(1000));
    }

    #[test]
    fn lengths_and_maxlen() {
        assert_eq!(parse_length(b"0"), Ok(0));
        assert_eq!(parse_length(b"-1"), Err(NEGATIVE_LENGTH));
        assert_eq!(parse_length(b"x"), Err(NOT_INTEGER));
        let none: [&[u8]; 0] = [];
        assert_eq!(parse_maxlen(&none), Ok(None));
        assert_eq!(parse_maxlen(&[&b"maxlen"[..], b"3"]), Ok(Some(3)));
        assert_eq!(parse_maxlen(&[&b"MAXLEN"[..]]), Err(SYNTAX));
        assert_eq!(parse_maxlen(&[&b"LEN"[..], b"3"]), Err(SYNTAX));
    }

    #[test]
    fn reduce_and_update_arguments() {
        let args: [&[u8]; 6] = [b"axis", b" -1 ", b"SLICE", b"0, [1, 2]", b"as", b"float32"];
        let o = parse_reduce(&args).unwrap();
        assert_eq!(o.axis, Some(vec![-1]));
        let several: [&[u8]; 6] = [b"AXIS", b"1", b"-2", b" 0", b"ddof", b"1"];
        let p = parse_reduce(&several).unwrap();
        assert_eq!((p.axis, p.ddof), (Some(vec![1, -2, 0]), Some(1)));
        let not_an_axis: [&[u8]; 3] = [b"AXIS", b"1", b"2x"];
        assert!(matches!(parse_reduce(&not_an_axis), Err(OptionError::Reply(_))));
        assert_eq!(o.slice.as_ref().map(Vec::len), Some(2));
        assert_eq!(o.dtype.unwrap().typestr().as_deref(), Some("<f4"));
        assert_eq!(parse_reduce(&[&b"AXIS"[..]]).unwrap_err(), OptionError::WrongArity);
        let twice: [&[u8]; 2] = [b"VALUES", b"values"];
        assert_eq!(
            parse_reduce(&twice).unwrap_err(),
            OptionError::Reply("ERR VALUES given twice".into())
        );
        let long = vec![b'x'; 1 << 20];
        let OptionError::Reply(text) = parse_reduce(&[&long[..]]).unwrap_err() else {
            panic!("an unknown option is a reply");
        };
        assert!(text.len() < 200, "an unknown option is not echoed whole");
        assert_eq!(parse_update(&[&b"npy"[..]]).unwrap(), (0, vec![]));
        let sent: [&[u8]; 3] = [b"K", b"5", b"npy"];
        assert_eq!(knn_query(&sent).map(|(q, o)| (*q, o.len())), Some((&b"npy"[..], 2)));
        let sent: [&[u8]; 3] = [b"npy", b"K", b"5"];
        assert_eq!(knn_query(&sent).map(|(q, o)| (*q, o.len())), Some((&b"npy"[..], 2)));
        let knn: [&[u8]; 6] = [b"k", b"5", b"SLICE", b"-10:", b"metric", b"IP"];
        let o = parse_knn(&knn).unwrap();
        assert_eq!((o.k, o.metric, o.values), (5, crate::search::Metric::Ip, false));
        assert_eq!(o.slice.map(|s| s.len()), Some(1));
        assert!(matches!(parse_knn(&[&b"VALUES"[..]]), Err(OptionError::Reply(_))));
        assert_eq!(parse_knn(&[&b"K"[..]]).unwrap_err(), OptionError::WrongArity);
        assert_eq!(parse_knn(&[&b"K"[..], b"x"]).unwrap_err(), NOT_INTEGER);
        assert!(matches!(
            parse_knn(&[&b"K"[..], b"1", b"METRIC", b"dot"]),
            Err(OptionError::Reply(_))
        ));
        assert_eq!(parse_update(&[&b"npy"[..], b"slice", b"1"]).unwrap().0, 0);
        assert_eq!(parse_update(&[&b"SLICE"[..], b"1", b"npy"]).unwrap().0, 2);
        assert_eq!(parse_update(&[&b"npy"[..], b"x"]).unwrap_err(), OptionError::WrongArity);
        assert!(matches!(
            parse_update(&[&b"npy"[..], b"SLIC", b"1"]),
            Err(OptionError::Reply(_))
        ));
    }
}
