//! `NP.GET` and the O(1) metadata commands.

use redis_module::{Context, RedisError, RedisResult, RedisString, RedisValue};

use super::{int, map_reply, reply_npy, shape_reply, stored_run};
use crate::array::NpArray;
use crate::convert::{self, Value};
use crate::get_plan::GetPlan;
use crate::module::read_key::ReadKey;
use crate::module::{config, guard, memory, stats, value_type};

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

/// `NP.GET key [SLICE spec] [AS dtype] [VALUES] [MAXBYTES n]`: the `.npy`
/// bytes (replied straight from the stored buffer), optionally sliced (first)
/// and cast, or the elements as RESP values; refused past `MAXBYTES`. What
/// it does is the pure layer's [`GetPlan`]; this executes it.
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
        if options.allocates_beyond_the_array() {
            memory::check_not_over(ctx)?;
        }
        let copy = match GetPlan::new(stored, options)? {
            GetPlan::Stored => {
                reply_npy(ctx, stored);
                return Ok(RedisValue::NoReply);
            }
            GetPlan::Run(run) => {
                stored_run::reply(ctx, &mut key, &run);
                return Ok(RedisValue::NoReply);
            }
            GetPlan::Copy(copy) => copy,
        };
        // A copy reads the data as one slice.
        let stored = key.contiguous_array()?.expect("the key held an array just above");
        if let Some(nbytes) = copy.selection_nbytes() {
            config::check_array_bytes(ctx, nbytes)?;
        }
        let sliced = copy.select(stored)?;
        let input = sliced.as_ref().unwrap_or(stored);
        if let Some(cast_nbytes) = copy.check_cast(input)? {
            config::check_array_bytes(ctx, cast_nbytes)?;
        }
        let cast = copy.cast(input)?;
        let array = cast.as_ref().unwrap_or(input);
        if copy.values {
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
            ("fortran_order", RedisValue::Bool(array.saved_fortran())),
            ("layout", RedisValue::BulkString(array.layout_name().to_owned())),
            ("memory", int(value_type::memory_usage(array) as u64)),
        ])
    })
}
