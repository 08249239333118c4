//! Handlers of the compute commands (`NP.RESHAPE`, `NP.TRANSPOSE`,
//! `NP.REDUCE`). The maths lives in `crate::compute`; these parse, open the
//! key, act, and reply or replicate.

use redis_module::{raw, Context, NotifyEvent, RedisError, RedisResult, RedisString, RedisValue};

use super::commands::values_reply;
use super::read_key::ReadKey;
use super::write_key::WriteKey;
use super::{config, guard, memory, stats};
use crate::array::NpArray;
use crate::compute::{self, reduce, reshape, ufunc};
use crate::slice::Selection;
use crate::{convert, npy, search};

fn shape_reply(array: &NpArray) -> RedisValue {
    RedisValue::Array(array.shape().iter().map(|&d| RedisValue::Integer(d as i64)).collect())
}

/// Runs `change` on the array at `key_name` (which must exist), then
/// replicates the command verbatim and sends `event`. Replies with the new shape.
fn change_in_place(
    ctx: &Context,
    key_name: &RedisString,
    event: &str,
    change: impl FnOnce(&mut NpArray) -> Result<(), RedisError>,
) -> RedisResult {
    let mut key = WriteKey::open(ctx, key_name);
    let Some(array) = key.array_mut()? else {
        return Err(RedisError::Str("ERR no such key"));
    };
    array.make_contiguous()?;
    guard::checkpoint("before-change");
    commit_change(ctx, key_name, event, || change(&mut *array))?;
    Ok(shape_reply(array))
}

/// Runs a change whose errors all come before its first write (the compute
/// layer checks shapes, casts and indices first), then replicates it verbatim
/// and sends `event`, all under `guard::commit`: a panic midway would leave a
/// value that replicas and the AOF never saw, so it stops the server instead.
/// An error changed nothing and is neither replicated nor notified.
fn commit_change(
    ctx: &Context,
    key_name: &RedisString,
    event: &str,
    change: impl FnOnce() -> Result<(), RedisError>,
) -> Result<(), RedisError> {
    guard::commit(|| {
        change()?; // the same elements: the module's counters do not change
        guard::checkpoint("after-change");
        ctx.replicate_verbatim();
        ctx.notify_keyspace_event(NotifyEvent::MODULE, event, key_name);
        Ok(())
    })
}

/// `NP.RESHAPE key shape`: `arr = arr.reshape(shape)`; replies with the new shape.
pub fn np_reshape(ctx: &Context, args: &[RedisString]) -> RedisResult {
    stats::command();
    guard::command(|| {
        let [_, key_name, shape_text] = args else {
            return Err(RedisError::WrongArity);
        };
        let requested = reshape::parse_shape(&shape_text.to_string_lossy())?;
        change_in_place(ctx, key_name, "np.reshape", |array| {
            reshape::reshape(array, &requested).map_err(Into::into)
        })
    })
}

/// `NP.TRANSPOSE key`: `arr = arr.T`; replies with the new shape.
pub fn np_transpose(ctx: &Context, args: &[RedisString]) -> RedisResult {
    stats::command();
    guard::command(|| {
        let [_, key_name] = args else {
            return Err(RedisError::WrongArity);
        };
        change_in_place(ctx, key_name, "np.transpose", |array| {
            reshape::transpose(array).map_err(Into::into)
        })
    })
}

/// `NP.REDUCE key op [AXIS n [n …]] [DDOF n] [SLICE spec] [AS dtype] [VALUES]`:
/// `np.op(arr[spec], axis=n, dtype=dtype, ddof=n)` as `.npy` bytes, or its
/// elements with VALUES. Missing keys reply nil.
pub fn np_reduce(ctx: &Context, args: &[RedisString]) -> RedisResult {
    stats::command();
    guard::command(|| {
        let [_, key_name, op, option_args @ ..] = args else {
            return Err(RedisError::WrongArity);
        };
        let op = reduce::Op::parse(&op.to_string_lossy())?;
        let options = crate::options::parse_reduce(option_args)?;
        let mut key = ReadKey::open(ctx, key_name);
        let Some(stored) = key.contiguous_array()? else {
            return Ok(RedisValue::Null);
        };
        // A slice, a cast or a Fortran-ordered input is copied first: like
        // NP.GET's casts, refused while Redis is over maxmemory.
        if options.slice.is_some() || options.dtype.is_some() || stored.saved_fortran() {
            memory::check_not_over(ctx)?;
        }
        let sliced = match options.slice.as_deref() {
            Some(items) => {
                let selection = Selection::resolve(stored, items)?;
                // An index list can repeat rows: the same cap as for stored arrays.
                config::check_array_bytes(ctx, selection.nbytes()?)?;
                Some(compute::slice_for_compute(stored, &selection)?)
            }
            None => None,
        };
        let input = sliced.as_ref().unwrap_or(stored);
        if let Some(to) = &options.dtype {
            // AS casts the input first: the same cap as for stored arrays.
            config::check_array_bytes(ctx, input.size().saturating_mul(to.itemsize()))?;
        }
        let axes = compute::axes::Axes::from_list(options.axis.as_deref());
        let result = reduce::reduce(input, op, axes, options.dtype.as_ref(), options.ddof)?;
        if options.values {
            convert::check_value_count(result.size())?;
            return values_reply(&result);
        }
        let npy = result.npy_bytes();
        raw::reply_with_string_buffer(ctx.ctx, npy.as_ptr().cast(), npy.len());
        Ok(RedisValue::NoReply)
    })
}

/// `NP.KNN key query K k [METRIC l2|ip|cosine|hamming] [SLICE spec] [VALUES]` (or
/// the query last, as `redis-cli -x` sends it): the
/// `k` rows of the (N, d) array nearest each query row, as two `.npy` bulk
/// strings (int64 indices, float32/float64 distances), or their values with
/// VALUES. Missing keys reply nil.
pub fn np_knn(ctx: &Context, args: &[RedisString]) -> RedisResult {
    stats::command();
    guard::command(|| {
        let [_, key_name, rest @ ..] = args else {
            return Err(RedisError::WrongArity);
        };
        let (query, option_args) = crate::options::knn_query(rest).ok_or(RedisError::WrongArity)?;
        let options = crate::options::parse_knn(option_args)?;
        let query = NpArray::from_npy(query.as_slice()).inspect_err(|_| stats::rejected_payload())?;
        let mut key = ReadKey::open(ctx, key_name);
        let Some(stored) = key.contiguous_array()? else {
            return Ok(RedisValue::Null);
        };
        let found = search::knn(stored, &query, options.k, options.metric, options.slice.as_deref())?;
        let (indices, distances) = (found.indices_array()?, found.distances_array()?);
        if options.values {
            convert::check_value_count(indices.size().saturating_mul(2))?;
            return Ok(RedisValue::Array(vec![
                values_reply(&indices)?,
                values_reply(&distances)?,
            ]));
        }
        Ok(RedisValue::Array(vec![
            RedisValue::StringBuffer(indices.npy_bytes().into_owned()),
            RedisValue::StringBuffer(distances.npy_bytes().into_owned()),
        ]))
    })
}

/// `NP.UPDATE key op npy [SLICE spec]` (or `key op SLICE spec npy`):
/// `arr[spec] op= value` in place, as
/// NumPy's in-place ufuncs compute it. The key must hold an array.
pub fn np_update(ctx: &Context, args: &[RedisString]) -> RedisResult {
    stats::command();
    guard::command(|| {
        let [_, key_name, op, rest @ ..] = args else {
            return Err(RedisError::WrongArity);
        };
        let op = ufunc::BinOp::parse(&op.to_string_lossy())?;
        let (payload, items) = crate::options::parse_update(rest)?;
        let value = npy::parse(rest[payload].as_slice()).inspect_err(|_| stats::rejected_payload())?;
        let mut key = WriteKey::open(ctx, key_name);
        let Some(array) = key.array_mut()? else {
            return Err(RedisError::Str("ERR no such key"));
        };
        array.make_contiguous()?;
        guard::checkpoint("before-change");
        commit_change(ctx, key_name, "np.update", || {
            ufunc::update(array, &items, op, &value).map_err(Into::into)
        })?;
        Ok(RedisValue::SimpleStringStatic("OK"))
    })
}
