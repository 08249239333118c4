//! `NP.SET`, `NP.APPEND`, `NP.TRIM`, `NP.SETSLICE`. Each does all its fallible work first,
//! then makes its change, replicates and notifies under `guard::commit`.

use redis_module::{Context, ContextFlags, NotifyEvent, RedisError, RedisResult, RedisString, RedisValue};

use super::set_options::{self, SetOptions, Ttl};
use super::{expire, int, notify, parse_adoptable, parse_npy, reply_npy, reply_null};
use crate::array::{NpArray, MIN_ADOPTED};
use crate::error::NpyError;
use crate::module::held::HeldString;
use crate::module::write_key::WriteKey;
use crate::module::{config, guard, stats};
use crate::slice::{self, Selection};

const OK: RedisValue = RedisValue::SimpleStringStatic("OK");

/// `NP.SET key npy [NX|XX] [GET] [EX s|PX ms|EXAT ts|PXAT ts|KEEPTTL]`, with
/// SET's semantics and replies.
pub fn np_set(ctx: &Context, args: &[RedisString]) -> RedisResult {
    stats::command();
    guard::command(|| {
        let [_, key_name, payload, option_args @ ..] = args else {
            return Err(RedisError::WrongArity);
        };
        // Without options neither the clock nor the context flags matter.
        let (now_ms, from_master_or_aof) = if option_args.is_empty() {
            (0, false)
        } else {
            let flags = ctx.get_flags();
            (
                expire::now_ms(),
                flags.intersects(ContextFlags::REPLICATED | ContextFlags::LOADING),
            )
        };
        let options = set_options::parse(option_args, now_ms, from_master_or_aof)?;
        // A large argument may become the value itself (held before any view
        // of its bytes is taken: holding may trim its allocation).
        let held = (payload.as_slice().len() >= MIN_ADOPTED)
            .then(|| HeldString::hold(payload))
            .flatten();
        let (value, canonical) = parse_adoptable(ctx, payload.as_slice(), held.is_some())?;
        let mut key = WriteKey::open(ctx, key_name);
        let exists = !key.is_empty();
        // SET checks the old value's type for GET, and NX on an existing key
        // of any type is simply not met.
        let existing = if options.get || options.condition_met(exists) {
            key.array_mut()?
        } else {
            None
        };
        if !options.condition_met(exists) {
            return Ok(match existing {
                Some(old) => {
                    reply_npy(ctx, old);
                    RedisValue::NoReply
                }
                None => RedisValue::Null,
            });
        }
        let kept_ttl = match options.ttl {
            Ttl::Keep => expire::get(ctx, key_name),
            _ => None,
        };
        let finish = || {
            guard::checkpoint("after-change");
            match options.ttl {
                Ttl::Clear => {}
                Ttl::Keep => {
                    if let Some(at) = kept_ttl {
                        expire::set(ctx, key_name, at);
                    }
                }
                Ttl::ExpireAt(at) => expire::set(ctx, key_name, at),
            }
            replicate_set(ctx, args, &options);
            notify(ctx, NotifyEvent::MODULE, c"np.set", key_name);
            if let Ttl::ExpireAt(_) = options.ttl {
                ctx.notify_keyspace_event(NotifyEvent::GENERIC, "expire", key_name);
            }
        };

        // Kept where it is when its header is the canonical one; else copied below.
        let adopted = held
            .zip(canonical)
            .and_then(|(held, header)| NpArray::adopt(&value, header, Box::new(held), config::adopt_always()).ok());
        if options.get {
            // The old value is replied from its own buffer, so it must not be
            // overwritten in place: build the new one, reply, then store.
            let array = match adopted {
                Some(array) => array,
                None => NpArray::from_parsed(&value)?,
            };
            guard::checkpoint("before-change");
            match existing {
                Some(old) => reply_npy(ctx, old),
                None => reply_null(ctx),
            }
            guard::commit(|| {
                key.store(array);
                finish();
            });
            return Ok(RedisValue::NoReply);
        }

        guard::checkpoint("before-change");
        // An adopted value costs no copy at all: better than reusing the old buffer.
        let overwritten = adopted.is_none()
            && existing.is_some_and(|old| {
                guard::commit(|| {
                    // About the same size as the array it replaces: reuse its
                    // buffer, so no fresh memory has to be faulted in.
                    let before = stats::Counted::of(old);
                    let reused = old.overwrite_in_place(&value);
                    if reused {
                        stats::replaced(before, old);
                    }
                    reused
                })
            });
        if overwritten {
            guard::commit(|| {
                if options.ttl == Ttl::Clear {
                    key.remove_expire();
                }
                finish();
            });
        } else {
            // Nothing has changed yet: the old buffer did not fit, or the argument is the value.
            let array = match adopted {
                Some(array) => array,
                None => NpArray::from_parsed(&value)?,
            };
            guard::commit(|| {
                key.store(array);
                finish();
            });
        }
        Ok(OK)
    })
}

/// Propagates `NP.SET` to replicas and the AOF in a form that gives the same
/// result there: verbatim without options; otherwise without NX/XX/GET (the
/// write is known to happen) and with any TTL as an absolute `PXAT`, as SET does.
fn replicate_set(ctx: &Context, args: &[RedisString], options: &SetOptions) {
    if options.is_plain() {
        ctx.replicate_verbatim();
        return;
    }
    let (pxat, at, keepttl);
    let mut out: Vec<&RedisString> = vec![&args[1], &args[2]];
    match options.ttl {
        Ttl::Clear => {}
        Ttl::Keep => {
            keepttl = ctx.create_string("KEEPTTL");
            out.push(&keepttl);
        }
        Ttl::ExpireAt(ms) => {
            pxat = ctx.create_string("PXAT");
            at = ctx.create_string(ms.to_string());
            out.extend([&pxat, &at]);
        }
    }
    ctx.replicate("NP.SET", out.as_slice());
}

/// A rolling-buffer length (`MAXLEN n`, `NP.TRIM key n`): see [`crate::options::parse_length`].
pub(super) fn parse_length(arg: &RedisString) -> Result<u64, RedisError> {
    Ok(crate::options::parse_length(arg)?)
}

fn parse_maxlen(option_args: &[RedisString]) -> Result<Option<u64>, RedisError> {
    Ok(crate::options::parse_maxlen(option_args)?)
}

/// `NP.APPEND key npy [MAXLEN n]`: grows the array along its growth axis
/// (axis 0 in C order, the last axis in Fortran order); creates the key if it
/// is missing. With `MAXLEN n`, then keeps only the last `n` entries along
/// that axis (a rolling buffer). Replies with the new length of that axis.
/// The result is a function of the old value and the arguments, so the
/// command replicates verbatim.
pub fn np_append(ctx: &Context, args: &[RedisString]) -> RedisResult {
    stats::command();
    guard::command(|| {
        let [_, key_name, payload, option_args @ ..] = args else {
            return Err(RedisError::WrongArity);
        };
        let maxlen = parse_maxlen(option_args)?;
        let rows = parse_npy(payload.as_slice())?;
        let mut key = WriteKey::open(ctx, key_name);
        let finish = |length: u64| -> RedisResult {
            guard::checkpoint("after-change");
            ctx.replicate_verbatim();
            ctx.notify_keyspace_event(NotifyEvent::MODULE, "np.append", key_name);
            Ok(int(length))
        };
        // The length along the axis appended to, after MAXLEN's trim.
        let trimmed = |array: &mut NpArray, axis: Option<usize>| -> crate::error::Result<u64> {
            match (axis, maxlen) {
                (None, Some(_)) => Err(NpyError::NoGrowthAxis("trim")),
                (None, None) => Ok(0),
                (Some(axis), Some(n)) => array.trim_along(axis, n),
                (Some(axis), None) => Ok(array.shape()[axis]),
            }
        };
        match key.array_mut()? {
            Some(array) => {
                let old_nbytes = array.nbytes();
                config::check_array_bytes(ctx, array.check_append(&rows)?)?;
                guard::checkpoint("before-change");
                guard::commit(|| {
                    // `append` checks again and reserves before it changes
                    // anything: an error from it leaves the array as it was.
                    // `trim` then only relabels, or rebuilds a small value.
                    let axis = array.append(&rows)?;
                    let length = trimmed(array, Some(axis))?;
                    stats::resized(old_nbytes, array.nbytes());
                    finish(length)
                })
            }
            None => {
                config::check_array_bytes(ctx, rows.data.len() as u64)?;
                let mut array = NpArray::from_parsed(&rows)?;
                let axis = array.growth_axis();
                let length = trimmed(&mut array, axis)?;
                guard::checkpoint("before-change");
                guard::commit(|| {
                    key.store(array);
                    finish(length)
                })
            }
        }
    })
}

/// `NP.TRIM key n`: keeps only the last `n` entries along the growth axis, in
/// O(1) (the dropped bytes are reused by later appends, which wrap around to
/// them, see `crate::layout::full`). Replies with the new length of that
/// axis; 0 for a missing key, as XTRIM does.
pub fn np_trim(ctx: &Context, args: &[RedisString]) -> RedisResult {
    stats::command();
    guard::command(|| {
        let [_, key_name, n] = args else {
            return Err(RedisError::WrongArity);
        };
        let keep = parse_length(n)?;
        let mut key = WriteKey::open(ctx, key_name);
        let Some(array) = key.array_mut()? else {
            return Ok(int(0));
        };
        let length = array.trim_length()?;
        if keep >= length {
            return Ok(int(length));
        }
        guard::checkpoint("before-change");
        guard::commit(|| -> RedisResult {
            let old_nbytes = array.nbytes();
            let length = array.trim(keep)?;
            stats::resized(old_nbytes, array.nbytes());
            guard::checkpoint("after-change");
            ctx.replicate_verbatim();
            ctx.notify_keyspace_event(NotifyEvent::MODULE, "np.trim", key_name);
            Ok(int(length))
        })
    })
}

/// `NP.SETSLICE key spec npy`: `arr[spec] = value` in place, with NumPy's
/// broadcasting and no casting. The key must hold an array.
pub fn np_setslice(ctx: &Context, args: &[RedisString]) -> RedisResult {
    stats::command();
    guard::command(|| {
        let [_, key_name, spec, payload] = args else {
            return Err(RedisError::WrongArity);
        };
        let items = slice::parse(&spec.to_string_lossy())?;
        let value = parse_npy(payload.as_slice())?;
        let mut key = WriteKey::open(ctx, key_name);
        let Some(array) = key.array_mut()? else {
            return Err(RedisError::Str("ERR no such key"));
        };
        array.make_contiguous()?;
        // Resolved before any change: a panic while resolving changes nothing.
        let selection = Selection::resolve(array, &items)?;
        guard::checkpoint("before-change");
        // `assign` checks the dtype and the broadcast before it writes the
        // first element (an error from it changed nothing); a panic inside
        // its copy would leave the slice half-written.
        guard::commit(|| -> RedisResult {
            selection.assign(array, &value)?;
            guard::checkpoint("after-change");
            ctx.replicate_verbatim();
            ctx.notify_keyspace_event(NotifyEvent::MODULE, "np.setslice", key_name);
            Ok(OK)
        })
    })
}
