//! redis-numpy: NumPy arrays as a native Redis data type.
//!
//! The pure layer (`pyliteral`, `dtype`, `shape`, `meta`, `npy`, `array` and its
//! `layout`s, `rdb`, `slice`, `convert`, `compute`, command `options`,
//! `get_plan`) knows
//! nothing of Redis and is unit-tested and fuzzed on its own. The `module`
//! layer is the Redis glue: commands, type callbacks, configuration.
//!
//! Where `unsafe` lives (this list is the only one; each operation has its
//! own block with the reason it is sound):
//! - `compute::simd` (with `dot8`, `rowsums`, `popcnt`): running the kernels
//!   in functions compiled for AVX2 or AVX-512, and the intrinsics of the
//!   search kernels, once the CPU is known to have them (the pure layer's
//!   only unsafe);
//! - `module::alloc`: the global allocator (Redis's, with alignment honoured);
//! - `module::value_type`: the data type's callbacks (RDB, AOF, digest,
//!   defrag, free, copy, memory usage);
//! - `module::entry`: the lean command entries that read `argv` in place;
//! - `module::held`: a command argument held as an adopted array's bytes
//!   (`RM_HoldString`, `RM_StringPtrLen`, `RM_FreeString`, its defrag);
//! - `module::memory`: `INFO memory` fields read as numbers;
//! - `module::write_key`, `module::read_key`: the value behind an open key,
//!   handed out through `&mut self` only;
//! - `module::commands` (`mod.rs`, `expire.rs`), `module::guard`,
//!   `module::prefetch`, `module::command_docs`: calls into the module API
//!   the redis-module crate does not wrap (replies from a buffer, keyspace
//!   events, expiry, logging, prefetching, command info).

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

#[cfg(target_endian = "big")]
compile_error!("redis-numpy stores native-order data and supports little-endian hosts only");

pub mod array;
pub mod compute;
pub mod convert;
pub mod dtype;
pub mod error;
pub mod get_plan;
pub mod layout;
pub mod meta;
pub mod npy;
pub mod options;
pub mod pyliteral;
pub mod rdb;
pub mod search;
pub mod shape;
pub mod slice;

mod module;
#[cfg(test)]
mod proptests;

pub use array::NpArray;
pub use error::NpyError;
