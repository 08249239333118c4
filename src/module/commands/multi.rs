//! `NP.MGET` and `NP.MSET`: many keys in one command, like MGET and MSET.

use std::collections::HashMap;

use redis_module::{raw, Context, NotifyEvent, RedisError, RedisResult, RedisString, RedisValue};

use super::{parse_adoptable, reply_npy, reply_null};
use crate::array::{NpArray, MIN_ADOPTED};
use crate::module::held::HeldString;
use crate::module::prefetch;
use crate::module::read_key::ReadKey;
use crate::module::write_key::WriteKey;
use crate::module::{config, guard, stats};

/// `NP.MGET key [key ...]`: an array with each key's `.npy` bytes (as
/// NP.GET replies them, see [`reply_npy`]); nil for a missing key and, as MGET
/// does, for a key holding another type. A key given twice is replied twice.
///
/// The keys are taken in groups of [`MGET_GROUP`], each in three passes:
/// open every key of the group and take its value, then find every stored
/// `.npy` and prefetch its first bytes, then reply. A random key of a big
/// keyspace costs a chain of cache misses (Redis's dict entry, the key's
/// object, the module value, the array, its block); done key by key, each
/// miss waits for the one before. In passes, the misses of one level are
/// independent of each other, so the CPU overlaps them, and the reply
/// copies from blocks already on their way into the cache.
pub fn np_mget(ctx: &Context, args: &[RedisString]) -> RedisResult {
    stats::command();
    guard::command(|| {
        let [_, keys @ ..] = args else {
            return Err(RedisError::WrongArity);
        };
        if keys.is_empty() {
            return Err(RedisError::WrongArity);
        }
        // Nothing below can fail, so the array header promises exactly
        // `keys.len()` elements.
        raw::reply_with_array(ctx.ctx, keys.len() as _);
        let mut opened = Vec::with_capacity(keys.len().min(MGET_GROUP));
        for group in keys.chunks(MGET_GROUP) {
            opened.extend(group.iter().map(|name| ReadKey::open(ctx, name)));
            let found: Vec<Option<&NpArray>> = opened.iter().map(|key| key.array().ok().flatten()).collect();
            let stored: Vec<Option<&[u8]>> = found
                .iter()
                .map(|array| {
                    let npy = array.and_then(NpArray::stored_npy);
                    if let Some(npy) = npy {
                        prefetch::read(&npy[..npy.len().min(MGET_PREFETCH)]);
                    }
                    npy
                })
                .collect();
            for (array, npy) in found.iter().zip(stored) {
                match (array, npy) {
                    (_, Some(npy)) => {
                        raw::reply_with_string_buffer(ctx.ctx, npy.as_ptr().cast(), npy.len());
                    }
                    (Some(array), None) => reply_npy(ctx, array),
                    (None, None) => reply_null(ctx),
                }
            }
            opened.clear();
        }
        Ok(RedisValue::NoReply)
    })
}

/// How many keys NP.MGET opens before replying: enough for the CPU to
/// overlap many cache misses, few enough that what is prefetched for them
/// ([`MGET_PREFETCH`] each at most) stays in the core's L2 cache until
/// the reply copies it.
const MGET_GROUP: usize = 64;

/// The most of one array's `.npy` bytes NP.MGET prefetches; the reply's
/// copy streams the rest in, as any long copy does.
const MGET_PREFETCH: usize = 4096;

/// `NP.MSET key npy [key npy ...]`: stores every array, atomically. Every
/// payload is validated and every key's type checked before the first is
/// written, so an error writes nothing. As with MSET, a key given twice gets
/// its last value; as with NP.SET, a key of another type is `WRONGTYPE` and
/// each written key loses its TTL.
pub fn np_mset(ctx: &Context, args: &[RedisString]) -> RedisResult {
    stats::command();
    guard::command(|| {
        let [_, pairs @ ..] = args else {
            return Err(RedisError::WrongArity);
        };
        if pairs.is_empty() || pairs.len() % 2 != 0 {
            return Err(RedisError::WrongArity);
        }
        // Large arguments may become the values themselves, as in NP.SET
        // (held before any view of the arguments' bytes is taken).
        let mut held: Vec<Option<HeldString>> = pairs
            .chunks_exact(2)
            .map(|pair| {
                (pair[1].as_slice().len() >= MIN_ADOPTED)
                    .then(|| HeldString::hold(&pair[1]))
                    .flatten()
            })
            .collect();
        // The last value of each key, in the order the keys first appear.
        let mut index: HashMap<&[u8], usize> = HashMap::new();
        let mut writes: Vec<(&RedisString, &RedisString, usize)> = Vec::new();
        for (n, pair) in pairs.chunks_exact(2).enumerate() {
            let (key, payload) = (&pair[0], &pair[1]);
            match index.get(key.as_slice()) {
                Some(&i) => (writes[i].1, writes[i].2) = (payload, n),
                None => {
                    index.insert(key.as_slice(), writes.len());
                    writes.push((key, payload, n));
                }
            }
        }
        let mut arrays = Vec::with_capacity(writes.len());
        for (_, payload, n) in &writes {
            arrays.push(parse_adoptable(ctx, payload.as_slice(), held[*n].is_some())?);
        }
        let mut keys: Vec<_> = writes.iter().map(|(name, _, _)| WriteKey::open(ctx, name)).collect();
        for key in &mut keys {
            key.array_mut()?;
        }
        let arrays = arrays
            .into_iter()
            .zip(&writes)
            .map(|((v, canonical), &(_, _, n))| {
                let adopted = held[n]
                    .take()
                    .zip(canonical)
                    .and_then(|(h, header)| NpArray::adopt(&v, header, Box::new(h), config::adopt_always()).ok());
                match adopted {
                    Some(array) => Ok(array),
                    None => NpArray::from_parsed(&v),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        guard::checkpoint("before-change");
        guard::commit(|| {
            for (key, array) in keys.iter_mut().zip(arrays) {
                key.store(array);
                guard::checkpoint("after-change");
            }
            ctx.replicate_verbatim();
            for (name, _, _) in &writes {
                ctx.notify_keyspace_event(NotifyEvent::MODULE, "np.set", name);
            }
        });
        Ok(RedisValue::SimpleStringStatic("OK"))
    })
}
