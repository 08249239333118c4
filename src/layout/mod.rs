//! How a stored array sits in memory. [`crate::array::NpArray`] is the face
//! the rest of the crate sees; these are its layouts:
//!
//! - [`packed`]: small arrays of the numeric dtypes, metadata and data in one
//!   block, the `.npy` header written on read;
//! - [`full`]: everything else, decoded metadata in a box and the data in a
//!   64-byte-aligned buffer, with the header in front of it when that costs
//!   no bigger allocator block;
//! - [`adopted`]: a large array left in a buffer someone else owns (the
//!   command argument Redis read), read-only, moved to `full` on first change;
//!
//! and their parts: [`aligned`] (the buffer), [`size_class`] (the allocator
//! model that decides where the header goes) and [`header_cache`] (recently
//! parsed headers, so a stream of same-shaped writes skips the parser).
//! docs/design/layouts.md describes the trade-offs with numbers.

pub mod adopted;
pub mod aligned;
pub mod full;
pub mod header_cache;
pub mod packed;
pub mod size_class;
