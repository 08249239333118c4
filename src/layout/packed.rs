//! The layout of small arrays of the numeric dtypes: metadata and data in one
//! allocation, and the `.npy` header between them when it costs no bigger
//! allocator block (then NP.GET and NP.MGET reply straight from the block;
//! otherwise the header is written again on read, from the cache of recently
//! written ones).
//!
//! ```text
//! u64 word 0     dtype slot (u8), ndim (u8), flags (u8, bit 0 = Fortran order),
//!                kept header length / 64 (u8, 0 = none), tail padding (u8), 0…
//! u64 words 1..  the shape, one native-endian u64 per axis
//! zero padding   to the next multiple of 16 bytes
//! header         the header np.save writes for this dtype, shape and order, if kept
//!                (a multiple of 64 bytes, so the data stays 16-byte aligned)
//! data           nbytes
//! tail padding   0 to 15 zero bytes, to the end of the allocation
//! ```
//!
//! A float32[384] takes 16 + 128 + 1536 = 1680 bytes with its header, in the
//! same 1792-byte size class as the 1552 bytes without it, so it keeps the
//! header; a float32[16] (16 + 64 = 80 bytes, 208 with the header) does not.
//! A float32[16] is one 80-byte block (16 + 64), against 192 bytes for the
//! header + data buffer and about 130 bytes of decoded metadata it would take
//! in the full layout. The dtype is one of [`SIMPLE_DTYPES`], so `dtype()`
//! can still hand out a `&Dtype`. The block must start at a 16-byte boundary.
//! jemalloc places a block at a multiple of its size class, and Redis 8 builds
//! it with 8-byte classes (24, 40, 56 bytes): with jemalloc's classes the
//! block's length is padded to a multiple of 16 (the tail padding, 0 to 15
//! bytes, which costs nothing where the classes are 16 bytes apart, as on
//! Redis 7), so that every block is aligned. [`Packed::new`] still checks the
//! address and the caller falls back to the full layout if it is not.

use super::{header_cache, size_class};
use crate::dtype::{ByteOrder, Dtype, Kind};
use crate::meta::{Meta, Order};
use crate::shape::{self, Shape};

/// Largest block the packed layout is used for. Below 4 KiB, MEMORY USAGE
/// has no size-class ratio to keep, and NP.GET's extra copy is negligible.
pub const MAX_BLOCK: usize = 4096;
/// The data's alignment: enough for every dtype's typed view.
pub const DATA_ALIGN: usize = 16;

const FLAG_FORTRAN: u8 = 1;

macro_rules! simple_dtypes {
    ($($kind:ident),* $(,)?) => {
        /// The dtypes the packed layout can hold, each in the three byte orders.
        static SIMPLE_DTYPES: &[Dtype] = &[$(
            Dtype { kind: Kind::$kind, order: ByteOrder::Little },
            Dtype { kind: Kind::$kind, order: ByteOrder::Big },
            Dtype { kind: Kind::$kind, order: ByteOrder::NotApplicable },
        )*];
    };
}

simple_dtypes!(
    Bool, Int8, Int16, Int32, Int64, UInt8, UInt16, UInt32, UInt64, Float16, Float32, Float64, Complex64, Complex128,
);

/// `dtype`'s index in [`SIMPLE_DTYPES`], if it has one.
fn slot(dtype: &Dtype) -> Option<u8> {
    let kind = match dtype.kind {
        Kind::Bool => 0,
        Kind::Int8 => 1,
        Kind::Int16 => 2,
        Kind::Int32 => 3,
        Kind::Int64 => 4,
        Kind::UInt8 => 5,
        Kind::UInt16 => 6,
        Kind::UInt32 => 7,
        Kind::UInt64 => 8,
        Kind::Float16 => 9,
        Kind::Float32 => 10,
        Kind::Float64 => 11,
        Kind::Complex64 => 12,
        Kind::Complex128 => 13,
        _ => return None,
    };
    let order = match dtype.order {
        ByteOrder::Little => 0,
        ByteOrder::Big => 1,
        ByteOrder::NotApplicable => 2,
    };
    Some(kind * 3 + order)
}

/// Bytes in front of the data for an array of `ndim` axes.
fn meta_len(ndim: usize) -> usize {
    (8 + 8 * ndim).next_multiple_of(DATA_ALIGN)
}

/// Bytes put after the data so that the block's length is a multiple of
/// [`DATA_ALIGN`] (the metadata and a kept header are multiples already);
/// none where the allocator does not use jemalloc's classes.
fn tail_padding(nbytes: usize) -> usize {
    if size_class::classes_hold() {
        nbytes.wrapping_neg() % DATA_ALIGN
    } else {
        0
    }
}

/// The block size a packed array of this metadata needs without its header,
/// if it can be packed.
pub fn block_len(dtype: &Dtype, ndim: usize, nbytes: usize) -> Option<usize> {
    slot(dtype)?;
    let len = meta_len(ndim) + tail_padding(nbytes) + nbytes;
    (ndim <= shape::MAX_NDIM && len <= MAX_BLOCK).then_some(len)
}

/// Whether a `header_len`-byte header is kept in a block of `len` bytes
/// without it: only when the block stays in the same size class, so the
/// value's memory does not grow (never on an allocator without jemalloc's
/// classes, e.g. libc malloc, where every byte counts).
fn keeps_header(header_len: usize, len: usize) -> bool {
    size_class::classes_hold()
        && header_len.is_multiple_of(64)
        && header_len / 64 <= usize::from(u8::MAX)
        && size_class::class(len + header_len) == size_class::class(len)
}

/// Runs `f` on the header to keep for these metadata in a block of `len`
/// bytes without it (empty when it is not kept).
fn with_kept_header<R>(meta: &Meta, len: usize, f: impl FnOnce(&[u8]) -> R) -> R {
    // Every header is a nonzero multiple of 64 bytes: where not even 64 more
    // fit the class, the header need not be looked up (most small vectors).
    if !keeps_header(64, len) {
        return f(&[]);
    }
    header_cache::with_written(meta, |header| {
        f(if keeps_header(header.len(), len) { header } else { &[] })
    })
}

/// Writes metadata, the kept header and data into a block of exactly
/// [`block_len`] + `header.len()` bytes.
fn fill(block: &mut [u8], meta: &Meta, header: &[u8], data: &[u8]) {
    let padding = tail_padding(data.len());
    let at = meta_len(meta.ndim());
    write_meta(
        &mut block[..at],
        slot(meta.dtype()).expect("block_len checked the dtype"),
        meta,
        header.len(),
        padding,
    );
    block[at..at + header.len()].copy_from_slice(header);
    let data_start = at + header.len();
    block[data_start..data_start + data.len()].copy_from_slice(data);
    block[data_start + data.len()..].fill(0);
}

fn write_meta(out: &mut [u8], slot: u8, meta: &Meta, header_len: usize, padding: usize) {
    out.fill(0);
    out[0] = slot;
    out[1] = meta.ndim() as u8;
    out[2] = if meta.saved_fortran() { FLAG_FORTRAN } else { 0 };
    out[3] = (header_len / 64) as u8;
    out[4] = padding as u8;
    for (i, d) in meta.shape().iter().enumerate() {
        out[8 + 8 * i..16 + 8 * i].copy_from_slice(&d.to_ne_bytes());
    }
}

#[derive(Debug)]
pub struct Packed(Box<[u8]>);

impl Packed {
    /// Packs an array, or `None` when its dtype, size or the block's address
    /// do not suit this layout. The caller checked that `data` fits `shape`.
    pub fn new(meta: &Meta, data: &[u8]) -> Option<Packed> {
        let len = block_len(meta.dtype(), meta.ndim(), data.len())?;
        with_kept_header(meta, len, |header| {
            let mut block = vec![0u8; len + header.len()].into_boxed_slice();
            if block.as_ptr().align_offset(DATA_ALIGN) != 0 {
                return None;
            }
            fill(&mut block, meta, header, data);
            Some(Packed(block))
        })
    }

    /// Overwrites this array with another of the same block size, in place.
    /// Returns false, changing nothing, when the sizes differ.
    pub fn overwrite(&mut self, meta: &Meta, data: &[u8]) -> bool {
        let Some(len) = block_len(meta.dtype(), meta.ndim(), data.len()) else {
            return false;
        };
        if len > self.0.len() {
            return false;
        }
        with_kept_header(meta, len, |header| {
            if len + header.len() != self.0.len() {
                return false;
            }
            fill(&mut self.0, meta, header, data);
            true
        })
    }

    /// Gives the data a new shape and order (same dtype and element count)
    /// in place. Returns false, changing nothing, if the metadata or the kept
    /// header would change length.
    pub fn relabel(&mut self, meta: &Meta) -> bool {
        if meta.ndim() > shape::MAX_NDIM || meta_len(meta.ndim()) != meta_len(usize::from(self.0[1])) {
            return false;
        }
        let at = meta_len(meta.ndim());
        let (slot, header_len, padding) = (self.0[0], self.header_len(), self.tail_padding());
        if header_len > 0 {
            let written = header_cache::with_written(meta, |header| {
                if header.len() != header_len {
                    return false;
                }
                self.0[at..at + header_len].copy_from_slice(header);
                true
            });
            if !written {
                return false;
            }
        }
        write_meta(&mut self.0[..at], slot, meta, header_len, padding);
        true
    }

    /// Bytes of `.npy` header kept in front of the data (0: written on read).
    fn header_len(&self) -> usize {
        usize::from(self.0[3]) * 64
    }

    fn tail_padding(&self) -> usize {
        usize::from(self.0[4])
    }

    fn data_start(&self) -> usize {
        meta_len(usize::from(self.0[1])) + self.header_len()
    }

    fn data_end(&self) -> usize {
        self.0.len() - self.tail_padding()
    }

    /// The whole `.npy` when the header is kept in front of the data.
    pub fn stored_npy(&self) -> Option<&[u8]> {
        (self.header_len() > 0).then(|| &self.0[meta_len(usize::from(self.0[1]))..self.data_end()])
    }

    pub fn dtype(&self) -> &'static Dtype {
        &SIMPLE_DTYPES[usize::from(self.0[0])]
    }

    pub fn shape(&self) -> &[u64] {
        let ndim = usize::from(self.0[1]);
        bytemuck::try_cast_slice(&self.0[8..8 + 8 * ndim])
            .expect("packed blocks are 16-byte aligned (checked when built and moved)")
    }

    pub fn order(&self) -> Order {
        Order::of(self.shape(), self.0[2] & FLAG_FORTRAN != 0)
    }

    /// The metadata, decoded.
    pub fn meta(&self) -> Meta {
        Meta::new(
            self.dtype().clone(),
            Shape::from_slice(self.shape()),
            self.0[2] & FLAG_FORTRAN != 0,
        )
    }

    pub fn data(&self) -> &[u8] {
        &self.0[self.data_start()..self.data_end()]
    }

    pub fn data_mut(&mut self) -> &mut [u8] {
        let (start, end) = (self.data_start(), self.data_end());
        &mut self.0[start..end]
    }

    /// The block up to the end of the data, and where the data starts in it.
    pub fn block_and_data_start_mut(&mut self) -> (&mut [u8], usize) {
        let (start, end) = (self.data_start(), self.data_end());
        (&mut self.0[..end], start)
    }

    /// Whether the block still starts at a 16-byte boundary (after a move).
    pub fn is_aligned(&self) -> bool {
        self.0.as_ptr().align_offset(DATA_ALIGN) == 0
    }

    /// The allocator's block and its requested size, for MEMORY USAGE.
    pub fn block(&self) -> (*const u8, usize) {
        (self.0.as_ptr(), self.0.len())
    }

    /// The block, for active defragmentation, which moves it.
    pub(crate) fn block_mut(&mut self) -> &mut Box<[u8]> {
        &mut self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use crate::meta::{test_meta, Meta};

    #[test]
    fn slots_name_their_dtypes() {
        for (i, dtype) in SIMPLE_DTYPES.iter().enumerate() {
            assert_eq!(slot(dtype), Some(i as u8), "{dtype:?}");
        }
        assert_eq!(slot(&Dtype::from_typestr("|S3").unwrap()), None);
    }

    #[test]
    fn a_float32_16_is_one_80_byte_block() {
        let dtype = Dtype::from_typestr("<f4").unwrap();
        let data: Vec<u8> = (0..64).collect();
        let p = Packed::new(&test_meta(&dtype, &[16], false), &data).unwrap();
        assert_eq!(p.block().1, 80);
        assert_eq!(
            (p.dtype(), p.shape(), p.order().saved_fortran(), p.data()),
            (&dtype, &[16u64][..], false, &data[..])
        );
        assert_eq!(p.data().as_ptr() as usize % DATA_ALIGN, 0);
        let big = Dtype::from_typestr(">i2").unwrap();
        let q = Packed::new(&test_meta(&big, &[2, 3, 1], true), &[1; 12]).unwrap();
        assert_eq!(
            (q.dtype(), q.shape(), q.order().saved_fortran()),
            (&big, &[2u64, 3, 1][..], true)
        );
        assert!(
            Packed::new(&test_meta(&dtype, &[1024], false), &[0; 4096]).is_none(),
            "too big"
        );
    }

    #[test]
    fn the_header_is_kept_when_it_costs_no_bigger_size_class() {
        let f4 = Dtype::from_typestr("<f4").unwrap();
        let data: Vec<u8> = (0..1536).map(|i| i as u8).collect();
        let p = Packed::new(&test_meta(&f4, &[384], false), &data).unwrap();
        let header = crate::npy::write_header(&test_meta(&f4, &[384], false));
        assert_eq!(p.block().1, 16 + header.len() + 1536);
        assert_eq!(
            size_class::class(p.block().1),
            size_class::class(16 + 1536),
            "memory does not grow"
        );
        assert_eq!(p.stored_npy().unwrap(), [&header[..], &data[..]].concat());
        assert_eq!((p.data(), p.data().as_ptr() as usize % DATA_ALIGN), (&data[..], 0));
        let small = Packed::new(&test_meta(&f4, &[16], false), &data[..64]).unwrap();
        assert_eq!(
            (small.block().1, small.stored_npy()),
            (80, None),
            "208 bytes would take a bigger class"
        );
    }

    #[test]
    fn relabel_and_overwrite_keep_the_header_true() {
        let f4 = Dtype::from_typestr("<f4").unwrap();
        let data = vec![7u8; 1536];
        let mut p = Packed::new(&test_meta(&f4, &[16, 24], false), &data).unwrap();
        assert!(p.stored_npy().is_some());
        assert!(p.relabel(&test_meta(&f4, &[24, 16], true)));
        let want = [
            &crate::npy::write_header(&test_meta(&f4, &[24, 16], true))[..],
            &data[..],
        ]
        .concat();
        assert_eq!(
            (p.stored_npy().unwrap(), p.shape(), p.order().saved_fortran()),
            (&want[..], &[24u64, 16][..], true)
        );
        let i4 = Dtype::from_typestr("<i4").unwrap();
        let other = vec![9u8; 1536];
        assert!(p.overwrite(&test_meta(&i4, &[16, 24], false), &other));
        let want = [
            &crate::npy::write_header(&test_meta(&i4, &[16, 24], false))[..],
            &other[..],
        ]
        .concat();
        assert_eq!((p.stored_npy().unwrap(), p.dtype()), (&want[..], &i4));
        assert!(
            !p.overwrite(&test_meta(&i4, &[380], false), &other[..1520]),
            "another block size"
        );
        assert_eq!(p.data(), &other[..], "unchanged when refused");
    }

    #[test]
    fn overwrite_needs_the_same_block_size() {
        let f4 = Dtype::from_typestr("<f4").unwrap();
        let mut p = Packed::new(&test_meta(&f4, &[4], false), &[1; 16]).unwrap();
        let i2 = Dtype::from_typestr("<i2").unwrap();
        assert!(p.overwrite(&test_meta(&i2, &[8], true), &[2; 16]));
        assert_eq!((p.dtype(), p.shape(), p.data()), (&i2, &[8u64][..], &[2u8; 16][..]));
        assert!(!p.overwrite(&test_meta(&i2, &[9], false), &[3; 18]));
        assert_eq!(p.data(), &[2u8; 16][..], "unchanged when refused");
    }
}
