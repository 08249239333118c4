//! The stored value: dtype, shape, order and data, in one of the layouts of
//! [`crate::layout`] (small numeric arrays packed into one block, everything
//! else in a 64-byte-aligned buffer). This is the face the commands, slicing,
//! casting and the RDB encoding use; which layout holds a value is invisible
//! to them, except in memory use and in whether `npy_bytes` borrows or builds.

use std::borrow::Cow;

use half::f16;
use num_complex::Complex;

use crate::dtype::{ByteOrder, Dtype, Kind};
use crate::error::{NpyError, Result};
use crate::layout::adopted::{self, Adopted};
use crate::layout::full::{self, Full};
use crate::layout::header_cache;
use crate::layout::packed::{self, Packed};
use crate::meta::{without_axis, Meta, Order};
use crate::npy::ParsedNpy;
use crate::shape::{self, Shape};

#[derive(Debug)]
pub struct NpArray {
    repr: Stored,
}

impl Clone for NpArray {
    /// A deep copy in a fresh allocation, laid out (and aligned) anew, without growth slack.
    fn clone(&self) -> NpArray {
        NpArray::from_segments(self.meta().into_owned(), self.segments()).expect("a copy of a valid array is valid")
    }
}

/// 16 bytes: Redis keeps a pointer to a box of this, so a packed value costs
/// two small blocks in all. (Two variants: a third would not fit the box
/// pointer's one niche, and would make it 24.)
#[derive(Debug)]
enum Stored {
    Packed(Packed),
    Boxed(Box<Boxed>),
}

/// The layouts whose metadata is decoded in a box of its own.
#[derive(Debug)]
pub(crate) enum Boxed {
    Full(Full),
    /// Read-only: every change moves it to `Full` first ([`NpArray::make_contiguous`]).
    Adopted(Adopted),
}

impl Stored {
    fn full(full: Full) -> Stored {
        Stored::Boxed(Box::new(Boxed::Full(full)))
    }
}

/// The value's layout, seen through [`NpArray::repr`].
enum Repr<'a> {
    Packed(&'a Packed),
    Full(&'a Full),
    Adopted(&'a Adopted),
}

/// [`Repr`], writable ([`NpArray::repr_mut`]).
enum ReprMut<'a> {
    Packed(&'a mut Packed),
    Full(&'a mut Full),
    Adopted(&'a mut Adopted),
}

/// The value's heap blocks, for the glue's active defragmentation, which moves
/// them one by one and then calls [`NpArray::after_move`].
pub(crate) enum BlocksMut<'a> {
    Packed(&'a mut Box<[u8]>),
    Boxed(&'a mut Box<Boxed>),
}

/// Checks a shape against the dimension limit and, if given, the data length;
/// returns the data size.
fn checked_nbytes(meta: &Meta, data_len: Option<usize>) -> Result<u64> {
    let (dtype, shape) = (meta.dtype(), meta.shape());
    if shape.len() > shape::MAX_NDIM {
        return Err(NpyError::invalid(format!(
            "{} dimensions, the limit is {}",
            shape.len(),
            shape::MAX_NDIM
        )));
    }
    let nbytes = shape::nbytes(shape, dtype.itemsize())?;
    match data_len {
        Some(len) if len as u64 != nbytes => Err(NpyError::invalid(format!("data is {len} bytes, expected {nbytes}"))),
        _ => Ok(nbytes),
    }
}

impl From<Full> for NpArray {
    /// A full-layout value, packed instead when it is small enough.
    fn from(full: Full) -> NpArray {
        let repr = match Packed::new(&full.meta, full.data()) {
            Some(packed) => Stored::Packed(packed),
            None => Stored::full(full),
        };
        NpArray { repr }
    }
}

impl NpArray {
    fn repr(&self) -> Repr<'_> {
        match &self.repr {
            Stored::Packed(p) => Repr::Packed(p),
            Stored::Boxed(b) => match &**b {
                Boxed::Full(f) => Repr::Full(f),
                Boxed::Adopted(a) => Repr::Adopted(a),
            },
        }
    }

    fn repr_mut(&mut self) -> ReprMut<'_> {
        match &mut self.repr {
            Stored::Packed(p) => ReprMut::Packed(p),
            Stored::Boxed(b) => match &mut **b {
                Boxed::Full(f) => ReprMut::Full(f),
                Boxed::Adopted(a) => ReprMut::Adopted(a),
            },
        }
    }

    /// Validates a `.npy` payload and stores it in canonical form.
    pub fn from_npy(bytes: &[u8]) -> Result<NpArray> {
        NpArray::from_parsed(&header_cache::parse(bytes)?)
    }

    /// Stores a parsed `.npy` payload (a copy of its data): how every
    /// command that takes a payload builds its value.
    pub fn from_parsed(parsed: &ParsedNpy) -> Result<NpArray> {
        // A packed value stores what it needs of the metadata in its block:
        // only a full one takes a copy of them.
        checked_nbytes(&parsed.meta, Some(parsed.data.len()))?;
        if let Some(packed) = Packed::new(&parsed.meta, parsed.data) {
            return Ok(NpArray {
                repr: Stored::Packed(packed),
            });
        }
        NpArray::full_from_segments(parsed.meta.clone(), (parsed.data, &[]))
    }

    /// Builds a value from its metadata and data bytes.
    pub fn from_parts(meta: Meta, data: &[u8]) -> Result<NpArray> {
        NpArray::from_segments(meta, (data, &[]))
    }

    /// [`NpArray::from_parts`] for data in two pieces (a wrapped rolling
    /// buffer's segments; the second is empty otherwise), copied once into
    /// the new value.
    fn from_segments(meta: Meta, (head, tail): (&[u8], &[u8])) -> Result<NpArray> {
        let nbytes = head.len() + tail.len();
        checked_nbytes(&meta, Some(nbytes))?;
        // A packed value is built from one slice: two pieces small enough are joined first.
        let packed = if tail.is_empty() {
            Packed::new(&meta, head)
        } else if packed::block_len(meta.dtype(), meta.ndim(), nbytes).is_some() {
            Packed::new(&meta, &[head, tail].concat())
        } else {
            None
        };
        if let Some(packed) = packed {
            return Ok(NpArray {
                repr: Stored::Packed(packed),
            });
        }
        NpArray::full_from_segments(meta, (head, tail))
    }

    /// [`NpArray::from_segments`] in the full layout, the checks done.
    fn full_from_segments(meta: Meta, (head, tail): (&[u8], &[u8])) -> Result<NpArray> {
        let nbytes = head.len() + tail.len();
        let mut full = Full::with_capacity(meta, nbytes, nbytes)?;
        for piece in [head, tail] {
            full.push_data(piece)?;
        }
        Ok(NpArray {
            repr: Stored::full(full),
        })
    }

    /// Starts a value whose data arrives in pieces (RDB loading). Room for at
    /// most `reserve_limit` bytes is taken up front; beyond that the buffer
    /// grows to [`BUILDER_GROWTH`] times the data received as data arrives
    /// (to the exact size at the end), so a corrupt record that claims a huge
    /// shape costs little until its data is really there.
    pub fn builder(meta: Meta, reserve_limit: u64) -> Result<NpArrayBuilder> {
        let nbytes = checked_nbytes(&meta, None)?;
        let nbytes = usize::try_from(nbytes).map_err(|_| NpyError::NoMemory(nbytes))?;
        let reserve = nbytes.min(usize::try_from(reserve_limit).unwrap_or(usize::MAX));
        let full = Full::with_capacity(meta, nbytes, reserve)?;
        Ok(NpArrayBuilder { full, nbytes })
    }

    /// Builds a value whose data `fill` writes (into zeroed memory of the right size).
    pub fn from_fn(meta: Meta, fill: impl FnOnce(&mut [u8])) -> Result<NpArray> {
        let nbytes = checked_nbytes(&meta, None)? as usize;
        let mut full = Full::with_capacity(meta, nbytes, nbytes)?;
        full.resize_data(nbytes)?;
        fill(full.data_mut());
        Ok(NpArray::from(full))
    }

    pub fn dtype(&self) -> &Dtype {
        match self.repr() {
            Repr::Packed(p) => p.dtype(),
            Repr::Full(f) => f.meta.dtype(),
            Repr::Adopted(a) => a.meta.dtype(),
        }
    }

    pub fn shape(&self) -> &[u64] {
        match self.repr() {
            Repr::Packed(p) => p.shape(),
            Repr::Full(f) => f.meta.shape(),
            Repr::Adopted(a) => a.meta.shape(),
        }
    }

    pub fn order(&self) -> Order {
        match self.repr() {
            Repr::Packed(p) => p.order(),
            Repr::Full(f) => f.meta.order(),
            Repr::Adopted(a) => a.meta.order(),
        }
    }

    /// The `fortran_order` the `.npy` header says, as np.save writes it.
    pub fn saved_fortran(&self) -> bool {
        self.order().saved_fortran()
    }

    /// Dtype, shape and order (decoded from a packed block, borrowed otherwise).
    pub fn meta(&self) -> Cow<'_, Meta> {
        match self.repr() {
            Repr::Packed(p) => Cow::Owned(p.meta()),
            Repr::Full(f) => Cow::Borrowed(&f.meta),
            Repr::Adopted(a) => Cow::Borrowed(&a.meta),
        }
    }

    pub fn ndim(&self) -> usize {
        self.shape().len()
    }

    pub fn size(&self) -> u64 {
        shape::size(self.shape())
    }

    pub fn itemsize(&self) -> u64 {
        self.dtype().itemsize()
    }

    pub fn nbytes(&self) -> u64 {
        match self.repr() {
            Repr::Packed(p) => p.data().len() as u64,
            Repr::Full(f) => f.data_len() as u64,
            Repr::Adopted(a) => a.nbytes() as u64,
        }
    }

    /// The whole `.npy`, byte-identical to what `np.save` writes for this
    /// array: borrowed when the layout keeps the header in front of the data,
    /// built (header + a copy of the data) otherwise.
    pub fn npy_bytes(&self) -> Cow<'_, [u8]> {
        match self.stored_npy() {
            Some(npy) => Cow::Borrowed(npy),
            None => {
                let mut out = Vec::new();
                self.write_npy(&mut out);
                Cow::Owned(out)
            }
        }
    }

    /// The whole `.npy`, when the layout stores it in one piece (the header
    /// kept in front of the data).
    pub fn stored_npy(&self) -> Option<&[u8]> {
        match self.repr() {
            Repr::Packed(p) => p.stored_npy(),
            Repr::Full(f) => f.stored_npy(),
            Repr::Adopted(a) => Some(a.npy()),
        }
    }

    /// Appends the whole `.npy` to `out`, growing it once: the header (from
    /// the recently written headers), then the data.
    pub fn write_npy(&self, out: &mut Vec<u8>) {
        let (head, tail) = self.segments();
        header_cache::with_written(&self.meta(), |header| {
            reserve_empty(out, header.len() + head.len() + tail.len());
            out.extend_from_slice(header);
            out.extend_from_slice(head);
            out.extend_from_slice(tail);
        });
    }

    /// The array's data: 64-byte aligned, or 16-byte aligned in the packed
    /// layout (enough for every dtype's typed view); not aligned in the
    /// adopted layout, which typed readers move first
    /// ([`NpArray::make_contiguous`]; bytemuck's checked casts refuse it anyway).
    ///
    /// Panics if the data is in two segments (a wrapped rolling buffer,
    /// [`NpArray::is_wrapped`]): call [`NpArray::make_contiguous`] first, or
    /// read [`NpArray::segments`].
    pub fn data(&self) -> &[u8] {
        match self.repr() {
            Repr::Packed(p) => p.data(),
            Repr::Full(f) => f.data(),
            Repr::Adopted(a) => a.data(),
        }
    }

    /// [`NpArray::data`], writable; panics the same way, and on an adopted
    /// value, whose bytes are not the array's to write (call
    /// [`NpArray::make_contiguous`] first).
    pub fn data_mut(&mut self) -> &mut [u8] {
        match self.repr_mut() {
            ReprMut::Packed(p) => p.data_mut(),
            ReprMut::Full(f) => f.data_mut(),
            ReprMut::Adopted(_) => panic!("{ADOPTED}"),
        }
    }

    /// The data in order, in two pieces: the second is empty unless the
    /// value is a wrapped rolling buffer.
    pub fn segments(&self) -> (&[u8], &[u8]) {
        match self.repr() {
            Repr::Packed(p) => (p.data(), &[]),
            Repr::Full(f) => f.segments(),
            Repr::Adopted(a) => (a.data(), &[]),
        }
    }

    /// The data bytes `range`, in two pieces as [`NpArray::segments`] holds them.
    pub fn data_range(&self, range: std::ops::Range<usize>) -> (&[u8], &[u8]) {
        let (head, tail) = self.segments();
        if range.end <= head.len() {
            (&head[range], &[])
        } else if range.start >= head.len() {
            (&tail[range.start - head.len()..range.end - head.len()], &[])
        } else {
            (&head[range.start..], &tail[..range.end - head.len()])
        }
    }

    /// Whether the data is in two segments: a rolling buffer whose appends
    /// wrapped around to the start of its buffer (see [`crate::layout::full`]).
    pub fn is_wrapped(&self) -> bool {
        matches!(self.repr(), Repr::Full(f) if f.is_wrapped())
    }

    /// Makes the data one aligned, writable slice, for typed readers and
    /// writers: puts a wrapped rolling buffer's data back in one piece, in
    /// place, in O(buffer) and without allocating; moves an adopted value
    /// into a buffer of its own (one copy, the first time only); does nothing
    /// otherwise. The value (dtype, shape, bytes) does not change, only where
    /// its bytes lie. Nothing changes on error.
    pub fn make_contiguous(&mut self) -> Result<()> {
        match self.repr_mut() {
            ReprMut::Full(f) => f.make_contiguous(),
            ReprMut::Adopted(a) => {
                let nbytes = a.data().len();
                let mut full = Full::with_capacity(a.meta.clone(), nbytes, nbytes)?;
                full.push_data(a.data())?;
                self.repr = Stored::full(full);
            }
            ReprMut::Packed(_) => {}
        }
        Ok(())
    }

    /// Builds a value that keeps `owner`'s bytes where they are, if they
    /// are a `.npy` of at least [`MIN_ADOPTED`] bytes whose header is exactly
    /// the one np.save writes for `parsed` (its dtype, shape and order:
    /// `header`, from [`header_cache::parse_canonical`]), and (unless
    /// `any_size`) their block is no bigger than a copy's would be:
    /// where the full layout keeps the header in the data's block, as the
    /// string does, the two cost the same; where it keeps the data alone in
    /// a block of its exact size (2^k bytes of data, see
    /// [`crate::layout::full`]), the string's block is 1.25× that, and the
    /// copy is kept instead. Otherwise gives the owner back, and the caller
    /// copies. `parsed` and `header` must come from parsing `owner.bytes()`.
    pub fn adopt(
        parsed: &ParsedNpy,
        header: header_cache::CanonicalHeader,
        owner: Box<dyn adopted::Owner>,
        any_size: bool,
    ) -> std::result::Result<NpArray, Box<dyn adopted::Owner>> {
        let nbytes = parsed.data.len();
        let header_len = header.bytes();
        if header_len + nbytes < MIN_ADOPTED
            || checked_nbytes(&parsed.meta, Some(nbytes)).is_err()
            || (!any_size && !full::keeps_header(header_len + STRING_OVERHEAD, nbytes))
        {
            return Err(owner);
        }
        let adopted = Adopted::new(parsed.meta.clone(), header_len, nbytes, owner)?;
        Ok(NpArray {
            repr: Stored::Boxed(Box::new(Boxed::Adopted(adopted))),
        })
    }

    /// The data's block up to the end of the segment holding the data bytes
    /// `run`, and where the run lies in it; `None` when the run crosses a
    /// wrapped buffer's wrap. What lies before the run (metadata, a kept
    /// header, earlier entries, entries a rolling buffer dropped) is where a
    /// reply may put a header for a moment (`slice::HeaderInPlace`), to send
    /// header and run as one span.
    pub(crate) fn run_in_block_mut(
        &mut self,
        run: std::ops::Range<usize>,
    ) -> Option<(&mut [u8], std::ops::Range<usize>)> {
        match self.repr_mut() {
            ReprMut::Packed(p) => {
                let (block, start) = p.block_and_data_start_mut();
                Some((block, start + run.start..start + run.end))
            }
            ReprMut::Full(f) => f.run_in_block_mut(run),
            // Read-only: the reply gathers instead.
            ReprMut::Adopted(_) => None,
        }
    }

    /// Whether the value keeps its bytes in a buffer it does not own (the
    /// adopted layout, [`crate::layout::adopted`]).
    pub fn is_adopted(&self) -> bool {
        matches!(self.repr(), Repr::Adopted(_))
    }

    /// Whether the value uses the packed layout (for tests and NP.INFO-like introspection).
    pub fn is_packed(&self) -> bool {
        matches!(self.repr(), Repr::Packed(_))
    }

    /// The layout's name, as NP.INFO reports it: `packed`, `full`, or
    /// `wrapped` (a full-layout rolling buffer whose data is in two segments).
    pub fn layout_name(&self) -> &'static str {
        match self.repr() {
            Repr::Packed(_) => "packed",
            Repr::Full(f) if f.is_wrapped() => "wrapped",
            Repr::Full(_) => "full",
            Repr::Adopted(_) => "adopted",
        }
    }

    /// The data as a typed slice, when `T` is this array's element type in native order.
    pub fn as_slice<T: Element>(&self) -> Option<&[T]> {
        if !T::matches(self.dtype()) || self.dtype().order == ByteOrder::Big {
            return None;
        }
        bytemuck::try_cast_slice(self.data()).ok()
    }

    /// The axis `NP.TRIM` shortens and, unless the payload decides
    /// otherwise, `append` grows ([`Meta::growth_axis`]); none for 0-d arrays.
    pub fn growth_axis(&self) -> Option<usize> {
        self.meta().growth_axis()
    }

    /// The data size after appending `rows`, or why they do not fit. Nothing changes.
    pub fn check_append(&self, rows: &ParsedNpy) -> Result<u64> {
        self.appended(rows).map(|_| self.nbytes() + rows.data.len() as u64)
    }

    /// The axis appending `rows` grows and the metadata after it.
    fn appended(&self, rows: &ParsedNpy) -> Result<(usize, Meta)> {
        let meta = self.meta();
        let axis = meta
            .append_axis(&rows.meta)
            .ok_or_else(|| NpyError::append("the stored array is 0-d"))?;
        let rows_dtype = rows.meta.dtype();
        if rows_dtype != self.dtype() {
            return Err(NpyError::append(format!(
                "dtype {} does not match the stored {}",
                rows_dtype.descr(),
                self.dtype().descr()
            )));
        }
        let rows_shape = rows.meta.shape();
        let expected_rest = without_axis(self.shape(), axis);
        let steps = if rows_shape.len() == self.ndim() {
            (without_axis(rows_shape, axis) == expected_rest).then_some(rows_shape[axis])
        } else if rows_shape.len() + 1 == self.ndim() {
            // A single row without the growth axis, e.g. shape (3,) onto (n, 3).
            (rows_shape == &expected_rest[..]).then_some(1)
        } else {
            None
        };
        let steps = steps.ok_or_else(|| {
            NpyError::append(format!(
                "shape {} does not fit {} along axis {axis}",
                shape::repr(rows_shape),
                shape::repr(self.shape())
            ))
        })?;
        // Data appended along the first axis must read in C order, along the
        // last in Fortran order; a payload that is both (no element, or at
        // most one axis longer than 1) fits either.
        let fortran = axis > 0;
        let rows_order = rows.meta.order();
        if (fortran && !rows_order.is_f()) || (!fortran && !rows_order.is_c()) {
            let name = |f: bool| if f { "Fortran" } else { "C" };
            return Err(NpyError::append(format!(
                "the payload is in {} order but the stored array is in {} order",
                name(!fortran),
                name(fortran)
            )));
        }
        let mut shape = Shape::from_slice(self.shape());
        shape[axis] = shape[axis]
            .checked_add(steps)
            .ok_or_else(|| NpyError::append("the growth axis would overflow"))?;
        shape::nbytes(&shape, self.itemsize()).map_err(|e| NpyError::append(e.to_string()))?;
        Ok((axis, meta.with_shape(shape, fortran)))
    }

    /// Replaces the contents with `value` inside the existing allocation when
    /// the layout stays the same and the buffer fits without much slack, so
    /// overwriting an array with one of the same size touches no fresh memory.
    /// Returns false, changing nothing, otherwise.
    pub fn overwrite_in_place(&mut self, value: &ParsedNpy) -> bool {
        let (meta, data) = (&value.meta, value.data);
        match self.repr_mut() {
            ReprMut::Packed(p) => p.overwrite(meta, data),
            ReprMut::Full(_) if packed::block_len(meta.dtype(), meta.ndim(), data.len()).is_some() => false,
            ReprMut::Full(f) => f.overwrite(meta, data),
            ReprMut::Adopted(_) => false,
        }
    }

    /// Appends `rows` along the growth axis in amortised O(appended bytes):
    /// the buffer grows by at least half its size when it must grow, and a
    /// rolling buffer's dead prefix is reused first, wrapping around (see
    /// [`crate::layout::full`]). A packed value moves to the full layout
    /// first. Everything that can fail happens before the value changes.
    /// Returns the axis grown (see [`Meta::append_axis`]).
    pub fn append(&mut self, rows: &ParsedNpy) -> Result<usize> {
        let (axis, meta) = self.appended(rows)?;
        let appended = match self.repr_mut() {
            ReprMut::Full(f) => f.append(rows.data, &meta)?,
            ReprMut::Packed(_) | ReprMut::Adopted(_) => false,
        };
        if !appended {
            // Packed, adopted, or a kept header that changes length: a new full value.
            let total = self.nbytes() as usize + rows.data.len();
            let reserve = total.max(self.nbytes() as usize * 3 / 2);
            let mut full = Full::with_capacity(meta, total, reserve)?;
            let (head, tail) = self.segments();
            for piece in [head, tail, rows.data] {
                full.push_data(piece)?;
            }
            self.repr = Stored::full(full);
        }
        Ok(axis)
    }

    /// The data size of the array grown to `length` entries along its growth
    /// axis (its own size if it is longer), or why it cannot grow so.
    pub fn reserved_nbytes(&self, length: u64) -> Result<u64> {
        let axis = self.growth_axis().ok_or(NpyError::NoGrowthAxis("reserve room in"))?;
        let mut shape = Shape::from_slice(self.shape());
        shape[axis] = shape[axis].max(length);
        checked_nbytes(&self.meta().with_shape(shape, false), None)
    }

    /// Makes room for the array to grow to `length` entries along its growth
    /// axis without reallocating, so that appends up to there copy only the
    /// bytes they append (a staged upload reserves its final size once
    /// instead of growing the buffer by half again and again). Does nothing
    /// when `length` is not more than the room already there. Returns the data
    /// size that `length` entries take. Nothing changes on error.
    pub fn reserve(&mut self, length: u64) -> Result<u64> {
        let wanted = self.reserved_nbytes(length)?;
        let bytes = usize::try_from(wanted).map_err(|_| NpyError::NoMemory(wanted))?;
        match self.repr_mut() {
            ReprMut::Full(f) => f.reserve(bytes)?,
            ReprMut::Packed(p) if bytes > p.data().len() => {
                let mut full = Full::with_capacity(p.meta(), bytes, bytes)?;
                full.push_data(self.data())?;
                self.repr = Stored::full(full);
            }
            ReprMut::Packed(_) => {}
            ReprMut::Adopted(_) => {
                self.make_contiguous()?;
                if let ReprMut::Full(f) = self.repr_mut() {
                    f.reserve(bytes)?;
                }
            }
        }
        Ok(wanted)
    }

    /// Keeps only the last `keep` entries along the growth axis (all of them
    /// if there are fewer) and returns the new length of that axis. In the
    /// full layout the dropped entries become dead bytes at the front of the
    /// buffer, reused by later appends, so this is O(1) (see
    /// [`crate::layout::full`]).
    pub fn trim(&mut self, keep: u64) -> Result<u64> {
        let axis = self.growth_axis().ok_or(NpyError::NoGrowthAxis("trim"))?;
        self.trim_along(axis, keep)
    }

    /// The length [`NpArray::trim`] shortens: the growth axis's.
    pub fn trim_length(&self) -> Result<u64> {
        let axis = self.growth_axis().ok_or(NpyError::NoGrowthAxis("trim"))?;
        Ok(self.shape()[axis])
    }

    /// [`NpArray::trim`] along `axis`: the growth axis, or the axis
    /// [`NpArray::append`] just grew. A Fortran array trimmed to one column
    /// is C-ordered too, and its metadata says so.
    pub fn trim_along(&mut self, axis: usize, keep: u64) -> Result<u64> {
        let length = self.shape()[axis];
        if keep >= length {
            return Ok(length);
        }
        let meta = self.meta();
        let dropped = ((length - keep) * meta.slab_bytes(axis)) as usize;
        let mut shape = Shape::from_slice(self.shape());
        shape[axis] = keep;
        let meta = meta.with_shape(shape, axis > 0);
        let in_place = match self.repr_mut() {
            ReprMut::Full(f) => f.drop_front(dropped, &meta),
            ReprMut::Packed(_) | ReprMut::Adopted(_) => false,
        };
        if !in_place {
            // Packed (small), adopted, or a kept header that changes length: a new value.
            let nbytes = self.nbytes() as usize;
            let kept = self.data_range(dropped..nbytes);
            *self = NpArray::from_segments(meta, kept)?;
        }
        Ok(keep)
    }

    /// Splits the array along the growth axis into `.npy` pieces of about
    /// `max_bytes` of data each: the first for NP.SET, the rest for NP.APPEND.
    /// Used by the AOF rewrite so no single argument is huge.
    pub fn pieces(&self, max_bytes: u64) -> Vec<(Shape, std::ops::Range<usize>)> {
        let meta = self.meta();
        let whole = || vec![(Shape::from_slice(self.shape()), 0..self.nbytes() as usize)];
        let Some(axis) = meta.growth_axis() else {
            return whole();
        };
        let slab = meta.slab_bytes(axis);
        if self.nbytes() <= max_bytes || slab == 0 {
            return whole();
        }
        // A Fortran array's first piece must stay Fortran-ordered as np.save
        // writes it (at least two dimensions longer than 1), or NP.SET would
        // store it in C order and NP.APPEND would grow its first axis.
        let per_piece = (max_bytes / slab).max(if meta.order() == Order::F { 2 } else { 1 });
        let total = self.shape()[axis];
        let mut out = Vec::new();
        let mut start = 0;
        while start < total {
            let steps = per_piece.min(total - start);
            let mut shape = Shape::from_slice(self.shape());
            shape[axis] = steps;
            out.push((shape, (start * slab) as usize..((start + steps) * slab) as usize));
            start += steps;
        }
        out
    }

    /// Gives the same data a new shape and order flag (same element count)
    /// without moving it: only the metadata (and a kept header) is rewritten,
    /// in place when its length is unchanged, which is nearly always. The
    /// flag is stored as np.save writes it for that shape.
    pub fn relabel(&mut self, shape: Shape, fortran: bool) -> Result<()> {
        if shape::size(&shape) != self.size() || shape.len() > shape::MAX_NDIM {
            return Err(NpyError::ShapeMismatch {
                shape: shape::repr(&shape),
                size: self.size(),
            });
        }
        let meta = self.meta().with_shape(shape, fortran);
        let in_place = match self.repr_mut() {
            ReprMut::Packed(p) => p.relabel(&meta),
            ReprMut::Full(f) => f.relabel(&meta),
            ReprMut::Adopted(_) => false,
        };
        if !in_place {
            *self = NpArray::from_segments(meta, self.segments())?;
        }
        Ok(())
    }

    /// Bytes this value occupies, for MEMORY USAGE: the value itself and each
    /// of its blocks as `allocated(ptr, requested)` reports it (the glue asks
    /// the allocator for the real block size, size-class rounding included).
    pub fn memory_usage(&self, allocated: impl Fn(*const u8, usize) -> usize) -> usize {
        let own = std::mem::size_of::<NpArray>();
        let boxed = match &self.repr {
            Stored::Packed(_) => 0,
            Stored::Boxed(b) => allocated((&**b as *const Boxed).cast(), std::mem::size_of::<Boxed>()),
        };
        own + boxed
            + match self.repr() {
                Repr::Packed(p) => {
                    let (ptr, len) = p.block();
                    allocated(ptr, len)
                }
                Repr::Full(f) => {
                    let (ptr, capacity) = f.block();
                    let buffer = if capacity > 0 { allocated(ptr, capacity) } else { 0 };
                    buffer + f.meta.heap_bytes()
                }
                // The owner's box is a pointer-sized handle (16 B with the allocator's rounding).
                Repr::Adopted(a) => 16 + a.allocated() + a.meta.heap_bytes(),
            }
    }

    /// The heap blocks, for active defragmentation.
    pub(crate) fn blocks_mut(&mut self) -> BlocksMut<'_> {
        match &mut self.repr {
            Stored::Packed(p) => BlocksMut::Packed(p.block_mut()),
            Stored::Boxed(b) => BlocksMut::Boxed(b),
        }
    }

    /// Restores the data's alignment after the allocator moved blocks: a
    /// misaligned packed block moves to the full layout, a full buffer shifts
    /// its contents. On jemalloc a moved block keeps its alignment, so this
    /// does nothing there.
    pub(crate) fn after_move(&mut self) -> Result<()> {
        match self.repr_mut() {
            ReprMut::Packed(p) if !p.is_aligned() => {
                let mut full = Full::with_capacity(p.meta(), p.data().len(), p.data().len())?;
                full.push_data(p.data())?;
                self.repr = Stored::full(full);
                Ok(())
            }
            ReprMut::Packed(_) => Ok(()),
            ReprMut::Full(f) => f.buf_mut().realign(),
            ReprMut::Adopted(_) => Ok(()),
        }
    }
}

/// [`NpArray::data_mut`]'s refusal of an adopted value.
const ADOPTED: &str = "an adopted array is read-only (move it to its own buffer first)";

/// Smallest `.npy` kept where it is rather than copied: Redis hands over the
/// query buffer itself only from this size (`PROTO_MBULK_BIG_ARG`); smaller
/// arguments are copies anyway, and a copy of them costs little.
pub const MIN_ADOPTED: usize = 32 * 1024;

/// What a string's block holds besides its bytes, at most: Redis's sds
/// header (up to 17 bytes) and terminator, and a query buffer's CRLF.
const STRING_OVERHEAD: usize = 32;

/// Rust element types that an array's data can be viewed as.
pub trait Element: bytemuck::Pod {
    fn matches(dtype: &Dtype) -> bool;
}

macro_rules! element {
    ($($t:ty => $kind:pat),* $(,)?) => {
        $(impl Element for $t {
            fn matches(dtype: &Dtype) -> bool {
                matches!(dtype.kind, $kind)
            }
        })*
    };
}

element! {
    i8 => Kind::Int8,
    i16 => Kind::Int16,
    i32 => Kind::Int32,
    i64 => Kind::Int64 | Kind::DateTime(_) | Kind::TimeDelta(_),
    u8 => Kind::UInt8 | Kind::Bool,
    u16 => Kind::UInt16,
    u32 => Kind::UInt32,
    u64 => Kind::UInt64,
    f16 => Kind::Float16,
    f32 => Kind::Float32,
    f64 => Kind::Float64,
    Complex<f32> => Kind::Complex64,
    Complex<f64> => Kind::Complex128,
}

/// How far a builder's buffer grows past the data it has received, when it
/// must grow. Every growth allocates a new block, copies what was received
/// and faults in fresh pages (Rust's `realloc` through Redis's allocator is
/// allocate + copy + free, and jemalloc hands big blocks' pages back on
/// free), so a buffer that doubled would fault in about twice the array and
/// copy it once more, and loading big arrays took clearly longer than strings
/// of the same bytes (docs/benchmarks.md). Growing to 64× the data received, a 64 MiB array in 1 MiB
/// strings grows once, from its first string's 1 MiB straight to its exact
/// size. The reservation stays proportional to data that really arrived, so a
/// record claiming a huge shape can reserve at most 64× what it sent.
pub const BUILDER_GROWTH: usize = 64;

/// Makes room for `additional` more bytes in `out` (exactly, if it must
/// grow). An empty buffer too small is freed before the bigger block is
/// taken: growing it would copy its old capacity for nothing, and hold both
/// blocks at once.
pub fn reserve_empty(out: &mut Vec<u8>, additional: usize) {
    if out.is_empty() && out.capacity() < additional {
        *out = Vec::new();
    }
    out.reserve_exact(additional);
}

/// An array whose data is pushed in pieces; see [`NpArray::builder`].
pub struct NpArrayBuilder {
    full: Full,
    nbytes: usize,
}

impl NpArrayBuilder {
    /// Data bytes still missing.
    pub fn remaining(&self) -> usize {
        self.nbytes - self.full.data().len()
    }

    pub fn push(&mut self, piece: &[u8]) -> Result<()> {
        if piece.len() > self.remaining() {
            return Err(NpyError::invalid(format!(
                "data is longer than the {} bytes the shape needs",
                self.nbytes
            )));
        }
        let received = self.full.data().len();
        let needed = received + piece.len();
        if needed > self.full.data_capacity() {
            // Up to BUILDER_GROWTH times the data already received, never past
            // the exact size, so a loaded array has no slack.
            let grown = needed.max(received.saturating_mul(BUILDER_GROWTH)).min(self.nbytes);
            self.full.reserve_data(grown)?;
        }
        self.full.push_data(piece)
    }

    pub fn finish(self) -> Result<NpArray> {
        match self.remaining() {
            0 => Ok(NpArray::from(self.full)),
            missing => Err(NpyError::invalid(format!(
                "data is {} bytes, expected {}",
                self.nbytes - missing,
                self.nbytes
            ))),
        }
    }
}

/// An array of `typestr` for the pure layer's unit tests.
#[cfg(test)]
pub(crate) fn test_array(typestr: &str, shape: &[u64], fortran: bool, data: &[u8]) -> NpArray {
    let dtype = Dtype::from_typestr(typestr).unwrap();
    NpArray::from_parts(Meta::new(dtype, Shape::from_slice(shape), fortran), data).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use crate::meta::{test_meta, Meta};

    use crate::npy::{self, ARRAY_ALIGN};

    #[test]
    fn a_value_is_two_words() {
        assert_eq!(std::mem::size_of::<NpArray>(), 16);
        // The box of a full value stays in its allocator class with the adopted variant beside it.
        let class = crate::layout::size_class::class;
        assert_eq!(class(std::mem::size_of::<Boxed>()), class(std::mem::size_of::<Full>()));
    }

    /// An owner like a Redis string: the bytes at an odd offset in a block
    /// (never aligned for typed access), with a count of live owners.
    struct Lent {
        block: Vec<u8>,
        live: std::rc::Rc<std::cell::Cell<usize>>,
    }

    const LENT_OFFSET: usize = 9;

    impl adopted::Owner for Lent {
        fn bytes(&self) -> &[u8] {
            &self.block[LENT_OFFSET..]
        }
        fn allocated(&self) -> usize {
            self.block.capacity()
        }
        fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
            self
        }
    }

    impl Drop for Lent {
        fn drop(&mut self) {
            self.live.set(self.live.get() - 1);
        }
    }

    fn lend(npy: &[u8], live: &std::rc::Rc<std::cell::Cell<usize>>) -> Box<dyn adopted::Owner> {
        live.set(live.get() + 1);
        let mut block = vec![0xEE; LENT_OFFSET];
        block.extend_from_slice(npy);
        Box::new(Lent {
            block,
            live: live.clone(),
        })
    }

    fn adopted_array(original: &NpArray, live: &std::rc::Rc<std::cell::Cell<usize>>) -> NpArray {
        let npy = original.npy_bytes().to_vec();
        let owner = lend(&npy, live);
        // The same bytes as the owner's (parsed from a copy: no borrow of the owner).
        let parsed = npy::parse(&npy).unwrap();
        let header = header_cache::canonical_header(&parsed, &npy).unwrap();
        let a = NpArray::adopt(&parsed, header, owner, true).unwrap_or_else(|_| panic!("adopted"));
        assert!(a.is_adopted());
        assert_eq!(a.npy_bytes(), original.npy_bytes());
        a
    }

    #[test]
    fn adopted_values_read_in_place_and_move_on_every_change() {
        let live = std::rc::Rc::new(std::cell::Cell::new(0));
        let data: Vec<u8> = (0..40_000u32).flat_map(|i| (i as f32).to_le_bytes()).collect();
        let original = test_array("<f4", &[400, 100], false, &data);
        let a = adopted_array(&original, &live);
        assert_eq!(a.data(), &data[..]);
        assert!(a.as_slice::<f32>().is_none(), "unaligned: the checked cast refuses it");
        assert_eq!(a.stored_npy(), Some(&original.npy_bytes()[..]));
        assert_eq!(a.layout_name(), "adopted");
        assert_eq!(a.clone().npy_bytes(), original.npy_bytes());
        assert!(!a.clone().is_adopted(), "a copy owns its buffer");
        let strings: Vec<u8> = crate::rdb::data_strings(&a).flat_map(|s| s.to_vec()).collect();
        assert_eq!(strings, data);
        assert!(a.memory_usage(|_, n| n) >= data.len() + 128);
        // make_contiguous moves it once into an aligned buffer, and releases the owner.
        let mut b = adopted_array(&original, &live);
        b.make_contiguous().unwrap();
        assert!(!b.is_adopted());
        assert_eq!(b.data().as_ptr() as usize % ARRAY_ALIGN, 0);
        assert_eq!(b.as_slice::<f32>().unwrap()[7], 7.0);
        assert_eq!(b.npy_bytes(), original.npy_bytes());
        // Every change leaves the owner's bytes alone and agrees with the owned value's.
        type Change = fn(&mut NpArray);
        let changes: [(&str, Change); 6] = [
            ("append", |x| {
                let row = test_array("<f4", &[1, 100], false, &[1; 400]);
                x.append(&parsed(&row.npy_bytes())).unwrap();
            }),
            ("trim", |x| assert_eq!(x.trim(10).unwrap(), 10)),
            ("relabel", |x| x.relabel(Shape::from_slice(&[100, 400]), true).unwrap()),
            ("reserve", |x| {
                x.reserve(1000).unwrap();
            }),
            ("overwrite", |x| {
                let other = test_array("<f4", &[400, 100], false, &[3; 160_000])
                    .npy_bytes()
                    .to_vec();
                let reused = x.overwrite_in_place(&parsed(&other));
                assert!(!(reused && x.is_adopted()), "never written in place");
                if !reused {
                    *x = NpArray::from_npy(&other).unwrap();
                }
            }),
            ("contiguous then write", |x| {
                x.make_contiguous().unwrap();
                x.data_mut()[0] = 42;
            }),
        ];
        for (name, change) in changes {
            let mut adopted = adopted_array(&original, &live);
            let mut owned = original.clone();
            change(&mut adopted);
            change(&mut owned);
            assert_eq!(adopted.npy_bytes(), owned.npy_bytes(), "{name}");
        }
        drop((a, b));
        assert_eq!(live.get(), 0, "every owner released");
        // data_mut refuses an adopted value rather than write to bytes it does not own.
        let mut c = adopted_array(&original, &live);
        let write = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| c.data_mut()[0] = 1));
        assert!(write.is_err());
        assert_eq!(c.npy_bytes(), original.npy_bytes());
    }

    #[test]
    fn only_canonical_large_payloads_are_adopted() {
        let live = std::rc::Rc::new(std::cell::Cell::new(0));
        let try_adopt = |npy: &[u8], any_size: bool| {
            let owner = lend(npy, &live);
            let parsed = npy::parse(npy).unwrap();
            let Some(header) = header_cache::canonical_header(&parsed, npy) else {
                return false;
            };
            NpArray::adopt(&parsed, header, owner, any_size).is_ok()
        };
        let small = test_array("<f4", &[100], false, &[0; 400]);
        assert!(!try_adopt(&small.npy_bytes(), true), "under 32 KiB: copied");
        // 2^k bytes of data: only when told to, the copy's block is smaller.
        let power = test_array("<f4", &[1 << 14], false, &[0; 1 << 16]);
        assert!(!try_adopt(&power.npy_bytes(), false));
        assert!(try_adopt(&power.npy_bytes(), true));
        let other = test_array("<f4", &[20_000], false, &[0; 80_000]);
        assert!(try_adopt(&other.npy_bytes(), false));
        // A header np.save would not write (another spacing, same length) is copied.
        let mut odd = other.npy_bytes().to_vec();
        let at = odd.windows(15).position(|w| w == b"'descr': '<f4',").unwrap();
        odd[at..at + 15].copy_from_slice(b"'descr':'<f4' ,");
        assert!(npy::parse(&odd).is_ok());
        assert!(!try_adopt(&odd, true));
        assert_eq!(live.get(), 0);
    }

    #[test]
    fn each_layout_aligns_its_data() {
        let small = test_array("<f8", &[3], false, &[0; 24]);
        assert!(small.is_packed());
        assert_eq!(small.data().as_ptr() as usize % packed::DATA_ALIGN, 0);
        for n in [4096, 5000, 6000] {
            let big = test_array("|u1", &[n], false, &vec![1; n as usize]);
            assert!(!big.is_packed());
            assert_eq!(big.data().as_ptr() as usize % ARRAY_ALIGN, 0, "{n}");
        }
        let record = test_array("|S3", &[2], false, b"abcdef");
        assert!(!record.is_packed(), "only numeric dtypes are packed");
        assert_eq!(record.data().as_ptr() as usize % ARRAY_ALIGN, 0);
    }

    /// Every layout gives back np.save's bytes, and the full layout keeps the
    /// header in its buffer exactly when that costs no bigger block.
    #[test]
    fn every_layout_roundtrips_byte_exact() {
        for (typestr, n) in [
            ("<f4", 16u64),
            ("<f4", 384),
            ("<f4", 1024),
            ("<f4", 1025),
            ("|u1", 5000),
            ("|u1", 6000),
            ("<c16", 3),
            (">i8", 512),
            ("|S2", 8),
        ] {
            let itemsize = Dtype::from_typestr(typestr).unwrap().itemsize();
            let data: Vec<u8> = (0..n * itemsize).map(|i| (i * 7 % 251) as u8).collect();
            let a = test_array(typestr, &[n], false, &data);
            let again = NpArray::from_npy(&a.npy_bytes()).unwrap();
            assert_eq!(again.npy_bytes(), a.npy_bytes(), "{typestr} {n}");
            assert_eq!(again.data(), &data[..]);
            assert_eq!(again.clone().npy_bytes(), a.npy_bytes());
            let borrowed = matches!(a.npy_bytes(), Cow::Borrowed(_));
            let header_len = npy::write_header(&test_meta(a.dtype(), a.shape(), false)).len();
            // Packed: kept when it leaves the block in its size class (16 bytes of metadata).
            let class = crate::layout::size_class::class;
            let expected = if a.is_packed() {
                class(16 + header_len + data.len()) == class(16 + data.len())
            } else {
                crate::layout::full::keeps_header(header_len, data.len())
            };
            assert_eq!(borrowed, expected, "{typestr} {n}");
        }
    }

    #[test]
    fn data_is_aligned_and_follows_the_header() {
        let data: Vec<u8> = (0..24u8).collect();
        let a = test_array("<f8", &[3], false, &data);
        assert_eq!(a.data(), &data[..]);
        let again = NpArray::from_npy(&a.npy_bytes()).unwrap();
        assert_eq!(again.npy_bytes(), a.npy_bytes());
        assert_eq!((a.size(), a.nbytes(), a.itemsize(), a.ndim()), (3, 24, 8, 1));
    }

    #[test]
    fn typed_views_match_the_dtype() {
        let values = [1.5f32, -2.0, 3.25];
        let a = test_array("<f4", &[3], false, bytemuck::cast_slice(&values));
        assert_eq!(a.as_slice::<f32>(), Some(&values[..]));
        assert_eq!(a.as_slice::<i32>(), None);
        let c = [Complex::new(1.0f64, 2.0)];
        let a = test_array("<c16", &[], false, bytemuck::cast_slice(&c));
        assert_eq!(a.as_slice::<Complex<f64>>(), Some(&c[..]));
        let h = [f16::from_f32(0.5)];
        assert_eq!(
            test_array("<f2", &[1], false, bytemuck::cast_slice(&h)).as_slice::<f16>(),
            Some(&h[..])
        );
        assert_eq!(
            test_array(">f4", &[1], false, &[0; 4]).as_slice::<f32>(),
            None,
            "big-endian has no native view"
        );
    }

    #[test]
    fn refuses_mismatched_data() {
        let e = NpArray::from_parts(
            Meta::new(Dtype::from_typestr("<f8").unwrap(), Shape::from_slice(&[2]), false),
            &[0; 8],
        );
        assert!(e.unwrap_err().to_string().contains("data is 8 bytes, expected 16"));
    }

    fn parsed(npy: &[u8]) -> ParsedNpy<'_> {
        npy::parse(npy).unwrap()
    }

    #[test]
    fn append_grows_along_axis_0_in_c_order() {
        let mut a = test_array("<i2", &[1, 2], false, &[1, 0, 2, 0]);
        let rows = test_array("<i2", &[2, 2], false, &[3, 0, 4, 0, 5, 0, 6, 0]);
        a.append(&parsed(&rows.npy_bytes())).unwrap();
        let one_row = test_array("<i2", &[2], false, &[7, 0, 8, 0]);
        a.append(&parsed(&one_row.npy_bytes())).unwrap();
        assert_eq!(a.shape(), &[4, 2]);
        assert_eq!(a.as_slice::<i16>().unwrap(), &[1, 2, 3, 4, 5, 6, 7, 8]);
        let fresh = test_array("<i2", &[4, 2], false, a.data());
        assert_eq!(a.npy_bytes(), fresh.npy_bytes(), "header rewritten as np.save would");
        assert_eq!(a.data().as_ptr() as usize % ARRAY_ALIGN, 0);
        assert!(!a.is_packed(), "appending moves a packed value to the full layout");
    }

    /// The data as one vector, whichever segments hold it.
    fn joined(a: &NpArray) -> Vec<u8> {
        let (head, tail) = a.segments();
        [head, tail].concat()
    }

    #[test]
    fn a_rolling_buffer_matches_the_tail_and_wraps_instead_of_moving() {
        // 10-byte rows: the dead prefix is rarely a multiple of 64 bytes.
        let row = |i: u64| test_array("<i2", &[1, 5], false, &[i as u8; 10]);
        let mut a = row(0);
        let mut expected: Vec<u8> = vec![0; 10];
        let (mut wraps, mut was_wrapped, mut moves) = (0, false, 0);
        // Where the byte at `at` of the data lies.
        let address = |a: &NpArray, at: usize| {
            let (first, second) = a.data_range(at..at + 1);
            if first.is_empty() {
                second.as_ptr() as usize
            } else {
                first.as_ptr() as usize
            }
        };
        for i in 1..5000u64 {
            let keep = 300 + i % 7;
            // The newest row, which stays (as the second newest).
            let before = (address(&a, a.nbytes() as usize - 10), a.memory_usage(|_, n| n));
            a.append(&parsed(&row(i).npy_bytes())).unwrap();
            expected.extend_from_slice(&[i as u8; 10]);
            assert_eq!(a.trim(keep).unwrap(), keep.min(i + 1));
            let live = expected.len().min(keep as usize * 10);
            expected.drain(..expected.len() - live);
            assert_eq!(joined(&a), expected, "{i}");
            assert_eq!(a.shape(), &[keep.min(i + 1), 5]);
            let fresh = test_array("<i2", a.shape(), false, &expected);
            assert_eq!(a.npy_bytes(), fresh.npy_bytes(), "{i}");
            let (head, tail) = a.segments();
            assert_eq!(head.as_ptr() as usize % 2, 0, "aligned to the element size");
            assert_eq!(tail.as_ptr() as usize % ARRAY_ALIGN, 0);
            assert!(!a.is_packed(), "a rolling buffer is full");
            let after = (address(&a, a.nbytes() as usize - 20), a.memory_usage(|_, n| n));
            moves += usize::from(i > 1000 && before != after);
            wraps += usize::from(a.is_wrapped() && !was_wrapped);
            was_wrapped = a.is_wrapped();
            assert_eq!(a.layout_name(), if was_wrapped { "wrapped" } else { "full" });
        }
        // ~3000-byte buffer, 10 bytes a step: a wrap every ~150 steps, and
        // once the capacity has settled the kept rows never move.
        assert!(wraps > 5000 / 300, "{wraps} wraps");
        assert_eq!(moves, 0, "kept rows moved in the steady state");
        assert_eq!(a.trim(0).unwrap(), 0);
        assert_eq!(a.shape(), &[0, 5]);
        assert!(!a.is_wrapped(), "an empty buffer is contiguous");
        assert!(a.trim(3).is_ok());
        let mut s = test_array("<f8", &[], false, &[0; 8]);
        assert!(s.trim(0).unwrap_err().to_string().contains("0-d"));
    }

    /// A `|u1` (n, 4) array with room for `capacity` rows, `rows` rows of
    /// which are dropped again: appending then wraps around.
    fn ring(capacity: u64, dropped: u64, live: u64) -> NpArray {
        let rows: Vec<u8> = (0..(dropped + live) * 4).map(|i| i as u8).collect();
        let mut a = test_array("|u1", &[0, 4], false, &[]);
        a.reserve(capacity).unwrap();
        a.append(&parsed(
            &test_array("|u1", &[dropped + live, 4], false, &rows).npy_bytes(),
        ))
        .unwrap();
        a.trim(live).unwrap();
        a
    }

    fn append_rows(a: &mut NpArray, first: u8, n: u64) -> Vec<u8> {
        let bytes: Vec<u8> = (0..n as usize * 4).map(|i| first.wrapping_add(i as u8)).collect();
        a.append(&parsed(&test_array("|u1", &[n, 4], false, &bytes).npy_bytes()))
            .unwrap();
        bytes
    }

    #[test]
    fn appends_wrap_into_the_dead_prefix_and_trims_unwrap() {
        // 1100 rows of room (4400 bytes, past the packed layout), 1000 of them dropped, 100 live.
        let mut a = ring(1100, 1000, 100);
        let mut expected = joined(&a);
        let block = match a.repr() {
            Repr::Full(f) => f.block(),
            _ => unreachable!(),
        };
        // 150 rows do not fit after the data: they go to the start of the buffer.
        expected.extend(append_rows(&mut a, 7, 150));
        assert!(a.is_wrapped());
        assert_eq!(a.layout_name(), "wrapped");
        assert_eq!((a.shape(), a.nbytes()), (&[250u64, 4][..], 1000));
        assert_eq!(joined(&a), expected);
        assert_eq!(a.segments().1.len(), 150 * 4);
        assert_eq!(a.segments().1.as_ptr() as usize % ARRAY_ALIGN, 0);
        assert!(matches!(a.npy_bytes(), Cow::Owned(_)), "no header while wrapped");
        assert_eq!(
            a.npy_bytes(),
            test_array("|u1", &[250, 4], false, &expected).npy_bytes()
        );
        // More appends fill the gap; trims advance through the head, then into the tail.
        expected.extend(append_rows(&mut a, 99, 50));
        assert_eq!(a.trim(120).unwrap(), 120);
        expected.drain(..expected.len() - 480);
        assert!(!a.is_wrapped(), "the head was dropped: contiguous again");
        assert_eq!(joined(&a), expected);
        assert_eq!(a.data(), &expected[..]);
        match a.repr() {
            Repr::Full(f) => assert_eq!(f.block(), block, "never reallocated"),
            _ => unreachable!(),
        }
        // A clone, a reserve and the RDB strings see the same bytes.
        let mut b = ring(1100, 1000, 100);
        expected = joined(&b);
        expected.extend(append_rows(&mut b, 1, 300));
        assert!(b.is_wrapped());
        assert_eq!(b.clone().npy_bytes(), b.npy_bytes());
        assert!(!b.clone().is_wrapped());
        let strings: Vec<u8> = crate::rdb::data_strings(&b).flat_map(|s| s.to_vec()).collect();
        assert_eq!(strings, expected);
        b.reserve(2000).unwrap();
        assert!(
            !b.is_wrapped(),
            "reserving past the ring copies it into a bigger buffer"
        );
        assert_eq!(b.data(), &expected[..]);
    }

    #[test]
    fn a_full_ring_grows_into_a_contiguous_buffer() {
        let mut a = ring(1100, 1000, 100);
        let mut expected = joined(&a);
        expected.extend(append_rows(&mut a, 3, 900));
        assert!(a.is_wrapped());
        // 1000 live rows in 1100 rows of room: 200 more do not fit anywhere.
        expected.extend(append_rows(&mut a, 5, 200));
        assert!(!a.is_wrapped());
        assert_eq!(a.data(), &expected[..]);
        assert_eq!(
            a.npy_bytes(),
            test_array("|u1", &[1200, 4], false, &expected).npy_bytes()
        );
        let Repr::Full(f) = a.repr() else { unreachable!() };
        assert!(f.data_capacity() >= 1100 * 4 * 3 / 2, "grown by at least half");
    }

    #[test]
    fn make_contiguous_moves_the_tail_or_rotates_in_place() {
        for (capacity, dropped, appended) in [(1100, 1000, 150), (1100, 1000, 900)] {
            let mut a = ring(capacity, dropped, 100);
            let mut expected = joined(&a);
            expected.extend(append_rows(&mut a, 11, appended));
            assert!(a.is_wrapped());
            let before = a.memory_usage(|_, n| n);
            let Repr::Full(f) = a.repr() else { unreachable!() };
            let block = f.block();
            a.make_contiguous().unwrap();
            assert!(!a.is_wrapped());
            assert_eq!(a.data(), &expected[..], "{appended}");
            assert_eq!(a.data().as_ptr() as usize % 4, 0);
            let Repr::Full(f) = a.repr() else { unreachable!() };
            assert_eq!(
                (f.block(), a.memory_usage(|_, n| n)),
                (block, before),
                "nothing allocated"
            );
            assert_eq!(
                a.npy_bytes(),
                test_array("|u1", a.shape(), false, &expected).npy_bytes()
            );
            // Appending after it works as on any contiguous buffer.
            expected.extend(append_rows(&mut a, 1, 3));
            assert_eq!(joined(&a), expected);
        }
    }

    #[test]
    fn a_wrapped_buffer_refuses_to_be_read_as_one_slice() {
        let mut a = ring(1100, 1000, 100);
        append_rows(&mut a, 0, 150);
        assert!(a.is_wrapped());
        let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| a.data().len()));
        assert!(
            read.is_err(),
            "data() of a wrapped buffer panics rather than return wrong bytes"
        );
    }

    #[test]
    fn runs_map_to_one_segment_or_none() {
        let mut a = ring(1100, 1000, 100);
        append_rows(&mut a, 0, 150);
        // Head: rows 0..100 (bytes 0..400), tail: rows 100..250.
        let expected = joined(&a);
        for (run, inside) in [(0..400, true), (400..1000, true), (396..404, false), (800..1000, true)] {
            let (x, y) = a.data_range(run.clone());
            assert_eq!([x, y].concat(), &expected[run.clone()]);
            let found = a.run_in_block_mut(run.clone()).map(|(block, r)| block[r].to_vec());
            match found {
                Some(bytes) => assert!(inside && bytes == expected[run]),
                None => assert!(!inside),
            }
        }
    }

    #[test]
    fn trimming_a_fortran_array_drops_leading_columns() {
        let dtype = || Dtype::from_typestr("|u1").unwrap();
        let mut a = NpArray::from_parts(
            Meta::new(dtype(), Shape::from_slice(&[2, 3]), true),
            &[1, 2, 3, 4, 5, 6],
        )
        .unwrap();
        assert_eq!(a.trim(2).unwrap(), 2);
        assert_eq!((a.shape(), a.data()), (&[2u64, 2][..], &[3u8, 4, 5, 6][..]));
        let big: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        let mut b = NpArray::from_parts(Meta::new(dtype(), Shape::from_slice(&[100, 2000]), true), &big).unwrap();
        assert_eq!(b.trim(1500).unwrap(), 1500);
        assert_eq!(b.data(), &big[50_000..]);
        let fresh = NpArray::from_parts(
            Meta::new(dtype(), Shape::from_slice(&[100, 1500]), true),
            &big[50_000..],
        )
        .unwrap();
        assert_eq!(b.npy_bytes(), fresh.npy_bytes());
    }

    #[test]
    fn trimming_a_fortran_array_to_one_column_stores_it_as_np_save_would() {
        let dtype = || Dtype::from_typestr("<f4").unwrap();
        let data: Vec<u8> = (0..48u8).collect();
        for rows in [3u64, 300] {
            let data: Vec<u8> = data.iter().cycle().take(rows as usize * 4 * 4).copied().collect();
            let mut a = NpArray::from_parts(Meta::new(dtype(), Shape::from_slice(&[rows, 4]), true), &data).unwrap();
            assert_eq!(a.trim(1).unwrap(), 1);
            assert!(!a.saved_fortran());
            let fresh = NpArray::from_parts(
                Meta::new(dtype(), Shape::from_slice(&[rows, 1]), false),
                &data[data.len() * 3 / 4..],
            )
            .unwrap();
            assert_eq!(a.npy_bytes(), fresh.npy_bytes());
        }
    }

    #[test]
    fn append_grows_the_last_axis_in_fortran_order() {
        let dtype = || Dtype::from_typestr("|u1").unwrap();
        let mut a = NpArray::from_parts(Meta::new(dtype(), Shape::from_slice(&[2, 2]), true), &[1, 2, 3, 4]).unwrap();
        let cols = NpArray::from_parts(Meta::new(dtype(), Shape::from_slice(&[2, 2]), true), &[5, 6, 7, 8]).unwrap();
        a.append(&parsed(&cols.npy_bytes())).unwrap();
        assert_eq!(a.shape(), &[2, 4]);
        assert_eq!(a.data(), &[1, 2, 3, 4, 5, 6, 7, 8]);
        let one_col = test_array("|u1", &[2, 1], false, &[9, 10]);
        a.append(&parsed(&one_col.npy_bytes())).unwrap();
        assert_eq!(a.shape(), &[2, 5]);
        let no_col = test_array("|u1", &[2, 0], false, &[]);
        a.append(&parsed(&no_col.npy_bytes())).unwrap();
        assert_eq!(a.shape(), &[2, 5]);
        let c_cols = test_array("|u1", &[2, 2], false, &[0; 4]);
        let err = a.append(&parsed(&c_cols.npy_bytes())).unwrap_err().to_string();
        assert!(
            err.contains("C order but the stored array is in Fortran order"),
            "{err}"
        );
    }

    #[test]
    fn append_refuses_mismatches_without_changing_anything() {
        let mut a = test_array("<f4", &[2, 3], false, &[0; 24]);
        let before = a.npy_bytes().to_vec();
        for (other, expected) in [
            (
                test_array("<f8", &[1, 3], false, &[0; 24]),
                "dtype '<f8' does not match the stored '<f4'",
            ),
            (
                test_array("<f4", &[1, 2], false, &[0; 8]),
                "shape (1, 2) does not fit (2, 3) along axis 0",
            ),
            (test_array("<f4", &[1, 1, 3], false, &[0; 12]), "does not fit"),
        ] {
            let err = a.append(&parsed(&other.npy_bytes())).unwrap_err().to_string();
            assert!(err.starts_with("cannot append: ") && err.contains(expected), "{err}");
            assert_eq!(a.npy_bytes(), &before[..]);
        }
        let mut scalar = test_array("<f4", &[], false, &[0; 4]);
        let err = scalar
            .append(&parsed(&test_array("<f4", &[], false, &[0; 4]).npy_bytes()))
            .unwrap_err();
        assert!(err.to_string().contains("0-d"));
    }

    #[test]
    fn reserved_room_takes_appends_without_moving_the_buffer() {
        let mut a = test_array("<u4", &[1, 3], false, &[0; 12]);
        a.reserve(1000).unwrap();
        let (ptr, capacity) = match a.repr() {
            Repr::Full(f) => f.block(),
            _ => panic!("a reserved array is in the full layout"),
        };
        assert!(capacity >= 1000 * 12);
        let row: Vec<u8> = (0..12).collect();
        let npy = test_array("<u4", &[1, 3], false, &row);
        let npy = npy.npy_bytes();
        for _ in 0..999 {
            a.append(&parsed(&npy)).unwrap();
        }
        assert_eq!(a.shape(), &[1000, 3]);
        assert_eq!(&a.data()[12..24], &row[..]);
        match a.repr() {
            Repr::Full(f) => assert_eq!(f.block(), (ptr, capacity)),
            _ => unreachable!(),
        }
        // Less than the length is no change; a 0-d array and overflow are refused.
        assert_eq!(a.reserve(5).unwrap(), 1000 * 12);
        assert!(test_array("<u4", &[], false, &[0; 4]).reserve(2).is_err());
        let before = a.data().to_vec();
        assert!(a.reserve(u64::MAX).is_err());
        assert_eq!(a.data(), &before[..]);
    }

    #[test]
    fn many_appends_grow_geometrically() {
        let mut a = test_array("<u4", &[0, 4], false, &[]);
        let row = test_array("<u4", &[4], false, &[9; 16]);
        let mut reallocations = 0;
        let row = row.npy_bytes();
        for _ in 0..10_000 {
            let before = a.memory_usage(|_, n| n);
            a.append(&parsed(&row)).unwrap();
            reallocations += usize::from(a.memory_usage(|_, n| n) != before);
        }
        assert_eq!(a.shape(), &[10_000, 4]);
        assert!(reallocations < 30, "{reallocations} reallocations");
        assert!(a.memory_usage(|_, n| n) < 2 * 160_000 + 1024, "slack stays under half");
    }

    #[test]
    fn pieces_split_along_the_growth_axis() {
        let a = test_array("<i8", &[10, 3], false, &[0; 240]);
        assert_eq!(a.pieces(1 << 20), vec![(Shape::from_slice(&[10, 3]), 0..240)]);
        let pieces = a.pieces(100);
        let shapes: Vec<_> = pieces.iter().map(|(s, _)| s[0]).collect();
        assert_eq!(shapes, [4, 4, 2]);
        assert_eq!(pieces.last().unwrap().1, 192..240);
    }

    #[test]
    fn overwrite_reuses_a_buffer_of_the_right_size_only() {
        let mut a = test_array("<f4", &[4, 1024], false, &[0; 16384]);
        let ptr = a.data().as_ptr();
        let payload = test_array("<i8", &[2, 1024], true, &[7; 16384]).npy_bytes().to_vec();
        assert!(a.overwrite_in_place(&npy::parse(&payload).unwrap()));
        assert_eq!((&a.npy_bytes()[..], a.data().as_ptr()), (&payload[..], ptr));
        let small = test_array("|u1", &[2], false, &[1, 2]).npy_bytes().to_vec();
        assert!(
            !a.overwrite_in_place(&npy::parse(&small).unwrap()),
            "a small value is packed instead"
        );
        let half = test_array("|u1", &[8192], false, &[1; 8192]).npy_bytes().to_vec();
        assert!(!a.overwrite_in_place(&npy::parse(&half).unwrap()), "too much slack");
        assert_eq!(a.npy_bytes(), &payload[..], "unchanged when refused");
    }

    #[test]
    fn packed_values_are_overwritten_in_place_by_the_same_size() {
        let mut a = test_array("<f4", &[16], false, &[0; 64]);
        let ptr = a.data().as_ptr();
        let payload = test_array("<i4", &[16], false, &[9; 64]).npy_bytes().to_vec();
        assert!(a.overwrite_in_place(&npy::parse(&payload).unwrap()));
        assert_eq!((&a.npy_bytes()[..], a.data().as_ptr()), (&payload[..], ptr));
        let other = test_array("<i4", &[5], false, &[9; 20]).npy_bytes().to_vec();
        assert!(!a.overwrite_in_place(&npy::parse(&other).unwrap()));
        let big = test_array("|u1", &[8192], false, &[1; 8192]).npy_bytes().to_vec();
        assert!(
            !a.overwrite_in_place(&npy::parse(&big).unwrap()),
            "large values are not packed"
        );
        assert_eq!(a.npy_bytes(), &payload[..]);
    }

    #[test]
    fn builder_reserves_at_most_the_limit_and_ends_exact() {
        let dtype = Dtype::from_typestr("|u1").unwrap();
        // A shape claiming 2^40 bytes: only the limit is reserved before data arrives.
        let mut huge =
            NpArray::builder(Meta::new(dtype.clone(), Shape::from_slice(&[1 << 40]), false), 1 << 20).unwrap();
        assert!(huge.full.data_capacity() <= (1 << 20) + 64);
        // Then at most BUILDER_GROWTH times what arrived.
        huge.push(&[1; 1 << 20]).unwrap();
        huge.push(&[2; 10]).unwrap();
        assert!(huge.full.data_capacity() <= BUILDER_GROWTH * (1 << 20) + 64);
        // An array of a few strings grows once, straight to its exact size.
        let n = 3 << 20;
        let mut b = NpArray::builder(Meta::new(dtype.clone(), Shape::from_slice(&[n]), false), 1 << 20).unwrap();
        b.push(&[5; 1 << 20]).unwrap();
        b.push(&[5; 1 << 20]).unwrap();
        assert!((n as usize..n as usize + 64).contains(&b.full.data_capacity()));
        let n = 5 << 20;
        let mut b = NpArray::builder(Meta::new(dtype, Shape::from_slice(&[n]), false), 1 << 20).unwrap();
        for _ in 0..5 {
            b.push(&[3; 1 << 20]).unwrap();
        }
        let a = b.finish().unwrap();
        within_alignment_slack(a.memory_usage(|_, n| n), 16 + std::mem::size_of::<Boxed>() + (5 << 20));
        assert!(a.data().iter().all(|&b| b == 3));
        let mut small = NpArray::builder(
            Meta::new(Dtype::from_typestr("<f4").unwrap(), Shape::from_slice(&[16]), false),
            1 << 20,
        )
        .unwrap();
        small.push(&[1; 64]).unwrap();
        assert!(small.finish().unwrap().is_packed());
    }

    #[test]
    fn memory_usage_counts_every_block() {
        let packed = test_array("|u1", &[1000], false, &[7; 1000]);
        // The block is padded to a multiple of 16 bytes (see layout::packed).
        assert_eq!(
            packed.memory_usage(|_, n| n),
            16 + (16 + 1000usize).next_multiple_of(16)
        );
        let full = test_array("|S1", &[1000], false, &[7; 1000]);
        let header = 128;
        within_alignment_slack(
            full.memory_usage(|_, n| n),
            16 + std::mem::size_of::<Boxed>() + (header + 1000usize).next_multiple_of(64),
        );
        let exact = test_array("|u1", &[4096], false, &[7; 4096]);
        within_alignment_slack(exact.memory_usage(|_, n| n), 16 + std::mem::size_of::<Boxed>() + 4096);
    }

    /// `expected`, plus at most the padding a non-jemalloc allocator (the
    /// tests' system malloc) costs to reach a 64-byte boundary.
    fn within_alignment_slack(actual: usize, expected: usize) {
        assert!(
            (expected..=expected + ARRAY_ALIGN).contains(&actual),
            "{actual} vs {expected}"
        );
    }
}
