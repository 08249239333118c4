//! A key opened for writing, through the module API directly: every command
//! that changes or creates an array goes through it.
//!
//! redis-module's `RedisKeyWritable` can only put a value with
//! `RM_ModuleTypeSetValue`, which over an existing key deletes it and adds it
//! again (two dictionary operations, a new key name, value wrapper and
//! object; docs/benchmarks.md has the count). `RM_ModuleTypeReplaceValue` swaps the
//! value under the key instead, which is what an overwrite that cannot reuse
//! the old buffer needs; the wrapper exposes no handle to call it with.

use std::ffi::c_void;
use std::ptr;

use redis_module::{raw, Context, RedisError, RedisString};

use crate::array::NpArray;
use crate::module::stats;
use crate::module::value_type::{self, NP_TYPE};

/// A key open for reading and writing, closed on drop.
pub(crate) struct WriteKey {
    key: *mut raw::RedisModuleKey,
}

impl WriteKey {
    pub(crate) fn open(ctx: &Context, name: &RedisString) -> Self {
        let mode = (raw::REDISMODULE_READ | raw::REDISMODULE_WRITE) as i32;
        // SAFETY: `ctx` and `name` are this command's live context and argument.
        let key = unsafe { raw::RedisModule_OpenKey.expect("module API")(ctx.ctx, name.inner, mode) };
        WriteKey { key: key.cast() }
    }

    pub(crate) fn is_empty(&self) -> bool {
        // SAFETY: `self.key` is an open key handle.
        let kind = unsafe { raw::RedisModule_KeyType.expect("module API")(self.key) };
        kind == raw::REDISMODULE_KEYTYPE_EMPTY as i32
    }

    /// The bytes of the string at the key, `None` if it is missing,
    /// `WRONGTYPE` for other types (arrays included). They are Redis's and
    /// live while the key is open and unchanged, which the borrow of `self` bounds.
    pub(crate) fn string_bytes(&self) -> Result<Option<&[u8]>, RedisError> {
        if self.is_empty() {
            return Ok(None);
        }
        // SAFETY: `self.key` is an open key handle.
        let kind = unsafe { raw::RedisModule_KeyType.expect("module API")(self.key) };
        if kind != raw::REDISMODULE_KEYTYPE_STRING as i32 {
            return Err(RedisError::WrongType);
        }
        let mut len: usize = 0;
        // SAFETY: the key is open and holds a string; READ access does not
        // change its contents (an integer-encoded string is decoded first).
        let ptr = unsafe {
            raw::RedisModule_StringDMA.expect("module API")(self.key, &mut len, raw::REDISMODULE_READ as i32)
        };
        if ptr.is_null() {
            return Err(RedisError::WrongType);
        }
        // SAFETY: Redis returned `len` readable bytes at `ptr`, owned by the
        // value, which nothing changes while this command holds the key.
        Ok(Some(unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) }))
    }

    /// The array at the key, `None` if it is missing, `WRONGTYPE` for other
    /// types. The value is Redis's, behind the handle; the exclusive borrow of
    /// `self` makes the result the only reference to it handed out.
    pub(crate) fn array_mut(&mut self) -> Result<Option<&mut NpArray>, RedisError> {
        if self.is_empty() {
            return Ok(None);
        }
        // SAFETY: `self.key` is an open key handle holding a value.
        let kind = unsafe { raw::RedisModule_ModuleTypeGetType.expect("module API")(self.key) };
        if kind != *NP_TYPE.raw_type.borrow() {
            return Err(RedisError::WrongType);
        }
        // SAFETY: the key holds a value of this module's type, which is a
        // `Box<NpArray>` (see value_type); it lives while the key is open and
        // unchanged, which the exclusive borrow of `self` bounds.
        let value = unsafe { raw::RedisModule_ModuleTypeGetValue.expect("module API")(self.key) };
        // SAFETY: as above: a live, boxed NpArray that only this command
        // touches, and only through this borrow (every reference to it comes
        // from `&mut self`).
        Ok(Some(unsafe { &mut *value.cast::<NpArray>() }))
    }

    /// Makes `array` the key's value, counted in the statistics. Over an
    /// array that Redis would free at once anyway (see
    /// `value_type::freed_inline`) the value is swapped under the key and the
    /// old one dropped here; otherwise (an empty key, or an old array big
    /// enough for lazy free) the key is set anew, and Redis frees the old
    /// value as it frees deleted ones. Either way the key has no TTL after.
    /// Only under `guard::commit`: the key's type was checked.
    pub(crate) fn store(&mut self, array: NpArray) {
        stats::added(&array);
        let new = Box::into_raw(Box::new(array)).cast::<c_void>();
        let swap = matches!(self.array_mut(), Ok(Some(old)) if value_type::freed_inline(old));
        if swap {
            let mut old: *mut c_void = ptr::null_mut();
            // SAFETY: the key is open for writing and holds a value of this
            // module's type; `new` is a boxed NpArray that Redis now owns.
            let status = unsafe {
                raw::RedisModule_ModuleTypeReplaceValue.expect("module API")(
                    self.key,
                    *NP_TYPE.raw_type.borrow(),
                    new,
                    &mut old,
                )
            };
            assert_eq!(
                status,
                raw::REDISMODULE_OK as i32,
                "replacing an array under an open key"
            );
            // SAFETY: Redis handed back the value it held, a `Box<NpArray>`
            // it no longer refers to.
            let old = unsafe { Box::from_raw(old.cast::<NpArray>()) };
            stats::removed(&old);
            drop(old);
            self.remove_expire();
        } else {
            // SAFETY: the key is open for writing and is empty or holds a
            // value of this module's type; `new` is a boxed NpArray that Redis
            // now owns (and frees through the type's `free`).
            let status = unsafe {
                raw::RedisModule_ModuleTypeSetValue.expect("module API")(self.key, *NP_TYPE.raw_type.borrow(), new)
            };
            assert_eq!(status, raw::REDISMODULE_OK as i32, "setting an array under an open key");
        }
    }

    /// Removes the key's TTL, if it has one (the key holds a value). Asked
    /// first: removing looks the key up again even when there is nothing to remove.
    pub(crate) fn remove_expire(&self) {
        let none = raw::REDISMODULE_NO_EXPIRE.into();
        // SAFETY: `self.key` is an open key handle.
        if unsafe { raw::RedisModule_GetExpire.expect("module API")(self.key) } != none {
            // SAFETY: `self.key` is an open key handle holding a value.
            unsafe { raw::RedisModule_SetExpire.expect("module API")(self.key, none) };
        }
    }
}

impl Drop for WriteKey {
    fn drop(&mut self) {
        // SAFETY: `self.key` was opened by `open` and is closed once, here.
        unsafe { raw::RedisModule_CloseKey.expect("module API")(self.key) };
    }
}
