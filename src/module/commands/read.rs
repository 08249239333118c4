//! `NP.GET` and the O(1) metadata commands.

use redis_module::{Context, RedisError, RedisResult, RedisString, RedisValue};

use super::{int, map_reply, reply_npy, shape_reply, stored_run};
use crate::array::NpArray;
use crate::convert::{self, Value};
use crate::module::read_key::ReadKey;
use crate::module::{config, guard, memory, stats, value_type};
use crate::slice::{self, Selection};

/// Runs a read-only command on the array at `args[1]`; missing keys reply nil.
fn read_command(ctx: &Context, args: &[RedisString], reply: impl FnOnce(&NpArray) -> RedisValue) -> RedisResult {
    stats::command();
    guard::command(|| {
        let [_, key_name] = args else {
            return Err(RedisError::WrongArity);
        };
        Ok(ReadKey::open(ctx, key_name).array()?.map_or(RedisValue::Null, reply))
    })
}

/// The start of `MAXBYTES`'s refusal, which clients match to fall back to
/// reading the array in pieces (docs/commands.md documents it as stable).
const OVER_MAXBYTES: &str = "ERR reply array would be";

/// `MAXBYTES`: refuses, before anything is built, a reply whose array data
/// (`nbytes` of the selection, after a cast) would exceed the caller's bound.
fn check_max_bytes(max_bytes: Option<u64>, nbytes: u64) -> Result<(), RedisError> {
    match max_bytes {
        Some(max) if nbytes > max => Err(RedisError::String(format!(
            "{OVER_MAXBYTES} {nbytes} bytes, over MAXBYTES {max}"
        ))),
        _ => Ok(()),
    }
}

/// `NP.GET key [SLICE spec] [AS dtype] [VALUES] [MAXBYTES n]`: the `.npy`
/// bytes (replied straight from the stored buffer), optionally sliced (first)
/// and cast, or the elements as RESP values; refused past `MAXBYTES`.
pub fn np_get(ctx: &Context, args: &[RedisString]) -> RedisResult {
    stats::command();
    guard::command(|| {
        let [_, key_name, option_args @ ..] = args else {
            return Err(RedisError::WrongArity);
        };
        let options = crate::options::parse_get(option_args)?;
        let mut key = ReadKey::open(ctx, key_name);
        let Some(stored) = key.array()? else {
            return Ok(RedisValue::Null);
        };
        // A cast (up to 16x the stored data) and VALUES (tens of bytes of
        // reply per element) allocate more than the array holds: like a
        // `deny-oom` write, they are refused while Redis is over maxmemory.
        if options.cast.is_some() || options.values {
            memory::check_not_over(ctx)?;
        }
        // The request's selection, resolved once: it answers for the
        // contiguous copy below too (same dtype, shape and order).
        let selection = match options.slice.as_deref() {
            Some(items) => Some(Selection::resolve(stored, items)?),
            None => None,
        };
        let selected_nbytes = match &selection {
            Some(selection) => selection.nbytes()?,
            None => stored.nbytes(),
        };
        // The reply's size, known before the slice or the cast is built (the
        // cast's element count from the selection when its itemsize allows).
        let reply_nbytes = match &options.cast {
            None => Some(selected_nbytes),
            Some(_) if stored.itemsize() == 0 => None,
            Some(to) => Some((selected_nbytes / stored.itemsize()).saturating_mul(to.itemsize())),
        };
        if let Some(nbytes) = reply_nbytes {
            check_max_bytes(options.max_bytes, nbytes)?;
        }
        // A slice that is one run of the stored bytes is replied from them.
        if let (Some(selection), None, false) = (&selection, &options.cast, options.values) {
            if let Some(run) = selection.stored_run() {
                stored_run::reply(ctx, &mut key, &run);
                return Ok(RedisValue::NoReply);
            }
        }
        let plain = options.slice.is_none() && options.cast.is_none() && !options.values;
        // A full-layout array without its header in front of the data (an
        // exact-size buffer, a rolling buffer, wrapped or not) is the run of
        // all its data: replied in one copy when dropped entries before it
        // can hold the header for a moment, else gathered.
        if plain && !stored.is_packed() && stored.stored_npy().is_none() {
            let run = slice::StoredRun {
                shape: stored.shape().iter().copied().collect(),
                fortran_order: stored.fortran_order(),
                bytes: 0..stored.nbytes() as usize,
            };
            stored_run::reply(ctx, &mut key, &run);
            return Ok(RedisValue::NoReply);
        }
        // What is left reads the data as one slice.
        let stored = if plain {
            stored
        } else {
            key.contiguous_array()?.expect("the key held an array just above")
        };
        let sliced = match &selection {
            Some(selection) => {
                // An index list can repeat rows: the same cap as for stored arrays.
                config::check_array_bytes(ctx, selected_nbytes)?;
                Some(selection.build(stored)?)
            }
            None => None,
        };
        let stored = sliced.as_ref().unwrap_or(stored);
        if options.values {
            convert::check_value_count(stored.size())?; // before a cast copies the data
        }
        if let Some(to) = &options.cast {
            let cast_nbytes = stored.size().saturating_mul(to.itemsize());
            check_max_bytes(options.max_bytes, cast_nbytes)?;
            // The same cap as for stored arrays.
            config::check_array_bytes(ctx, cast_nbytes)?;
        }
        let cast = options.cast.as_ref().map(|to| convert::cast(stored, to)).transpose()?;
        let array = cast.as_ref().unwrap_or(stored);
        if options.values {
            return values_reply(array);
        }
        reply_npy(ctx, array);
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
pub(crate) fn values_reply(array: &NpArray) -> RedisResult {
    let values = convert::values(array)?.into_iter().map(element_reply).collect();
    Ok(map_reply([
        ("dtype", RedisValue::BulkString(array.dtype().name())),
        ("shape", shape_reply(array)),
        ("values", RedisValue::Array(values)),
    ]))
}

/// `NP.SHAPE key`
pub fn np_shape(ctx: &Context, args: &[RedisString]) -> RedisResult {
    read_command(ctx, args, shape_reply)
}

/// `NP.DTYPE key`
pub fn np_dtype(ctx: &Context, args: &[RedisString]) -> RedisResult {
    read_command(ctx, args, |array| RedisValue::BulkString(array.dtype().name()))
}

/// `NP.SIZE key`
pub fn np_size(ctx: &Context, args: &[RedisString]) -> RedisResult {
    read_command(ctx, args, |array| int(array.size()))
}

/// `NP.INFO key`: a map on RESP3, a flat field/value array on RESP2.
pub fn np_info(ctx: &Context, args: &[RedisString]) -> RedisResult {
    read_command(ctx, args, |array| {
        map_reply([
            ("dtype", RedisValue::BulkString(array.dtype().name())),
            ("descr", RedisValue::BulkString(array.dtype().descr())),
            ("shape", shape_reply(array)),
            ("ndim", int(array.ndim() as u64)),
            ("size", int(array.size())),
            ("itemsize", int(array.itemsize())),
            ("nbytes", int(array.nbytes())),
            ("fortran_order", RedisValue::Bool(array.fortran_order())),
            ("layout", RedisValue::BulkString(array.layout_name().to_owned())),
            ("memory", int(value_type::memory_usage(array) as u64)),
        ])
    })
}
