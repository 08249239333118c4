//! A byte buffer whose contents start at a multiple of [`ARRAY_ALIGN`],
//! whatever alignment the allocator gives.
//!
//! Typed views of the data need only the element's alignment (16 bytes
//! covers every dtype), but large arrays keep NumPy's 64-byte alignment for
//! vectorised loops. jemalloc serves a request that is a multiple of 64 bytes
//! from a 64-byte-aligned block; that is a fact of jemalloc, not a promise of
//! `RedisModule_Alloc` (servers built with libc malloc give 16). So the buffer
//! is a plain `Vec<u8>`, which asks the allocator for no alignment at all,
//! its requests are rounded to multiples of 64, and the data starts `offset`
//! bytes in: 0 on jemalloc, up to 63 elsewhere. The offset is checked after
//! every allocation and after the allocator moves the block (active defrag).

use crate::error::{NpyError, Result};
use crate::npy::ARRAY_ALIGN;

/// Not `Clone`: a copy must be allocated and aligned anew (see `NpArray::clone`).
#[derive(Debug, Default)]
pub struct AlignedBuf {
    /// `offset` bytes of padding, then the contents.
    bytes: Vec<u8>,
    offset: usize,
}

fn no_memory(bytes: usize) -> NpyError {
    NpyError::NoMemory(bytes as u64)
}

impl AlignedBuf {
    /// An empty buffer with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Result<AlignedBuf> {
        let mut buf = AlignedBuf::default();
        buf.reserve_total(capacity)?;
        Ok(buf)
    }

    pub fn len(&self) -> usize {
        self.bytes.len() - self.offset
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes the contents can grow to without reallocating.
    pub fn capacity(&self) -> usize {
        self.bytes.capacity().saturating_sub(self.offset)
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[self.offset..]
    }

    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.bytes[self.offset..]
    }

    /// Shortens the contents to `len` bytes (the capacity stays).
    pub fn truncate(&mut self, len: usize) {
        self.bytes.truncate(self.offset + len);
    }

    pub fn clear(&mut self) {
        self.bytes.truncate(self.offset);
    }

    /// Appends within the capacity, or grows to exactly what is needed.
    pub fn extend_from_slice(&mut self, data: &[u8]) -> Result<()> {
        self.reserve_total(self.len() + data.len())?;
        self.bytes.extend_from_slice(data);
        Ok(())
    }

    /// Appends a copy of the contents' bytes `range`, within the capacity.
    pub fn extend_from_within(&mut self, range: std::ops::Range<usize>) {
        assert!(self.len() + range.len() <= self.capacity(), "within the capacity");
        let offset = self.offset;
        self.bytes.extend_from_within(offset + range.start..offset + range.end);
    }

    /// Grows the contents to `len` bytes, new bytes zero.
    pub fn resize_zeroed(&mut self, len: usize) -> Result<()> {
        self.reserve_total(len)?;
        self.bytes.resize(self.offset + len, 0);
        Ok(())
    }

    /// Makes the capacity at least `total` bytes (requests are whole multiples of 64).
    pub fn reserve_total(&mut self, total: usize) -> Result<()> {
        if self.capacity() >= total {
            return Ok(());
        }
        let want = (self.offset + total).next_multiple_of(ARRAY_ALIGN);
        self.bytes
            .try_reserve_exact(want - self.bytes.len())
            .map_err(|_| no_memory(want))?;
        self.realign()?;
        if self.capacity() < total {
            // The block moved to an address needing a larger offset (never on
            // jemalloc): ask once more with room for any offset.
            let want = (total + ARRAY_ALIGN).next_multiple_of(ARRAY_ALIGN);
            self.bytes
                .try_reserve_exact(want - self.bytes.len())
                .map_err(|_| no_memory(want))?;
            self.realign()?;
        }
        debug_assert!(self.capacity() >= total);
        Ok(())
    }

    /// The allocator's block and its requested size, for MEMORY USAGE.
    pub fn block(&self) -> (*const u8, usize) {
        (self.bytes.as_ptr(), self.bytes.capacity())
    }

    /// The block itself, for active defragmentation, which moves it; call
    /// [`AlignedBuf::realign`] afterwards.
    pub(crate) fn block_mut(&mut self) -> &mut Vec<u8> {
        &mut self.bytes
    }

    /// Moves the contents to the first 64-byte boundary of the block, if the
    /// block moved to an address with another remainder. Never needed on
    /// jemalloc, whose blocks of these sizes are all 64-byte aligned.
    pub fn realign(&mut self) -> Result<()> {
        loop {
            let offset = self.bytes.as_ptr().align_offset(ARRAY_ALIGN);
            if offset == self.offset || self.bytes.capacity() == 0 {
                return Ok(());
            }
            let len = self.len();
            if self.bytes.capacity() < offset + len {
                // Room for any offset, so the next round ends.
                let want = len + self.offset + 2 * ARRAY_ALIGN;
                self.bytes
                    .try_reserve_exact(want - self.bytes.len())
                    .map_err(|_| no_memory(want))?;
                continue;
            }
            let old = self.offset;
            if offset > old {
                self.bytes.resize(offset + len, 0);
                self.bytes.copy_within(old..old + len, offset);
            } else {
                self.bytes.copy_within(old..old + len, offset);
                self.bytes.truncate(offset + len);
            }
            self.offset = offset;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contents_stay_aligned_through_growth() {
        let mut buf = AlignedBuf::with_capacity(10).unwrap();
        let mut expected = Vec::new();
        for i in 0..2000u32 {
            let piece = i.to_le_bytes();
            buf.extend_from_slice(&piece).unwrap();
            expected.extend_from_slice(&piece);
            assert_eq!(buf.as_slice().as_ptr() as usize % ARRAY_ALIGN, 0);
        }
        assert_eq!(buf.as_slice(), &expected[..]);
        buf.clear();
        assert!(buf.is_empty());
    }

    #[test]
    fn realign_moves_contents_to_the_boundary() {
        // A block the allocator moved: the contents sit at a misaligned offset.
        let mut bytes = Vec::with_capacity(300);
        let offset = (1..ARRAY_ALIGN)
            .find(|&o| !(bytes.as_ptr() as usize + o).is_multiple_of(ARRAY_ALIGN))
            .unwrap();
        bytes.resize(offset, 0);
        bytes.extend_from_slice(&[7; 100]);
        let mut buf = AlignedBuf { bytes, offset };
        buf.realign().unwrap();
        assert_eq!(buf.as_slice(), &[7; 100][..]);
        assert_eq!(buf.as_slice().as_ptr() as usize % ARRAY_ALIGN, 0);
    }
}
