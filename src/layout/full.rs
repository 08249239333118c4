//! The layout of every array the packed layout does not take: decoded
//! metadata in a box of its own, and one buffer holding the data at a 64-byte
//! boundary, preceded by the `.npy` header when keeping it there is free.
//! Entries dropped from the front (NP.TRIM, MAXLEN) move the data on by whole
//! elements, so it stays aligned for the element type, which is all typed
//! views need (they are taken with `try_cast_slice`).
//!
//! With the header in the buffer, `NP.GET` replies straight from it: one copy,
//! like `GET`. When header + data would take a bigger allocator block than
//! the data alone by more than 1/16 of the data (always at `2^k` bytes: the
//! 128-byte header turns a `2^k` block into `1.25 × 2^k`), the buffer holds
//! the data at its exact size and `NP.GET` writes the header in front of a
//! copy of it.

use super::aligned::AlignedBuf;
use super::size_class;
use crate::dtype::Dtype;
use crate::error::Result;
use crate::npy;
use crate::shape::Shape;

#[derive(Debug)]
pub struct Full {
    pub dtype: Dtype,
    pub shape: Shape,
    pub fortran_order: bool,
    /// `header_len` bytes of `.npy` header (none if it is written on read), then the data.
    pub(super) buf: AlignedBuf,
    pub(super) header_len: usize,
    /// Dead bytes at the start of the buffer, left by dropped entries.
    pub(super) front: usize,
}

/// Whether to keep an `header_len`-byte header in front of `nbytes` of data.
pub fn keeps_header(header_len: usize, nbytes: usize) -> bool {
    nbytes < super::packed::MAX_BLOCK || size_class::extra_fits(header_len, nbytes)
}

impl Full {
    /// An empty value (no data yet) with room for `reserve` data bytes, the
    /// header written if [`keeps_header`] says so for `final_nbytes`.
    pub fn with_capacity(
        dtype: Dtype,
        shape: Shape,
        fortran_order: bool,
        final_nbytes: usize,
        reserve: usize,
    ) -> Result<Full> {
        let header = npy::write_header(&dtype, &shape, fortran_order);
        let header_len = if keeps_header(header.len(), final_nbytes) {
            header.len()
        } else {
            0
        };
        let mut buf = AlignedBuf::with_capacity(header_len + reserve)?;
        buf.extend_from_slice(&header[..header_len])?;
        Ok(Full {
            dtype,
            shape,
            fortran_order,
            buf,
            header_len,
            front: 0,
        })
    }

    /// Whether the buffer holds the `.npy` header in front of the data.
    pub fn keeps_header(&self) -> bool {
        self.header_len > 0
    }

    pub fn header_len(&self) -> usize {
        self.header_len
    }

    pub fn data(&self) -> &[u8] {
        &self.buf.as_slice()[self.front + self.header_len..]
    }

    pub fn data_mut(&mut self) -> &mut [u8] {
        let start = self.front + self.header_len;
        &mut self.buf.as_mut_slice()[start..]
    }

    /// The buffer's contents (dead prefix, kept header, data) and where the data starts in them.
    pub fn block_and_data_start_mut(&mut self) -> (&mut [u8], usize) {
        let start = self.front + self.header_len;
        (self.buf.as_mut_slice(), start)
    }

    /// Appends data bytes (within the capacity, or growing to fit exactly).
    pub fn push_data(&mut self, data: &[u8]) -> Result<()> {
        self.buf.extend_from_slice(data)
    }

    pub fn resize_data(&mut self, nbytes: usize) -> Result<()> {
        self.buf.resize_zeroed(self.front + self.header_len + nbytes)
    }

    /// Data bytes the buffer holds without growing (or compacting).
    pub fn data_capacity(&self) -> usize {
        self.buf.capacity() - self.header_len - self.front
    }

    pub fn reserve_data(&mut self, nbytes: usize) -> Result<()> {
        self.buf.reserve_total(self.front + self.header_len + nbytes)
    }

    /// Dead bytes in front of the live header and data.
    pub fn front(&self) -> usize {
        self.front
    }

    /// Drops `nbytes` of data from the front and relabels the rest with
    /// `shape`, in O(1) unless the dead prefix now outgrows the live data,
    /// when the live part moves to the start of the buffer. Returns false,
    /// changing nothing, if a kept header would change length.
    pub fn drop_front(&mut self, nbytes: usize, shape: &[u64]) -> bool {
        debug_assert!(nbytes <= self.data().len());
        if self.header_len > 0 {
            let header = npy::write_header(&self.dtype, shape, self.fortran_order);
            if header.len() != self.header_len {
                return false;
            }
            self.front += nbytes;
            let at = self.front;
            self.buf.as_mut_slice()[at..at + header.len()].copy_from_slice(&header);
        } else {
            self.front += nbytes;
        }
        self.shape = Shape::from_slice(shape);
        if self.front > self.data().len() {
            self.compact();
        }
        true
    }

    /// Moves the live header and data to the start of the buffer.
    pub fn compact(&mut self) {
        if self.front == 0 {
            return;
        }
        let live = self.buf.len() - self.front;
        self.buf.as_mut_slice().copy_within(self.front.., 0);
        self.buf.truncate(live);
        self.front = 0;
    }

    /// The whole `.npy` when the header is kept in front of the data.
    pub fn stored_npy(&self) -> Option<&[u8]> {
        (self.header_len > 0).then(|| &self.buf.as_slice()[self.front..])
    }

    /// Replaces the contents in the existing buffer if the new value keeps the
    /// same header arrangement and fits without much slack (at most 1/8 more
    /// than needed). Returns false, changing nothing, otherwise.
    pub fn overwrite(&mut self, dtype: &Dtype, shape: &Shape, fortran_order: bool, data: &[u8]) -> bool {
        let header = npy::write_header(dtype, shape, fortran_order);
        let header_len = if keeps_header(header.len(), data.len()) {
            header.len()
        } else {
            0
        };
        let needed = header_len + data.len();
        let capacity = self.buf.capacity();
        if (header_len == 0) != (self.header_len == 0) || needed > capacity || capacity - needed > needed / 8 {
            return false;
        }
        self.buf.clear();
        self.front = 0;
        for piece in [&header[..header_len], data] {
            self.buf.extend_from_slice(piece).expect("within the capacity");
        }
        self.dtype = dtype.clone();
        self.shape = shape.clone();
        self.fortran_order = fortran_order;
        self.header_len = header_len;
        true
    }

    /// Sets a new shape and order for the data (after it grew, or a reshape),
    /// rewriting a kept header in place. Returns false, changing nothing, if
    /// the header's length would change (the caller rebuilds).
    pub fn relabel(&mut self, shape: &[u64], fortran_order: bool) -> bool {
        if self.header_len > 0 {
            let header = npy::write_header(&self.dtype, shape, fortran_order);
            if header.len() != self.header_len {
                return false;
            }
            let at = self.front;
            self.buf.as_mut_slice()[at..at + header.len()].copy_from_slice(&header);
        }
        self.shape = Shape::from_slice(shape);
        self.fortran_order = fortran_order;
        true
    }

    /// The data buffer's block, for MEMORY USAGE.
    pub fn block(&self) -> (*const u8, usize) {
        self.buf.block()
    }

    /// The data buffer, for active defragmentation.
    pub(crate) fn buf_mut(&mut self) -> &mut AlignedBuf {
        &mut self.buf
    }
}
