//! redis-numpy: NumPy arrays as a native Redis data type.
//!
//! The pure layer (`pyliteral`, `dtype`, `shape`, `npy`, `array` and its
//! `layout`s, `rdb`, `slice`, `convert`, `compute`, command `options`) knows nothing of Redis and
//! is unit-tested and fuzzed on its own. The `module` layer is the Redis glue:
//! commands, type callbacks, configuration, and the only `unsafe` code.

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

#[cfg(target_endian = "big")]
compile_error!("redis-numpy stores native-order data and supports little-endian hosts only");

pub mod array;
pub mod compute;
pub mod convert;
pub mod dtype;
pub mod error;
pub mod layout;
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
