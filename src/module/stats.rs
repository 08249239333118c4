//! Counters for the `INFO numpy` section. Values are counted where Redis gains
//! one (NP.SET, RDB load, COPY) and where it frees one (the `free` callback,
//! which may run on a lazy-free thread, hence atomics).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use redis_module::{InfoContext, RedisResult};
use redis_module_macros::info_command_handler;

use super::{config, guard};
use crate::array::NpArray;
use crate::dtype::GeneralKind;

struct Stats {
    arrays: AtomicU64,
    data_bytes: AtomicU64,
    by_kind: [AtomicU64; GeneralKind::ALL.len()],
    commands: AtomicU64,
    rejected_payloads: AtomicU64,
}

static STATS: Stats = Stats {
    arrays: AtomicU64::new(0),
    data_bytes: AtomicU64::new(0),
    by_kind: [const { AtomicU64::new(0) }; GeneralKind::ALL.len()],
    commands: AtomicU64::new(0),
    rejected_payloads: AtomicU64::new(0),
};

fn kind_counter(array: &NpArray) -> &'static AtomicU64 {
    counter_of_kind(array.dtype().general_kind())
}

fn counter_of_kind(kind: GeneralKind) -> &'static AtomicU64 {
    &STATS.by_kind[kind as usize]
}

pub fn added(array: &NpArray) {
    STATS.arrays.fetch_add(1, Relaxed);
    STATS.data_bytes.fetch_add(array.nbytes(), Relaxed);
    kind_counter(array).fetch_add(1, Relaxed);
}

pub fn removed(array: &NpArray) {
    STATS.arrays.fetch_sub(1, Relaxed);
    STATS.data_bytes.fetch_sub(array.nbytes(), Relaxed);
    kind_counter(array).fetch_sub(1, Relaxed);
}

/// What an array adds to the counters, taken before it is overwritten in place.
pub struct Counted {
    kind: GeneralKind,
    nbytes: u64,
}

impl Counted {
    pub fn of(array: &NpArray) -> Counted {
        Counted {
            kind: array.dtype().general_kind(),
            nbytes: array.nbytes(),
        }
    }
}

/// An array was overwritten in place (NP.SET reusing its buffer).
pub fn replaced(old: Counted, new: &NpArray) {
    resized(old.nbytes, new.nbytes());
    counter_of_kind(old.kind).fetch_sub(1, Relaxed);
    kind_counter(new).fetch_add(1, Relaxed);
}

/// An array changed size in place (NP.APPEND).
pub fn resized(old_nbytes: u64, new_nbytes: u64) {
    STATS.data_bytes.fetch_add(new_nbytes.wrapping_sub(old_nbytes), Relaxed);
}

pub fn command() {
    STATS.commands.fetch_add(1, Relaxed);
}

pub fn rejected_payload() {
    STATS.rejected_payloads.fetch_add(1, Relaxed);
}

/// The `INFO numpy` section; like every entry point, guarded against panics.
#[info_command_handler]
fn info(ctx: &InfoContext, _for_crash_report: bool) -> RedisResult<()> {
    guard::callback(Ok(()), || {
        let get = |c: &AtomicU64| c.load(Relaxed) as i64;
        let mut section = ctx
            .builder()
            .add_section("stats")
            .field("arrays", get(&STATS.arrays))?
            .field("data_bytes", get(&STATS.data_bytes))?;
        for (kind, counter) in GeneralKind::ALL.iter().zip(&STATS.by_kind) {
            section = section.field(&format!("arrays_{}", kind.name()), get(counter))?;
        }
        section
            .field("commands", get(&STATS.commands))?
            .field("rejected_payloads", get(&STATS.rejected_payloads))?
            .field("max_array_bytes", config::max_array_bytes() as i64)?
            .field("simd_bits", crate::compute::simd::chosen().bits())?
            .build_section()?
            .build_info()?;
        Ok(())
    })
}
