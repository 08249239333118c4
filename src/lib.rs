//! redis-numpy: NumPy arrays as a native Redis data type.
//!
//! The pure layer (`pyliteral`, `dtype`, `shape`, `npy`, `array`, `rdb`,
//! `slice`, `convert`) knows nothing of Redis and is unit-tested and fuzzed on
//! its own. The `module` layer holds the commands and the only `unsafe` FFI
//! callbacks.

#[cfg(target_endian = "big")]
compile_error!("redis-numpy stores native-order data and supports little-endian hosts only");

pub mod array;
pub mod compute;
pub mod convert;
pub mod dtype;
pub mod error;
pub mod npy;
pub mod pyliteral;
pub mod rdb;
pub mod shape;
pub mod slice;

mod module;
#[cfg(test)]
mod proptests;

pub use array::NpArray;
pub use error::NpyError;
