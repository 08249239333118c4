//! `NP.MGET` and `NP.MSET`: many keys in one command, like MGET and MSET.

use std::collections::HashMap;

use redis_module::{raw, Context, NotifyEvent, RedisError, RedisResult, RedisString, RedisValue};

use super::write::store;
use super::{array_at, array_at_mut, parse_payload, reply_null};
use crate::array::NpArray;
use crate::dtype::Dtype;
use crate::module::{guard, stats};
use crate::npy;
use crate::shape::Shape;

/// The `.npy` bytes of a batch's arrays, for layouts that keep no header
/// (small arrays): written into one buffer reused across the batch, with the
/// header formatted once per run of same-shaped arrays. A feature store's
/// batch is hundreds of vectors of one shape.
#[derive(Default)]
struct BatchReply {
    /// What `header` was written for.
    last: Option<(Dtype, Shape, bool)>,
    header: Vec<u8>,
    out: Vec<u8>,
}

impl BatchReply {
    fn reply(&mut self, ctx: &Context, array: &NpArray) {
        let npy = array.npy_bytes_if_stored();
        if let Some(npy) = npy {
            raw::reply_with_string_buffer(ctx.ctx, npy.as_ptr().cast(), npy.len());
            return;
        }
        let same = matches!(&self.last, Some((dtype, shape, fortran))
            if dtype == array.dtype() && shape.as_slice() == array.shape() && *fortran == array.fortran_order());
        if !same {
            self.header = npy::write_header(array.dtype(), array.shape(), array.fortran_order());
            self.last = Some((
                array.dtype().clone(),
                Shape::from_slice(array.shape()),
                array.fortran_order(),
            ));
        }
        self.out.clear();
        self.out.extend_from_slice(&self.header);
        self.out.extend_from_slice(array.data());
        raw::reply_with_string_buffer(ctx.ctx, self.out.as_ptr().cast(), self.out.len());
    }
}

/// `NP.MGET key [key ...]`: an array with each key's `.npy` bytes (copied
/// once from the stored buffer when it keeps the header, see [`BatchReply`]); nil for a missing key and, as MGET does, for a key
/// holding another type. A key given twice is replied twice.
pub fn np_mget(ctx: &Context, args: Vec<RedisString>) -> RedisResult {
    stats::command();
    guard::command(|| {
        let [_, keys @ ..] = args.as_slice() else {
            return Err(RedisError::WrongArity);
        };
        if keys.is_empty() {
            return Err(RedisError::WrongArity);
        }
        // Nothing below can fail, so the array header promises exactly
        // `keys.len()` elements.
        raw::reply_with_array(ctx.ctx, keys.len() as _);
        let mut batch = BatchReply::default();
        for key_name in keys {
            let key = ctx.open_key(key_name);
            match array_at(&key) {
                Ok(Some(array)) => batch.reply(ctx, array),
                Ok(None) | Err(_) => reply_null(ctx),
            }
        }
        Ok(RedisValue::NoReply)
    })
}

/// `NP.MSET key npy [key npy ...]`: stores every array, atomically. Every
/// payload is validated and every key's type checked before the first is
/// written, so an error writes nothing. As with MSET, a key given twice gets
/// its last value; as with NP.SET, a key of another type is `WRONGTYPE` and
/// each written key loses its TTL.
pub fn np_mset(ctx: &Context, args: Vec<RedisString>) -> RedisResult {
    stats::command();
    guard::command(|| {
        let [_, pairs @ ..] = args.as_slice() else {
            return Err(RedisError::WrongArity);
        };
        if pairs.is_empty() || pairs.len() % 2 != 0 {
            return Err(RedisError::WrongArity);
        }
        // The last value of each key, in the order the keys first appear.
        let mut index: HashMap<&[u8], usize> = HashMap::new();
        let mut writes: Vec<(&RedisString, &RedisString)> = Vec::new();
        for pair in pairs.chunks_exact(2) {
            let (key, payload) = (&pair[0], &pair[1]);
            match index.get(key.as_slice()) {
                Some(&i) => writes[i].1 = payload,
                None => {
                    index.insert(key.as_slice(), writes.len());
                    writes.push((key, payload));
                }
            }
        }
        let mut arrays = Vec::with_capacity(writes.len());
        for (_, payload) in &writes {
            let value = parse_payload(ctx, payload.as_slice())?;
            arrays.push(value);
        }
        let keys: Vec<_> = writes.iter().map(|(name, _)| ctx.open_key_writable(name)).collect();
        for key in &keys {
            array_at_mut(key)?;
        }
        let arrays = arrays
            .into_iter()
            .map(|v| NpArray::from_parts(v.dtype, v.shape, v.fortran_order, v.data))
            .collect::<Result<Vec<_>, _>>()?;
        guard::checkpoint("before-change");
        guard::commit(|| {
            for (key, array) in keys.iter().zip(arrays) {
                store(key, array);
                guard::checkpoint("after-change");
            }
            ctx.replicate_verbatim();
            for (name, _) in &writes {
                ctx.notify_keyspace_event(NotifyEvent::MODULE, "np.set", name);
            }
        });
        Ok(RedisValue::SimpleStringStatic("OK"))
    })
}
