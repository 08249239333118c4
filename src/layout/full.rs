//! The layout of every array the packed layout does not take: decoded
//! metadata in a box of its own, and one buffer holding the data at a 64-byte
//! boundary, preceded by the `.npy` header when keeping it there is free.
//!
//! With the header in the buffer, `NP.GET` replies straight from it: one copy,
//! like `GET`. When header + data would take a bigger allocator block than
//! the data alone by more than 1/16 of the data (always at `2^k` bytes: the
//! 128-byte header turns a `2^k` block into `1.25 × 2^k`), the buffer holds
//! the data at its exact size and `NP.GET` writes the header in front of a
//! copy of it.
//!
//! A rolling buffer (NP.TRIM, `NP.APPEND … MAXLEN`) is a ring. Entries dropped
//! from the front become dead bytes before the data (`front`); when an append
//! finds no room after the data but the dead prefix (with the header, which
//! is then dropped) can take it, it is written at the start of the buffer and
//! the data is in two segments:
//!
//! ```text
//! contiguous  [dead prefix | header | data ......... ] (room to capacity)
//! wrapped     [tail | free ... | head .............. ]
//!              0    wrapped    front                len
//! ```
//!
//! The head (older entries) runs from `front` to the buffer's length, the
//! tail (newer ones) from 0 to `wrapped`. Appends fill the free bytes, trims
//! advance `front`, and once the head is wholly dropped the tail is all the
//! data and the buffer is contiguous again. No byte is moved but the appended
//! ones. Entries are whole slabs along the growth axis, so both segments
//! start at entry boundaries and stay aligned for the element type.
//! [`Full::data`] refuses a wrapped buffer (a panic, which the module's guard
//! turns into an error reply); readers that take the data as one slice call
//! [`Full::make_contiguous`] first, the others use [`Full::segments`].

use std::ops::Range;

use super::aligned::AlignedBuf;
use super::size_class;
use crate::error::{NpyError, Result};
use crate::meta::Meta;
use crate::npy;

#[derive(Debug)]
pub struct Full {
    pub meta: Meta,
    /// Contiguous: `front` dead bytes, `header_len` bytes of `.npy` header
    /// (none if it is written on read), then the data. Wrapped: see the module doc.
    pub(super) buf: AlignedBuf,
    pub(super) header_len: usize,
    /// Dead bytes at the start of the buffer, left by dropped entries; where
    /// the head starts when wrapped.
    pub(super) front: usize,
    /// The tail's length when the data wraps around (0: contiguous). While
    /// it does, `header_len` is 0, `wrapped <= front` and the head is not empty.
    pub(super) wrapped: usize,
}

/// [`Full::data`]'s refusal of a wrapped buffer.
const WRAPPED: &str = "the data of a wrapped rolling buffer is in two segments (make it contiguous first)";

/// Whether to keep an `header_len`-byte header in front of `nbytes` of data.
pub fn keeps_header(header_len: usize, nbytes: usize) -> bool {
    nbytes < super::packed::MAX_BLOCK || size_class::extra_fits(header_len, nbytes)
}

fn no_memory(bytes: usize) -> NpyError {
    NpyError::append(format!("cannot allocate {bytes} bytes"))
}

impl Full {
    /// An empty value (no data yet) with room for `reserve` data bytes, the
    /// header written if [`keeps_header`] says so for `final_nbytes`.
    pub fn with_capacity(meta: Meta, final_nbytes: usize, reserve: usize) -> Result<Full> {
        let header = npy::write_header(&meta);
        let header_len = if keeps_header(header.len(), final_nbytes) {
            header.len()
        } else {
            0
        };
        let mut buf = AlignedBuf::with_capacity(header_len + reserve)?;
        buf.extend_from_slice(&header[..header_len])?;
        Ok(Full {
            meta,
            buf,
            header_len,
            front: 0,
            wrapped: 0,
        })
    }

    /// Whether the buffer holds the `.npy` header in front of the data.
    pub fn keeps_header(&self) -> bool {
        self.header_len > 0
    }

    pub fn header_len(&self) -> usize {
        self.header_len
    }

    /// Whether the data is in two segments (see the module doc).
    pub fn is_wrapped(&self) -> bool {
        self.wrapped > 0
    }

    /// The data's length, in one segment or two.
    pub fn data_len(&self) -> usize {
        self.buf.len() - self.front - self.header_len + self.wrapped
    }

    /// The data in order: the head, then the tail (empty unless wrapped).
    pub fn segments(&self) -> (&[u8], &[u8]) {
        let bytes = self.buf.as_slice();
        (&bytes[self.front + self.header_len..], &bytes[..self.wrapped])
    }

    /// The data as one slice. Panics if the buffer is wrapped: a reader that
    /// gets here must have made it contiguous (or use [`Full::segments`]).
    pub fn data(&self) -> &[u8] {
        assert!(!self.is_wrapped(), "{WRAPPED}");
        &self.buf.as_slice()[self.front + self.header_len..]
    }

    /// [`Full::data`], writable; panics the same way.
    pub fn data_mut(&mut self) -> &mut [u8] {
        assert!(!self.is_wrapped(), "{WRAPPED}");
        let start = self.front + self.header_len;
        &mut self.buf.as_mut_slice()[start..]
    }

    /// Puts a wrapped buffer's data back in one piece, in place, allocating
    /// nothing: the tail is copied after the head when the capacity has room
    /// for it (O(tail)), otherwise the buffer's used part is rotated
    /// (O(buffer)). The header stays written on read.
    pub fn make_contiguous(&mut self) {
        if !self.is_wrapped() {
            return;
        }
        let (len, tail) = (self.buf.len(), self.wrapped);
        if self.buf.capacity() - len >= tail {
            self.buf.extend_from_within(0..tail);
        } else {
            self.buf.as_mut_slice().rotate_left(self.front);
            self.buf.truncate(len - self.front + tail);
            self.front = 0;
        }
        self.wrapped = 0;
    }

    /// The buffer up to the end of the segment holding the data bytes `run`,
    /// and where `run` lies in it, so that a reply can write a header over
    /// the bytes before it for a moment; `None` when the run crosses the wrap.
    pub fn run_in_block_mut(&mut self, run: Range<usize>) -> Option<(&mut [u8], Range<usize>)> {
        let head = self.buf.len() - self.front - self.header_len;
        let start = self.front + self.header_len;
        if run.end <= head {
            Some((self.buf.as_mut_slice(), start + run.start..start + run.end))
        } else if run.start >= head {
            let tail = &mut self.buf.as_mut_slice()[..self.wrapped];
            Some((tail, run.start - head..run.end - head))
        } else {
            None
        }
    }

    /// Appends data bytes to a value being built (never wrapped), within the
    /// capacity or growing to fit exactly.
    pub fn push_data(&mut self, data: &[u8]) -> Result<()> {
        debug_assert!(!self.is_wrapped());
        self.buf.extend_from_slice(data)
    }

    pub fn resize_data(&mut self, nbytes: usize) -> Result<()> {
        debug_assert!(!self.is_wrapped());
        self.buf.resize_zeroed(self.front + self.header_len + nbytes)
    }

    /// Data bytes the buffer holds without growing (or compacting): when
    /// wrapped, the data and the free bytes between tail and head.
    pub fn data_capacity(&self) -> usize {
        if self.is_wrapped() {
            self.buf.len()
        } else {
            self.buf.capacity() - self.header_len - self.front
        }
    }

    pub fn reserve_data(&mut self, nbytes: usize) -> Result<()> {
        debug_assert!(!self.is_wrapped());
        self.buf.reserve_total(self.front + self.header_len + nbytes)
    }

    /// Makes room for `nbytes` of data without another allocation: a wrapped
    /// buffer is copied into a new one (segments in order), a contiguous one
    /// moves its data to the start of the buffer and grows. Nothing changes
    /// on error but where the data lies.
    pub fn reserve(&mut self, nbytes: usize) -> Result<()> {
        if nbytes <= self.data_capacity() {
            return Ok(());
        }
        if self.is_wrapped() {
            let meta = self.meta.clone();
            return self.regrow(nbytes, &[], &meta);
        }
        self.compact();
        self.reserve_data(nbytes)
    }

    /// Dead bytes in front of the live header and data (or of the head).
    pub fn front(&self) -> usize {
        self.front
    }

    /// Appends `data` (whole entries) and relabels the value with the grown
    /// `meta`, in amortised O(`data.len()`). Returns false, changing
    /// nothing, if a kept header would change length (the caller builds a new
    /// value). The bytes go, in order of preference:
    /// 1. after the data, within the capacity (or, wrapped, into the free
    ///    bytes between tail and head);
    /// 2. at the start of the buffer, wrapping it, when the dead prefix and
    ///    the header can take them;
    /// 3. after the data moved to the start of the buffer, if at least half
    ///    the data then fits again (so the next move comes only after that
    ///    much was appended);
    /// 4. in a buffer grown by at least half, the data copied over once.
    ///
    /// Everything that can fail happens before the value changes.
    pub fn append(&mut self, data: &[u8], meta: &Meta) -> Result<bool> {
        // The grown value's header, written once: checked here, put in place last.
        let header = self.keeps_header().then(|| npy::write_header(meta));
        if header.as_ref().is_some_and(|header| header.len() != self.header_len) {
            return Ok(false);
        }
        let n = data.len();
        let live = self.data_len();
        if self.is_wrapped() {
            if n > self.front - self.wrapped {
                let grown = (live + n).max(self.buf.capacity() + self.buf.capacity() / 2);
                self.regrow(grown, data, meta).map_err(|_| no_memory(grown))?;
                return Ok(true);
            }
            let at = self.wrapped;
            self.buf.as_mut_slice()[at..at + n].copy_from_slice(data);
            self.wrapped += n;
        } else if self.buf.len() + n <= self.buf.capacity() {
            self.buf.extend_from_slice(data)?;
        } else if live > 0 && n <= self.front + self.header_len {
            self.front += self.header_len;
            self.header_len = 0;
            self.buf.as_mut_slice()[..n].copy_from_slice(data);
            self.wrapped = n;
        } else {
            let total = live + n;
            let compacted = self.front > 0;
            self.compact();
            let room = self.data_capacity().saturating_sub(total);
            if total > self.data_capacity() || (compacted && room < total / 2) {
                let wanted = if compacted { total + total / 2 } else { total };
                let grown = wanted.max(self.data_capacity() + self.data_capacity() / 2);
                self.reserve_data(grown).map_err(|_| no_memory(grown))?;
            }
            self.buf
                .extend_from_slice(data)
                .expect("within the capacity just reserved");
        }
        // Still kept unless the append wrapped around over it.
        if let (Some(header), true) = (header, self.keeps_header()) {
            let at = self.front;
            self.buf.as_mut_slice()[at..at + header.len()].copy_from_slice(&header);
        }
        self.meta = meta.clone();
        Ok(true)
    }

    /// Replaces the buffer by one with room for `capacity` data bytes, holding
    /// the data (both segments, in order) followed by `extra`, labelled `meta`.
    fn regrow(&mut self, capacity: usize, extra: &[u8], meta: &Meta) -> Result<()> {
        let total = self.data_len() + extra.len();
        let mut grown = Full::with_capacity(meta.clone(), total, capacity.max(total))?;
        let (head, tail) = self.segments();
        for piece in [head, tail, extra] {
            grown
                .buf
                .extend_from_slice(piece)
                .expect("within the capacity just reserved");
        }
        *self = grown;
        Ok(())
    }

    /// Drops `nbytes` of data (whole entries) from the front and relabels
    /// the rest with `meta`, in O(1): the dropped bytes become dead ones,
    /// reused by later appends (see the module doc). Returns false, changing
    /// nothing, if a kept header would change length.
    pub fn drop_front(&mut self, nbytes: usize, meta: &Meta) -> bool {
        debug_assert!(nbytes <= self.data_len());
        if self.is_wrapped() {
            let head = self.buf.len() - self.front;
            if nbytes < head {
                self.front += nbytes;
            } else {
                // The head is gone: the tail is the data, in one piece again.
                self.front = nbytes - head;
                self.buf.truncate(self.wrapped);
                self.wrapped = 0;
            }
        } else if self.header_len > 0 {
            let header = npy::write_header(meta);
            if header.len() != self.header_len {
                return false;
            }
            self.front += nbytes;
            let at = self.front;
            self.buf.as_mut_slice()[at..at + header.len()].copy_from_slice(&header);
        } else {
            self.front += nbytes;
        }
        self.meta = meta.clone();
        true
    }

    /// Moves the live header and data to the start of the buffer (a wrapped
    /// buffer is made contiguous first).
    pub fn compact(&mut self) {
        self.make_contiguous();
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
    pub fn overwrite(&mut self, meta: &Meta, data: &[u8]) -> bool {
        let header = npy::write_header(meta);
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
        self.wrapped = 0;
        for piece in [&header[..header_len], data] {
            self.buf.extend_from_slice(piece).expect("within the capacity");
        }
        self.meta = meta.clone();
        self.header_len = header_len;
        true
    }

    /// Sets a new shape and order for the data (after it grew, or a reshape),
    /// rewriting a kept header in place. Returns false, changing nothing, if
    /// the header's length would change (the caller rebuilds).
    pub fn relabel(&mut self, meta: &Meta) -> bool {
        if self.header_len > 0 {
            let header = npy::write_header(meta);
            if header.len() != self.header_len {
                return false;
            }
            let at = self.front;
            self.buf.as_mut_slice()[at..at + header.len()].copy_from_slice(&header);
        }
        self.meta = meta.clone();
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
