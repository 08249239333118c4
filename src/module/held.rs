//! A command argument kept as an adopted array's bytes
//! ([`crate::layout::adopted`]): `NP.SET` of a large, canonical `.npy` keeps
//! the string Redis read it into instead of copying it, as `SET` does.
//!
//! Redis hands a bulk argument of 32 KiB or more over as the query buffer
//! itself (a raw string object that owns it); `RM_HoldString` takes a
//! reference to that object, so it lives past the command. Why this is sound:
//! - Nobody writes to the bytes. Redis never changes a string object in place
//!   while it has more than one reference (it copies first), and Redis's own
//!   reference ends with the command, after the argument was propagated:
//!   replication and the AOF copy the bytes into their buffers during the
//!   command's propagation. The array never writes to them either: the
//!   adopted layout is read-only (every change moves it to a buffer of its own).
//! - The pointer is asked for (`RM_StringPtrLen`) on every access, never kept:
//!   when a module command returns, Redis itself trims the buffer of every
//!   argument the module kept (`trimStringObjectIfNeeded`), which may move it.
//!   Trimming here first, before the payload is parsed, makes that a no-op.
//! - Active defragmentation may move the string object and its buffer
//!   (`RM_DefragRedisModuleString`, see [`defrag`]); Redis does so only for a
//!   string whose one reference is this module's, and the new address
//!   replaces the held one in the same callback.
//! - The reference is dropped with `RM_FreeString` on the main thread only.
//!   Redis frees a value in a background thread when its free effort is above
//!   its lazy-free threshold (never so for these, see `value_type::effort`)
//!   and on `FLUSHALL ASYNC`/`FLUSHDB ASYNC`, which free whole databases
//!   there. Touching a string's reference count off the main thread could race
//!   with Redis (or another module) touching it, so such a release is queued
//!   and done on the main thread, at the next cron tick or command.

use std::cell::Cell;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use redis_module::defrag::DefragContext;
use redis_module::{raw, Context, RedisString};

use crate::layout::adopted::Owner;

thread_local! {
    /// Set on Redis's main thread when the module loads.
    static MAIN_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// Strings dropped off the main thread, to release there (their addresses).
static DEFERRED: Mutex<Vec<usize>> = Mutex::new(Vec::new());
static ANY_DEFERRED: AtomicBool = AtomicBool::new(false);

/// Called once from the module's load, which runs on the main thread.
pub fn mark_main_thread() {
    MAIN_THREAD.with(|main| main.set(true));
}

/// A reference to a Redis string, held until dropped.
pub struct HeldString {
    string: NonNull<raw::RedisModuleString>,
}

impl HeldString {
    /// Holds `arg`, an argument of the running command, past the command.
    /// Its unused allocation (if Redis's query buffer had slack) is trimmed
    /// first, so must be called before any view of its bytes is taken.
    pub fn hold(arg: &RedisString) -> Option<HeldString> {
        // SAFETY: the API table is written once by RedisModule_Init, before any command runs.
        let (hold, trim) = unsafe { (raw::RedisModule_HoldString?, raw::RedisModule_TrimStringAllocation?) };
        // SAFETY: `arg.inner` is a live argument of the running command, on
        // the main thread with the GIL held. With a null context the reference
        // is not put under automatic memory management: it is ours until
        // `RM_FreeString`. A string on the stack (static reference count) is
        // copied instead, which is just as good.
        let held = unsafe { hold(ptr::null_mut(), arg.inner) };
        let string = NonNull::new(held)?;
        // SAFETY: a live string; the caller holds no view of its bytes yet, and
        // Redis's argument vector refers to the object, not to its buffer, so
        // a reallocated buffer is what it sees too.
        unsafe { trim(string.as_ptr()) };
        Some(HeldString { string })
    }

    /// Releases the strings dropped off the main thread. Main thread only.
    pub fn release_deferred() {
        if !ANY_DEFERRED.load(Ordering::Acquire) {
            return;
        }
        let strings = std::mem::take(&mut *DEFERRED.lock().unwrap_or_else(|e| e.into_inner()));
        ANY_DEFERRED.store(false, Ordering::Release);
        for address in strings {
            release(address as *mut raw::RedisModuleString);
        }
    }
}

fn release(string: *mut raw::RedisModuleString) {
    // SAFETY: the API table is written once by RedisModule_Init, before any command runs.
    if let Some(free) = unsafe { raw::RedisModule_FreeString } {
        // SAFETY: `string` is a reference this module holds (from `hold`),
        // released exactly once, on the main thread.
        unsafe { free(ptr::null_mut(), string) };
    }
}

/// Active defragmentation of an adopted value's owner, on the main thread
/// during the type's defrag callback (`ctx` is its context): moves the box
/// holding the reference, then lets Redis move the string object and its
/// buffer. Owners of other kinds are left where they are.
pub fn defrag(defrag: &DefragContext, ctx: *mut raw::RedisModuleDefragCtx, owner: &mut Box<dyn Owner>) {
    let Some(held) = owner.as_any_mut().downcast_mut::<HeldString>() else {
        return;
    };
    let old: *mut HeldString = held;
    // SAFETY: `old` is the box's allocation (RedisModule_Alloc, through the
    // global allocator, unchanged at this alignment); nothing else refers to
    // it during the callback.
    let moved = unsafe { defrag.defrag_realloc(old) };
    if moved != old {
        // SAFETY: DefragAlloc copied the `HeldString` to `moved` and freed `old`.
        let fresh: Box<dyn Owner> = unsafe { Box::from_raw(moved) };
        std::mem::forget(std::mem::replace(owner, fresh)); // `old` is already freed
    }
    let Some(held) = owner.as_any_mut().downcast_mut::<HeldString>() else {
        return;
    };
    // SAFETY: the API table is written once by RedisModule_Init, before any callback runs.
    let Some(defrag_string) = (unsafe { raw::RedisModule_DefragRedisModuleString }) else {
        return;
    };
    // SAFETY: `ctx` is the live defrag context of this callback and
    // `held.string` a live string this module holds a reference to. Redis
    // moves it only if that reference is its only one (refcount 1, checked by
    // Redis), so no other holder keeps the old address; it returns the moved
    // object, or null when the object stayed (its buffer may have moved
    // anyway: the bytes are asked for on every access, never kept).
    let string = unsafe { defrag_string(ctx, held.string.as_ptr()) };
    if let Some(string) = NonNull::new(string) {
        held.string = string;
    }
}

impl Owner for HeldString {
    fn bytes(&self) -> &[u8] {
        let mut len = 0;
        // SAFETY: the held string is alive while `self` is; `RM_StringPtrLen`
        // only reads it.
        let data = unsafe { raw::RedisModule_StringPtrLen.expect("module API")(self.string.as_ptr(), &mut len) };
        if data.is_null() || len == 0 {
            return &[];
        }
        // SAFETY: a raw string's `len` bytes at `data`, alive while the
        // reference is held (until `self` drops, which needs `&mut self` and
        // so outlives this borrow), and never written meanwhile (module doc).
        unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) }
    }

    fn allocated(&self) -> usize {
        // SAFETY: the API table is written once by RedisModule_Init.
        match unsafe { raw::RedisModule_MallocSizeString } {
            // SAFETY: a live string object; the call only reads its sizes.
            Some(size) => unsafe { size(self.string.as_ptr()) },
            None => self.bytes().len(),
        }
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}

impl Drop for HeldString {
    fn drop(&mut self) {
        if MAIN_THREAD.with(Cell::get) {
            release(self.string.as_ptr());
        } else {
            DEFERRED
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(self.string.as_ptr() as usize);
            ANY_DEFERRED.store(true, Ordering::Release);
        }
    }
}

/// Releases what a background free left, every cron tick (10 a second by default).
#[redis_module_macros::cron_event_handler]
fn release_deferred_on_cron(_ctx: &Context, _hz: u64) {
    super::guard::callback((), HeldString::release_deferred);
}
