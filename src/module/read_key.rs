//! A key opened for reading: every command that reads an array goes through
//! it (as every write goes through `write_key`).

use std::ffi::c_void;

use redis_module::key::RedisKey;
use redis_module::{raw, Context, RedisError, RedisString};

use crate::array::NpArray;
use crate::module::value_type::NP_TYPE;

/// A key opened for reading, as `ctx.open_key` opens it, and its raw handle,
/// which reaches the value by a pointer that may write: to reply from the
/// stored bytes (`commands::stored_run`) and to make a wrapped rolling buffer
/// contiguous ([`ReadKey::contiguous_array`]). Closed on drop.
pub(crate) struct ReadKey {
    key: RedisKey,
    raw: *mut raw::RedisModuleKey,
}

impl ReadKey {
    pub(crate) fn open(ctx: &Context, name: &RedisString) -> ReadKey {
        let raw = raw::open_key(ctx.ctx, name.inner, raw::KeyMode::READ);
        // SAFETY: `raw` was just opened in this command's context, which outlives
        // the RedisKey; the RedisKey owns it from here and closes it when dropped.
        let key = unsafe { RedisKey::from_raw_parts(ctx.ctx, raw) };
        ReadKey { key, raw }
    }

    /// The array at the key, `None` if the key is missing, `WRONGTYPE` for
    /// other types: for its metadata or for readers of [`NpArray::segments`].
    pub(crate) fn array(&self) -> Result<Option<&NpArray>, RedisError> {
        self.key
            .get_value::<NpArray>(&NP_TYPE)
            .map_err(|_| RedisError::WrongType)
    }

    /// [`ReadKey::array`] with its data in one piece, for readers of
    /// [`NpArray::data`]: a wrapped rolling buffer is made contiguous first,
    /// in place. Its value (dtype, shape, bytes) does not change, only where
    /// the bytes lie, so a read command may do this.
    pub(crate) fn contiguous_array(&mut self) -> Result<Option<&NpArray>, RedisError> {
        let Some(array) = self.array_mut()? else {
            return Ok(None);
        };
        array.make_contiguous()?;
        Ok(Some(array))
    }

    /// The array at the key, writable, for changes that leave its value as
    /// it was (where its bytes lie, a header written over bytes and put
    /// back). The exclusive borrow of `self` rules out any other reference to
    /// it obtained through this key.
    pub(crate) fn array_mut(&mut self) -> Result<Option<&mut NpArray>, RedisError> {
        if self.array()?.is_none() {
            return Ok(None);
        }
        // SAFETY: `self.raw` is open (its RedisKey is alive) and holds a value
        // of our type (`array` found one); the raw getter returns the pointer
        // to the `Box<NpArray>` the module gave Redis, with its full provenance.
        let value: *mut c_void = unsafe { raw::RedisModule_ModuleTypeGetValue.unwrap()(self.raw) };
        // SAFETY: the pointer is valid and aligned (a live Box). References to
        // the array are only handed out through `self` (`array`, this
        // function), so the exclusive borrow of `self` makes this one the
        // only one alive; no other thread reads values while a command runs
        // (see `commands::stored_run`). The borrow is bounded by `self`, so
        // the key stays open.
        Ok(Some(unsafe { &mut *value.cast::<NpArray>() }))
    }
}
