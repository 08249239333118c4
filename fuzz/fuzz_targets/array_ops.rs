//! A stored value through a random series of the operations that move it
//! between layouts (packed, full with the header kept, full with the data at
//! its exact size, adopted): NP.APPEND, NP.TRIM / MAXLEN, NP.SET over it in place,
//! NP.SET of a large canonical `.npy` that keeps the argument (adopted: read
//! in place, moved to a buffer of its own by every change),
//! relabelling (NP.RESHAPE), in-place element writes (NP.SETSLICE, NP.UPDATE),
//! COPY, and RDB save and load at every encoding version. Rolling buffers wrap
//! around (data in two segments); element writes make them contiguous first,
//! as the commands do. After each step the value must equal a fresh value
//! built from a plain model (shape, order, bytes): same `.npy` bytes, data
//! aligned (adopted data: where the argument put it), RDB round trip exact.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redis_numpy::array::MIN_ADOPTED;
use redis_numpy::dtype::Dtype;
use redis_numpy::layout::adopted::Owner;
use redis_numpy::layout::header_cache;
use redis_numpy::meta::Meta;
use redis_numpy::{npy, rdb, NpArray};

const DTYPES: [&str; 8] = [
    "'|u1'",
    "'<f4'",
    "'>i8'",
    "'<c16'",
    "'|b1'",
    "'|S3'",
    "[('a', '<i2'), ('b', '|u1', (3,))]",
    "'<M8[s]'",
];
/// Keeps every case fast: the 4 KiB packed limit and the first powers of two are well inside.
const MAX_BYTES: usize = 1 << 18;

struct Model {
    dtype: Dtype,
    shape: Vec<u64>,
    fortran: bool,
    data: Vec<u8>,
}

impl Model {
    fn fresh(&self) -> NpArray {
        NpArray::from_parts(
            Meta::new(self.dtype.clone(), self.shape.iter().copied().collect(), self.fortran),
            &self.data,
        )
        .unwrap()
    }

    fn growth_axis(&self) -> usize {
        if self.fortran {
            self.shape.len() - 1
        } else {
            0
        }
    }

    fn slab(&self) -> usize {
        let g = self.growth_axis();
        let rest: u64 = self
            .shape
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != g)
            .map(|(_, &d)| d)
            .product();
        (rest * self.dtype.itemsize()) as usize
    }

    /// The same array with `len` entries along its growth axis, filled from
    /// `arg`, and its `.npy` bytes (what NP.SET would be sent).
    fn with_length(&self, len: u64, arg: u8) -> (Model, Vec<u8>) {
        let mut shape = self.shape.clone();
        shape[self.growth_axis()] = len;
        let n = shape.iter().product::<u64>() as usize * self.dtype.itemsize() as usize;
        let new = Model {
            data: bytes(n, arg, &self.dtype),
            dtype: self.dtype.clone(),
            shape,
            fortran: self.fortran,
        };
        let payload = new.fresh().npy_bytes().to_vec();
        (new, payload)
    }
}

/// An argument as Redis hands it over: the bytes 9 bytes into their block
/// (an sds string's header), so never aligned for typed access.
struct Argument(Vec<u8>);

const ARGUMENT_OFFSET: usize = 9;

impl Argument {
    fn new(npy: &[u8]) -> Box<dyn Owner> {
        let mut block = vec![0xEE; ARGUMENT_OFFSET];
        block.extend_from_slice(npy);
        Box::new(Argument(block))
    }
}

impl Owner for Argument {
    fn bytes(&self) -> &[u8] {
        &self.0[ARGUMENT_OFFSET..]
    }
    fn allocated(&self) -> usize {
        self.0.capacity()
    }
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}

fn bytes(n: usize, seed: u8, dtype: &Dtype) -> Vec<u8> {
    let mut out: Vec<u8> = (0..n).map(|i| (i as u8).wrapping_mul(29).wrapping_add(seed)).collect();
    if dtype.descr() == "'|b1'" {
        out.iter_mut().for_each(|b| *b &= 1);
    }
    out
}

fn check(a: &NpArray, m: &Model, step: usize) {
    let fresh = m.fresh();
    assert_eq!(a.shape(), &m.shape[..], "step {step}: shape");
    assert_eq!(a.order(), fresh.order(), "step {step}: order");
    let (head, tail) = a.segments();
    assert!([head, tail].concat() == m.data, "step {step}: data");
    assert_eq!(a.is_wrapped(), !tail.is_empty(), "step {step}: segments");
    assert!(
        a.npy_bytes() == fresh.npy_bytes(),
        "step {step}: .npy bytes differ from a fresh value's"
    );
    // Full values start their data at a 64-byte boundary; dropped entries
    // (NP.TRIM / MAXLEN) move it on by whole elements, so it stays aligned for
    // the element: to the largest power of two dividing the item size, up to 64.
    let align = if a.is_adopted() {
        1 // where the argument put it: never written, typed readers move it first
    } else if a.is_packed() {
        redis_numpy::layout::packed::DATA_ALIGN
    } else {
        1 << m
            .dtype
            .itemsize()
            .trailing_zeros()
            .min(npy::ARRAY_ALIGN.trailing_zeros())
    };
    assert_eq!(head.as_ptr() as usize % align, 0, "step {step}: data is not aligned");
    if !tail.is_empty() {
        assert_eq!(tail.as_ptr() as usize % align, 0, "step {step}: tail is not aligned");
    }
    assert!(a.memory_usage(|_, n| n) >= m.data.len());
}

fuzz_target!(|data: &[u8]| {
    let [kind, dims, flags, ops @ ..] = data else {
        return;
    };
    let dtype = Dtype::from_descr_text(DTYPES[*kind as usize % DTYPES.len()]).unwrap();
    let ndim = 1 + (dims & 3) as usize;
    let mut shape: Vec<u64> = (0..ndim).map(|i| (u64::from(*dims) >> (2 * i)) % 4 + 1).collect();
    shape[0] = u64::from(*flags >> 1);
    let fortran = flags & 1 == 1;
    if fortran {
        shape.rotate_left(1); // the growth axis is the last
    }
    let n = shape.iter().product::<u64>() as usize * dtype.itemsize() as usize;
    let mut m = Model {
        data: bytes(n, *kind, &dtype),
        dtype,
        shape,
        fortran,
    };
    let mut a = m.fresh();
    m.fortran = a.saved_fortran(); // as np.save writes it
    check(&a, &m, 0);

    for (step, op) in ops.chunks_exact(2).enumerate() {
        let (code, arg) = (op[0] % 9, op[1]);
        match code {
            0 | 1 => {
                // NP.APPEND of `arg % 64` entries, or one entry without the growth axis.
                let g = m.growth_axis();
                let mut rows_shape = m.shape.clone();
                let k = if code == 0 { u64::from(arg % 64) } else { 1 };
                rows_shape[g] = k;
                if code == 1 {
                    rows_shape.remove(g);
                }
                let rows_bytes = bytes(k as usize * m.slab(), arg, &m.dtype);
                if m.data.len() + rows_bytes.len() > MAX_BYTES {
                    continue;
                }
                let rows = NpArray::from_parts(
                    Meta::new(m.dtype.clone(), rows_shape.into_iter().collect(), m.fortran),
                    &rows_bytes,
                )
                .unwrap();
                let payload = rows.npy_bytes().to_vec();
                let parsed = npy::parse(&payload).unwrap();
                assert_eq!(a.check_append(&parsed), Ok((m.data.len() + rows_bytes.len()) as u64));
                assert_eq!(a.append(&parsed), Ok(g), "step {step}: the axis grown");
                m.shape[g] += k;
                m.data.extend_from_slice(&rows_bytes);
            }
            2 => {
                // NP.TRIM / MAXLEN.
                let g = m.growth_axis();
                let keep = u64::from(arg);
                let length = m.shape[g];
                assert_eq!(a.trim(keep), Ok(keep.min(length)));
                if keep < length {
                    let dropped = (length - keep) as usize * m.slab();
                    m.data.drain(..dropped);
                    m.shape[g] = keep;
                }
            }
            3 => {
                // NP.SET over the value: in place when it fits, else a new value.
                let (new, payload) = m.with_length(u64::from(arg % 128), arg);
                let parsed = npy::parse(&payload).unwrap();
                if !a.overwrite_in_place(&parsed) {
                    a = NpArray::from_parsed(&parsed).unwrap();
                }
                m = new;
            }
            4 => {
                // Relabel (NP.RESHAPE keeps the bytes when the order allows): to 1-D,
                // or to (size / d, d) in the model's order.
                let size: u64 = m.shape.iter().product();
                let d = u64::from(arg % 8) + 1;
                let shape: Vec<u64> = if arg & 8 == 0 || size % d != 0 {
                    vec![size]
                } else if m.fortran {
                    vec![d, size / d]
                } else {
                    vec![size / d, d]
                };
                a.relabel(shape.iter().copied().collect(), m.fortran).unwrap();
                m.shape = shape;
            }
            5 => {
                // An element write in place (NP.SETSLICE, NP.UPDATE).
                if !m.data.is_empty() {
                    let i = arg as usize * 7919 % m.data.len();
                    let v = if m.dtype.descr() == "'|b1'" { arg & 1 } else { arg };
                    a.make_contiguous()
                        .expect("an in-place write makes the array contiguous and owned");
                    a.data_mut()[i] = v;
                    m.data[i] = v;
                }
            }
            6 => a = a.clone(), // COPY
            8 => {
                // NP.SET of a canonical .npy of at least MIN_ADOPTED bytes, kept
                // where the argument is (at any size, as numpy.adopt-always).
                if m.slab() == 0 {
                    continue; // another axis is empty: no length makes 32 KiB
                }
                let len = (MIN_ADOPTED / m.slab() + 1 + usize::from(arg % 64)) as u64;
                if len as usize * m.slab() > MAX_BYTES {
                    continue;
                }
                let (new, payload) = m.with_length(len, arg);
                let (parsed, header) = header_cache::parse_canonical(&payload).unwrap();
                let header = header.expect("the header np.save writes");
                a = NpArray::adopt(&parsed, header, Argument::new(&payload), true)
                    .unwrap_or_else(|_| panic!("a canonical .npy of {} bytes is adopted", payload.len()));
                assert!(a.is_adopted());
                m = new;
            }
            _ => {
                // RDB save and load, at the current and the first encoding version.
                let encver = if arg & 1 == 0 { rdb::ENCODING_VERSION } else { 1 };
                let data: Vec<u8> = rdb::data_strings(&a).flat_map(|s| s.to_vec()).collect();
                a = rdb::decode(encver, &rdb::encode_meta(&a), &data).expect("what the module saves, it loads");
            }
        }
        m.fortran = m.fresh().saved_fortran();
        check(&a, &m, step + 1);
    }
});
