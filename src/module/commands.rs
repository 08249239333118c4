//! Command handlers. Each follows the same order: arity, parse, open the key,
//! check its type, act, replicate and notify. Bad input is refused before the
//! key is touched, so a failed command never loses the value that was there.

use redis_module::key::RedisKey;
use redis_module::redisvalue::RedisValueKey;
use redis_module::{raw, Context, NotifyEvent, RedisError, RedisResult, RedisString, RedisValue};

use super::value_type::{self, NP_TYPE};
use super::{config, guard, stats};
use crate::array::NpArray;
use crate::convert::{self, Value};
use crate::layout::header_cache;
use crate::npy;
use crate::slice;

/// The array at `key`, `None` if the key is missing, `WRONGTYPE` for other types.
fn read(key: &RedisKey) -> Result<Option<&NpArray>, RedisError> {
    key.get_value::<NpArray>(&NP_TYPE).map_err(|_| RedisError::WrongType)
}

fn int(n: u64) -> RedisValue {
    RedisValue::Integer(n as i64)
}

fn shape_reply(array: &NpArray) -> RedisValue {
    RedisValue::Array(array.shape().iter().map(|&d| int(d)).collect())
}

/// Validates a client's `.npy` payload against the format and the size limit.
fn parse_payload<'a>(ctx: &Context, bytes: &'a [u8]) -> Result<npy::ParsedNpy<'a>, RedisError> {
    let parsed = header_cache::parse(bytes).inspect_err(|_| stats::rejected_payload())?;
    config::check_array_bytes(ctx, parsed.data.len() as u64)?;
    Ok(parsed)
}

/// Runs a read-only command on the array at `args[1]`; missing keys reply nil.
fn read_command(
    ctx: &Context,
    args: &[RedisString],
    reply: impl FnOnce(&Context, &NpArray) -> RedisResult,
) -> RedisResult {
    stats::command();
    guard::command(|| {
        let [_, key_name] = args else {
            return Err(RedisError::WrongArity);
        };
        let key = ctx.open_key(key_name);
        match read(&key)? {
            Some(array) => reply(ctx, array),
            None => Ok(RedisValue::Null),
        }
    })
}

/// `NP.SET key npy`
pub fn np_set(ctx: &Context, args: Vec<RedisString>) -> RedisResult {
    stats::command();
    guard::command(|| {
        let [_, key_name, payload] = args.as_slice() else {
            return Err(RedisError::WrongArity);
        };
        let value = parse_payload(ctx, payload.as_slice())?;
        let key = ctx.open_key_writable(key_name);
        let reused = match key.get_value::<NpArray>(&NP_TYPE).map_err(|_| RedisError::WrongType)? {
            Some(existing) => {
                // About the same size as the array it replaces: reuse its
                // buffer, so no fresh memory has to be faulted in.
                let old = stats::Counted::of(existing);
                let reused = existing.overwrite_in_place(&value);
                if reused {
                    stats::replaced(old, existing);
                }
                reused
            }
            None => false,
        };
        if reused {
            key.remove_expire()?; // like SET: the new value has no TTL
        } else {
            let array = NpArray::from_parts(value.dtype, value.shape, value.fortran_order, value.data)?;
            stats::added(&array);
            key.set_value(&NP_TYPE, array)?;
        }
        ctx.replicate_verbatim();
        ctx.notify_keyspace_event(NotifyEvent::MODULE, "np.set", key_name);
        Ok(RedisValue::SimpleStringStatic("OK"))
    })
}

/// `NP.APPEND key npy`: grows the array along its growth axis (axis 0 in C
/// order, the last axis in Fortran order); creates the key if it is missing.
/// Replies with the new length of that axis.
pub fn np_append(ctx: &Context, args: Vec<RedisString>) -> RedisResult {
    stats::command();
    guard::command(|| {
        let [_, key_name, payload] = args.as_slice() else {
            return Err(RedisError::WrongArity);
        };
        let rows = header_cache::parse(payload.as_slice()).inspect_err(|_| stats::rejected_payload())?;
        let key = ctx.open_key_writable(key_name);
        let length = match key.get_value::<NpArray>(&NP_TYPE).map_err(|_| RedisError::WrongType)? {
            Some(array) => {
                let old_nbytes = array.nbytes();
                config::check_array_bytes(ctx, array.check_append(&rows)?)?;
                array.append(&rows)?;
                stats::resized(old_nbytes, array.nbytes());
                array.growth_axis().map_or(0, |axis| array.shape()[axis])
            }
            None => {
                config::check_array_bytes(ctx, rows.data.len() as u64)?;
                let array = NpArray::from_parts(rows.dtype, rows.shape, rows.fortran_order, rows.data)?;
                let length = array.growth_axis().map_or(0, |axis| array.shape()[axis]);
                stats::added(&array);
                key.set_value(&NP_TYPE, array)?;
                length
            }
        };
        ctx.replicate_verbatim();
        ctx.notify_keyspace_event(NotifyEvent::MODULE, "np.append", key_name);
        Ok(int(length))
    })
}

/// `NP.SETSLICE key spec npy`: `arr[spec] = value` in place, with NumPy's
/// broadcasting and no casting. The key must hold an array.
pub fn np_setslice(ctx: &Context, args: Vec<RedisString>) -> RedisResult {
    stats::command();
    guard::command(|| {
        let [_, key_name, spec, payload] = args.as_slice() else {
            return Err(RedisError::WrongArity);
        };
        let items = slice::parse(&spec.to_string_lossy())?;
        let value = header_cache::parse(payload.as_slice()).inspect_err(|_| stats::rejected_payload())?;
        let key = ctx.open_key_writable(key_name);
        let Some(array) = key.get_value::<NpArray>(&NP_TYPE).map_err(|_| RedisError::WrongType)? else {
            return Err(RedisError::Str("ERR no such key"));
        };
        slice::assign(array, &items, &value)?;
        ctx.replicate_verbatim();
        ctx.notify_keyspace_event(NotifyEvent::MODULE, "np.setslice", key_name);
        Ok(RedisValue::SimpleStringStatic("OK"))
    })
}

/// What `NP.GET` was asked for beyond the plain `.npy` bytes.
#[derive(Default)]
struct GetOptions {
    slice: Option<Vec<slice::Item>>,
    cast: Option<crate::dtype::Dtype>,
    values: bool,
}

fn parse_get_options(args: &[RedisString]) -> Result<GetOptions, RedisError> {
    let mut options = GetOptions::default();
    let mut rest = args.iter();
    while let Some(token) = rest.next() {
        let token = token.to_string_lossy().to_ascii_uppercase();
        let mut value = || rest.next().ok_or(RedisError::WrongArity);
        match token.as_str() {
            "SLICE" if options.slice.is_none() => options.slice = Some(slice::parse(&value()?.to_string_lossy())?),
            "AS" if options.cast.is_none() => options.cast = Some(convert::parse_target(&value()?.to_string_lossy())?),
            "VALUES" if !options.values => options.values = true,
            "SLICE" | "AS" | "VALUES" => return Err(RedisError::String(format!("ERR {token} given twice"))),
            _ => return Err(RedisError::String(format!("ERR unknown NP.GET option '{token}'"))),
        }
    }
    Ok(options)
}

/// `NP.GET key [SLICE spec] [AS dtype] [VALUES]`: the `.npy` bytes (replied
/// straight from the stored buffer), optionally sliced (first) and cast, or the
/// elements as RESP values.
pub fn np_get(ctx: &Context, args: Vec<RedisString>) -> RedisResult {
    stats::command();
    guard::command(|| {
        let [_, key_name, option_args @ ..] = args.as_slice() else {
            return Err(RedisError::WrongArity);
        };
        let options = parse_get_options(option_args)?;
        let key = ctx.open_key(key_name);
        let Some(stored) = read(&key)? else {
            return Ok(RedisValue::Null);
        };
        let sliced = match options.slice.as_deref() {
            Some(items) => {
                // An index list can repeat rows: the same cap as for stored arrays.
                config::check_array_bytes(ctx, slice::result_nbytes(stored, items)?)?;
                Some(slice::slice(stored, items)?)
            }
            None => None,
        };
        let stored = sliced.as_ref().unwrap_or(stored);
        if options.values {
            convert::check_value_count(stored.size())?; // before a cast copies the data
        }
        if let Some(to) = &options.cast {
            // A cast can be up to 16× the stored data: the same cap as for stored arrays.
            config::check_array_bytes(ctx, stored.size().saturating_mul(to.itemsize()))?;
        }
        let cast = options.cast.as_ref().map(|to| convert::cast(stored, to)).transpose()?;
        let array = cast.as_ref().unwrap_or(stored);
        if options.values {
            return values_reply(array);
        }
        let npy = array.npy_bytes();
        raw::reply_with_string_buffer(ctx.ctx, npy.as_ptr().cast(), npy.len());
        Ok(RedisValue::NoReply)
    })
}

fn element_reply(element: Value) -> RedisValue {
    match element {
        Value::Bool(b) => RedisValue::Bool(b),
        Value::Int(v) => RedisValue::Integer(v),
        Value::UInt(v) => i64::try_from(v).map_or_else(|_| RedisValue::BigNumber(v.to_string()), RedisValue::Integer),
        Value::Float(v) => RedisValue::Float(v),
        Value::Complex(re, im) => RedisValue::Array(vec![RedisValue::Float(re), RedisValue::Float(im)]),
        Value::Bytes(b) => RedisValue::StringBuffer(b),
        Value::Str(s) => RedisValue::BulkString(s),
    }
}

/// `VALUES`: a map of dtype, shape and the elements in row-major order.
pub(super) fn values_reply(array: &NpArray) -> RedisResult {
    let values = convert::values(array)?.into_iter().map(element_reply).collect();
    let fields = [
        ("dtype", RedisValue::BulkString(array.dtype().name())),
        ("shape", shape_reply(array)),
        ("values", RedisValue::Array(values)),
    ];
    Ok(RedisValue::OrderedMap(
        fields
            .into_iter()
            .map(|(k, v)| (RedisValueKey::String(k.to_owned()), v))
            .collect(),
    ))
}

/// `NP.SHAPE key`
pub fn np_shape(ctx: &Context, args: Vec<RedisString>) -> RedisResult {
    read_command(ctx, &args, |_, array| Ok(shape_reply(array)))
}

/// `NP.DTYPE key`
pub fn np_dtype(ctx: &Context, args: Vec<RedisString>) -> RedisResult {
    read_command(ctx, &args, |_, array| Ok(RedisValue::BulkString(array.dtype().name())))
}

/// `NP.SIZE key`
pub fn np_size(ctx: &Context, args: Vec<RedisString>) -> RedisResult {
    read_command(ctx, &args, |_, array| Ok(int(array.size())))
}

/// `NP.INFO key`: a map on RESP3, a flat field/value array on RESP2.
pub fn np_info(ctx: &Context, args: Vec<RedisString>) -> RedisResult {
    read_command(ctx, &args, |_, array| {
        let fields: [(&str, RedisValue); 9] = [
            ("dtype", RedisValue::BulkString(array.dtype().name())),
            ("descr", RedisValue::BulkString(array.dtype().descr())),
            ("shape", shape_reply(array)),
            ("ndim", int(array.ndim() as u64)),
            ("size", int(array.size())),
            ("itemsize", int(array.itemsize())),
            ("nbytes", int(array.nbytes())),
            ("fortran_order", RedisValue::Bool(array.fortran_order())),
            ("memory", int(value_type::memory_usage(array) as u64)),
        ];
        Ok(RedisValue::OrderedMap(
            fields
                .into_iter()
                .map(|(k, v)| (RedisValueKey::String(k.to_owned()), v))
                .collect(),
        ))
    })
}
