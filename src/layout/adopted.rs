//! The adopted layout: a large array whose whole `.npy` (canonical header,
//! then data) stays in a buffer the array does not own, such as the command
//! argument Redis read it into, kept alive by an [`Owner`] the caller gives.
//!
//! The layout is read-only. Its bytes may be shared with others (Redis
//! propagates the very argument to replicas and the AOF after the command),
//! so nothing here ever writes to them: every change first moves the value
//! to an owned, 64-byte-aligned buffer (`NpArray` does this, once). The data
//! is not aligned for typed access (a Redis string's bytes start 9 or 17
//! bytes past its block), so typed readers move it too; byte-wise readers
//! (`NP.GET`, slices, RDB, AOF, digest, `COPY`) read it where it is.
//!
//! This module knows nothing of Redis: the owner is an opaque trait object
//! whose `Drop` releases the bytes.

use std::any::Any;
use std::fmt;

use crate::meta::Meta;

/// Bytes kept alive by someone else's allocation, released when dropped.
///
/// Contract: `bytes` returns the same contents on every call while the owner
/// lives, and nobody writes to them meanwhile.
pub trait Owner {
    /// The whole `.npy`: header, then data.
    fn bytes(&self) -> &[u8];
    /// Bytes the allocation holding them occupies (MEMORY USAGE).
    fn allocated(&self) -> usize;
    /// The owner as its own type, for the glue's active defragmentation,
    /// which moves the allocations of the owners it knows.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

pub struct Adopted {
    pub meta: Meta,
    header_len: usize,
    /// The data's length, known without asking the owner: the `free`
    /// callback may run on a background thread, which must not touch it.
    nbytes: usize,
    owner: Box<dyn Owner>,
}

impl fmt::Debug for Adopted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Adopted")
            .field("meta", &self.meta)
            .field("header_len", &self.header_len)
            .field("nbytes", &self.nbytes)
            .finish()
    }
}

impl Adopted {
    /// Takes `owner`'s bytes as the value when they hold `nbytes` of data
    /// after a header of `header_len` bytes, which the caller compared with
    /// the one np.save writes for `meta`. Gives the owner back otherwise.
    pub fn new(meta: Meta, header_len: usize, nbytes: usize, owner: Box<dyn Owner>) -> Result<Adopted, Box<dyn Owner>> {
        if owner.bytes().len() != header_len + nbytes {
            return Err(owner);
        }
        Ok(Adopted {
            meta,
            header_len,
            nbytes,
            owner,
        })
    }

    /// The whole `.npy`, as np.save writes it.
    pub fn npy(&self) -> &[u8] {
        self.owner.bytes()
    }

    pub fn nbytes(&self) -> usize {
        self.nbytes
    }

    /// The data bytes (not aligned).
    pub fn data(&self) -> &[u8] {
        &self.owner.bytes()[self.header_len..]
    }

    pub fn allocated(&self) -> usize {
        self.owner.allocated()
    }

    /// The owner, for active defragmentation: it may move its own box and
    /// what it refers to, but must keep the same bytes.
    pub fn owner_mut(&mut self) -> &mut Box<dyn Owner> {
        &mut self.owner
    }
}
