//! Property tests of the pure layer.
//!
//! Generators build `descr` texts (every scalar kind, byte order and time unit;
//! nested structured dtypes with titles, padding and subarrays, bounded depth),
//! shapes of 0–6 dimensions (zeros included, bounded total bytes), both memory
//! orders and random data, and check that:
//! - `write_header` → `npy::parse` gives back the same metadata and data;
//! - `NpArray::from_parts(..).npy_bytes()` → `from_npy` is byte-identical;
//! - `rdb::encode_meta` + `rdb::decode` is the identity;
//! - `Dtype::from_descr_text(d.descr()) == d`;
//! - `pieces` + `append` (the AOF rewrite) rebuilds the array;
//! - random append / trim / MAXLEN / reserve sequences on a rolling buffer
//!   keep the contents, shape and `.npy` bytes of a plain `Vec` model, wrapped
//!   or not, and a buffer in its steady state moves no byte but the appended ones;
//! - `pyliteral::parse` and `npy::parse` never panic on arbitrary input or on
//!   mutations of valid payloads, and whatever they accept is canonical.
//!
//! Case counts are modest so `cargo test --lib` stays fast; set
//! `PROPTEST_CASES=10000` for a longer run. Failures are not persisted to
//! files: a failing case is printed, and belongs in a `#[test]` below.
//!
//! The test at the end runs the fuzz targets' properties on every checked-in
//! fixture; an input `fuzz/` finds to crash belongs beside it as a regression test.

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::Config;

use crate::dtype::Dtype;
use crate::meta::{test_meta, Meta, Order};
use crate::shape::{self, Shape};
use crate::{npy, pyliteral, rdb, NpArray};

/// Most data bytes a generated array holds.
const MAX_DATA_BYTES: u64 = 16 << 10;
/// Largest generated itemsize (structured dtypes with subarrays grow fast).
const MAX_ITEMSIZE: u64 = 4096;

/// `cases` unless `PROPTEST_CASES` is set.
fn config(cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------

/// A generated descr: its source text and the itemsize NumPy gives it.
#[derive(Debug, Clone)]
struct DescrSpec {
    text: String,
    itemsize: u64,
    is_void: bool,
}

const TIME_UNITS: &[&str] = &[
    "Y", "M", "W", "D", "h", "m", "s", "ms", "us", "μs", "ns", "ps", "fs", "as",
];

fn byte_order() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["<", ">", "|", "=", ""])
}

fn time_unit() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        prop::sample::select(TIME_UNITS).prop_map(|u| format!("[{u}]")),
        (1u32..=1000, prop::sample::select(TIME_UNITS)).prop_map(|(m, u)| format!("[{m}{u}]")),
    ]
}

/// Every scalar typestr NumPy saves: (type char and size, itemsize).
fn scalar_descr() -> impl Strategy<Value = DescrSpec> {
    let fixed = prop::sample::select(vec![
        ("b1", 1),
        ("i1", 1),
        ("i2", 2),
        ("i4", 4),
        ("i8", 8),
        ("u1", 1),
        ("u2", 2),
        ("u4", 4),
        ("u8", 8),
        ("f2", 2),
        ("f4", 4),
        ("f8", 8),
        ("f12", 12),
        ("f16", 16),
        ("c8", 8),
        ("c16", 16),
        ("c24", 24),
        ("c32", 32),
    ])
    .prop_map(|(t, n)| (t.to_owned(), n, false));
    let flexible = (prop::sample::select(vec!['S', 'U', 'V']), 0u64..=24).prop_map(|(c, n)| {
        let itemsize = if c == 'U' { 4 * n } else { n };
        (format!("{c}{n}"), itemsize, c == 'V')
    });
    let time = (prop::sample::select(vec!['M', 'm']), time_unit()).prop_map(|(c, u)| (format!("{c}8{u}"), 8, false));
    (
        byte_order(),
        prop::sample::select(vec!['\'', '"']),
        prop_oneof![fixed, flexible, time],
    )
        .prop_map(|(order, quote, (body, itemsize, is_void))| DescrSpec {
            text: format!("{quote}{order}{body}{quote}"),
            itemsize,
            is_void,
        })
}

/// A field name literal with a unique value (`i` makes it unique in its record).
fn field_name(style: u8, i: usize) -> String {
    match style % 8 {
        0 => format!("'f{i}'"),
        1 => format!("\"g{i}\""),
        2 => format!("\"it's {i}\""),
        3 => format!("'é{i}'"),
        4 => format!("'λ{i}'"),
        5 => format!("'\\x41\\u00e9\\n{i}'"),
        6 => format!("('title {i}', 't{i}')"),
        _ => format!("'w\\'{i}'"),
    }
}

/// A subarray shape as written in a field: an int, or a tuple of 0–3 dims.
fn subarray_shape() -> impl Strategy<Value = Option<(String, u64)>> {
    prop_oneof![
        3 => Just(None),
        1 => (0u64..=4).prop_map(|n| Some((n.to_string(), n))),
        2 => prop::collection::vec(0u64..=3, 0..=3).prop_map(|dims| {
            let mut text = String::new();
            crate::pyliteral::write_tuple(&mut text, &dims);
            Some((text, dims.iter().product()))
        }),
    ]
}

fn separator() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![", ", ",", " , ", ",\n  "])
}

/// Scalars and records nested up to 3 levels (6 literal levels), with titles,
/// padding fields and subarrays.
fn descr() -> impl Strategy<Value = DescrSpec> {
    let records = scalar_descr().prop_recursive(3, 24, 4, |inner| {
        let field = (
            any::<u8>(),
            inner,
            subarray_shape(),
            separator(),
            any::<bool>(),
            any::<bool>(),
            subarray_shape(),
        );
        (prop::collection::vec(field, 0..=4), separator(), any::<bool>()).prop_map(|(fields, sep, trailing)| {
            let mut parts = Vec::new();
            let mut itemsize = 0u64;
            for (i, (style, dtype, sub, fsep, padding, field_trailing, format_sub)) in fields.into_iter().enumerate() {
                // Only void fields may be unnamed padding.
                let name = if padding && dtype.is_void {
                    "''".to_owned()
                } else {
                    field_name(style, i)
                };
                let mut size = dtype.itemsize;
                // A format that is itself a subarray, `(format, shape)`.
                let format = match format_sub {
                    Some((shape_text, count)) if style % 3 == 0 => {
                        size *= count;
                        format!("({}{fsep}{shape_text})", dtype.text)
                    }
                    _ => dtype.text,
                };
                let mut text = format!("({name}{fsep}{format}");
                if let Some((shape_text, count)) = sub {
                    text.push_str(fsep);
                    text.push_str(&shape_text);
                    size *= count;
                }
                if field_trailing {
                    text.push(',');
                }
                text.push(')');
                parts.push(text);
                itemsize += size;
            }
            let mut text = format!("[{}", parts.join(sep));
            if trailing && !parts.is_empty() {
                text.push(',');
            }
            text.push(']');
            DescrSpec {
                text,
                itemsize,
                is_void: false,
            }
        })
    });
    // prop_recursive mostly yields records; keep plain scalars half of the cases.
    prop_oneof![scalar_descr(), records].prop_filter("itemsize within bounds", |d| d.itemsize <= MAX_ITEMSIZE)
}

/// Shapes of 0–6 dimensions. Most are small and scaled down to at most
/// `MAX_DATA_BYTES` of data; some hold a zero next to dimensions up to 2^16.
fn shape_for(itemsize: u64) -> impl Strategy<Value = Vec<u64>> {
    let dim = prop_oneof![1 => Just(0u64), 15 => 1u64..=6];
    let small = prop::collection::vec(dim, 0..=6).prop_map(move |mut dims| {
        while shape::nbytes(&dims, itemsize).unwrap() > MAX_DATA_BYTES {
            let largest = (0..dims.len()).max_by_key(|&i| dims[i]).unwrap();
            dims[largest] /= 2;
        }
        dims
    });
    let empty_but_wide =
        (prop::collection::vec(1u64..=1 << 16, 0..=3), Index::arbitrary()).prop_map(|(mut dims, at)| {
            let at = at.index(dims.len() + 1);
            dims.insert(at, 0);
            dims
        });
    prop_oneof![6 => small, 1 => empty_but_wide]
}

/// Deterministic data of `n` bytes from a seed (cheaper than a Vec strategy).
fn data_from(seed: u64, n: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A valid array: descr text, parsed dtype, shape, memory order and data.
#[derive(Debug, Clone)]
struct ArrayCase {
    spec: DescrSpec,
    dtype: Dtype,
    shape: Vec<u64>,
    fortran: bool,
    data: Vec<u8>,
}

impl ArrayCase {
    fn array(&self) -> NpArray {
        NpArray::from_parts(
            Meta::new(self.dtype.clone(), Shape::from_slice(&self.shape), self.fortran),
            &self.data,
        )
        .unwrap_or_else(|e| panic!("{self:?}: {e}"))
    }
}

fn array_case() -> impl Strategy<Value = ArrayCase> {
    descr().prop_flat_map(|spec| {
        let dtype = Dtype::from_descr_text(&spec.text).unwrap_or_else(|e| panic!("{}: {e}", spec.text));
        assert_eq!(dtype.itemsize(), spec.itemsize, "{}", spec.text);
        let itemsize = spec.itemsize;
        (
            Just(spec),
            Just(dtype),
            shape_for(itemsize),
            any::<bool>(),
            any::<u64>(),
        )
            .prop_map(|(spec, dtype, shape, fortran, seed)| {
                let n = shape::nbytes(&shape, dtype.itemsize()).unwrap();
                ArrayCase {
                    data: data_from(seed, n),
                    spec,
                    dtype,
                    // As np.save writes it: Fortran only where it differs from C order.
                    fortran: Order::of(&shape, fortran).saved_fortran(),
                    shape,
                }
            })
    })
}

/// Ways to damage a valid payload.
#[derive(Debug, Clone)]
enum Mutation {
    Truncate(Index),
    Flip(Vec<(Index, u8)>),
    Insert(Index, u8),
    Delete(Index),
    /// Overwrite the header-length field with an arbitrary value.
    HeaderLen(u32),
    /// Overwrite a run of header bytes with bytes that matter to the parser.
    Splice(Index, Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let interesting = prop::collection::vec(
        prop::sample::select(b"{}[](),:'\"\\ -0123456789TFxuU<>|=OSVMm\n\x00\xff\x93".to_vec()),
        1..8,
    );
    prop_oneof![
        any::<Index>().prop_map(Mutation::Truncate),
        prop::collection::vec((any::<Index>(), 1u8..=255), 1..=4).prop_map(Mutation::Flip),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<Index>().prop_map(Mutation::Delete),
        any::<u32>().prop_map(Mutation::HeaderLen),
        (any::<Index>(), interesting).prop_map(|(i, b)| Mutation::Splice(i, b)),
    ]
}

fn mutate(valid: &[u8], m: &Mutation) -> Vec<u8> {
    let mut out = valid.to_vec();
    match m {
        Mutation::Truncate(i) => out.truncate(i.index(valid.len())),
        Mutation::Flip(flips) => {
            for (i, x) in flips {
                out[i.index(valid.len())] ^= x;
            }
        }
        Mutation::Insert(i, b) => out.insert(i.index(valid.len() + 1), *b),
        Mutation::Delete(i) => {
            out.remove(i.index(valid.len()));
        }
        Mutation::HeaderLen(n) if out.len() >= 12 && out.starts_with(npy::MAGIC) => match out[6] {
            1 => out[8..10].copy_from_slice(&(*n as u16).to_le_bytes()),
            _ => out[8..12].copy_from_slice(&n.to_le_bytes()),
        },
        // Not a container: overwrite the first bytes instead.
        Mutation::HeaderLen(n) => {
            for (slot, b) in out.iter_mut().zip(n.to_le_bytes()) {
                *slot = b;
            }
        }
        Mutation::Splice(i, bytes) => {
            let at = i.index(valid.len());
            for (k, b) in bytes.iter().enumerate() {
                if let Some(slot) = out.get_mut(at + k) {
                    *slot = *b;
                }
            }
        }
    }
    out
}

/// What every accepted payload must satisfy: storing it again changes nothing.
fn assert_canonical_fixed_point(payload: &[u8]) -> std::result::Result<(), TestCaseError> {
    if let Ok(a) = NpArray::from_npy(payload) {
        prop_assert!(payload.ends_with(a.data()));
        let b = NpArray::from_npy(&a.npy_bytes()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(a.npy_bytes() == b.npy_bytes());
        let meta = rdb::encode_meta(&a);
        let c = rdb::decode(rdb::ENCODING_VERSION, &meta, a.data()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(a.npy_bytes() == c.npy_bytes());
    }
    Ok(())
}

/// Text that looks like Python literals often enough to reach every branch.
fn literalish() -> impl Strategy<Value = String> {
    let token = prop::sample::select(vec![
        "{",
        "}",
        "[",
        "]",
        "(",
        ")",
        ",",
        ":",
        " ",
        "\n",
        "'",
        "\"",
        "\\",
        "\\x",
        "\\u",
        "\\U",
        "\\0",
        "\\n",
        "-",
        "0",
        "7",
        "12",
        "007",
        "9223372036854775807",
        "18446744073709551616",
        "True",
        "False",
        "Truex",
        "None",
        "'descr'",
        "'shape'",
        "'<f8'",
        "é",
        "λ",
        "\u{10ffff}",
        "\r",
        "\t",
        "1.5",
        "_",
    ]);
    prop::collection::vec(token, 0..40).prop_map(|t| t.concat())
}

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn descr_roundtrips(spec in descr()) {
        let d = Dtype::from_descr_text(&spec.text).map_err(|e| TestCaseError::fail(format!("{}: {e}", spec.text)))?;
        prop_assert_eq!(d.itemsize(), spec.itemsize);
        let canonical = d.descr();
        let again = Dtype::from_descr_text(&canonical).map_err(|e| TestCaseError::fail(format!("{canonical}: {e}")))?;
        prop_assert_eq!(&again, &d);
        prop_assert_eq!(again.descr(), canonical);
        // Names never panic; flexible zero-size types have no bit count.
        let name = d.name();
        prop_assert!(!name.is_empty());
    }

    #[test]
    fn header_roundtrips(case in array_case(), fortran in any::<bool>()) {
        // Either order is written as np.save writes it, and reads back so.
        let meta = test_meta(&case.dtype, &case.shape, fortran);
        let mut payload = npy::write_header(&meta);
        payload.extend_from_slice(&case.data);
        let parsed = npy::parse(&payload).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&parsed.meta, &meta);
        let header = npy::write_header(&test_meta(&case.dtype, &case.shape, case.fortran));
        prop_assert_eq!(header.len() % npy::ARRAY_ALIGN, 0);
        prop_assert_eq!(header.last(), Some(&b'\n'));
        let latin1 = case.dtype.descr().chars().all(|c| (c as u32) < 256);
        if latin1 {
            prop_assert!(header[6] == 1 || header[6] == 2, "version {}", header[6]);
        } else {
            prop_assert_eq!(header[6], 3);
        }
        let mut payload = header.clone();
        payload.extend_from_slice(&case.data);
        let parsed = npy::parse(&payload).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&parsed.meta, &test_meta(&case.dtype, &case.shape, case.fortran));
        prop_assert!(parsed.data == &case.data[..]);
    }

    #[test]
    fn npy_bytes_roundtrip(case in array_case()) {
        let a = case.array();
        prop_assert!(a.data() == &case.data[..]);
        prop_assert_eq!(a.itemsize(), case.spec.itemsize);
        let align = if a.is_packed() { crate::layout::packed::DATA_ALIGN } else { npy::ARRAY_ALIGN };
        prop_assert_eq!(a.data().as_ptr() as usize % align, 0);
        let b = NpArray::from_npy(&a.npy_bytes()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(a.npy_bytes() == b.npy_bytes());
        prop_assert_eq!(b.dtype(), &case.dtype);
        prop_assert_eq!(b.shape(), &case.shape[..]);
        prop_assert_eq!(b.saved_fortran(), case.fortran);
        prop_assert_eq!(b.nbytes(), case.data.len() as u64);
    }

    #[test]
    fn rdb_roundtrips(case in array_case()) {
        let a = case.array();
        let meta = rdb::encode_meta(&a);
        let b = rdb::decode(rdb::ENCODING_VERSION, &meta, a.data()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(a.npy_bytes() == b.npy_bytes());
        prop_assert_eq!(rdb::encode_meta(&b), meta.clone());
        // Any other encoding version is refused, never misread.
        prop_assert!(rdb::decode(rdb::ENCODING_VERSION + 1, &meta, a.data()).is_err());
        // Data of the wrong length is refused.
        let mut longer = a.data().to_vec();
        longer.push(0);
        prop_assert!(rdb::decode(rdb::ENCODING_VERSION, &meta, &longer).is_err());
    }

    /// The AOF rewrite splits big arrays into NP.SET + NP.APPEND pieces;
    /// replaying them must rebuild the array byte for byte.
    #[test]
    fn pieces_and_append_rebuild_the_array(case in array_case(), max_bytes in 1u64..=4096) {
        let a = case.array();
        let pieces = a.pieces(max_bytes);
        prop_assert!(!pieces.is_empty());
        let piece = |(shape, range): &(Shape, std::ops::Range<usize>)| {
            let mut npy = npy::write_header(&test_meta(a.dtype(), shape, a.saved_fortran()));
            npy.extend_from_slice(&a.data()[range.clone()]);
            npy
        };
        let mut rebuilt = NpArray::from_npy(&piece(&pieces[0])).map_err(|e| TestCaseError::fail(e.to_string()))?;
        for p in &pieces[1..] {
            let bytes = piece(p);
            let rows = npy::parse(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
            rebuilt.append(&rows).map_err(|e| TestCaseError::fail(e.to_string()))?;
        }
        prop_assert!(rebuilt.npy_bytes() == a.npy_bytes());
    }

    #[test]
    fn pyliteral_never_panics(text in any::<String>()) {
        let _ = pyliteral::parse(&text);
    }

    #[test]
    fn pyliteral_never_panics_on_literalish_text(text in literalish()) {
        if let Ok(pyliteral::Literal::Str { source, .. }) = pyliteral::parse(&text) {
            prop_assert_eq!(source, text.trim_matches(|c| matches!(c, ' ' | '\n' | '\r' | '\t')));
        }
        let _ = Dtype::from_descr_text(&text);
    }

    #[test]
    fn npy_parse_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = npy::parse(&bytes);
        assert_canonical_fixed_point(&bytes)?;
    }

    /// Arbitrary header text behind a valid container prefix.
    #[test]
    fn npy_parse_never_panics_on_headers(text in literalish(), major in 1u8..=3, data in prop::collection::vec(any::<u8>(), 0..64)) {
        let mut payload = npy::MAGIC.to_vec();
        payload.extend_from_slice(&[major, 0]);
        if major == 1 {
            payload.extend_from_slice(&(text.len() as u16).to_le_bytes());
        } else {
            payload.extend_from_slice(&(text.len() as u32).to_le_bytes());
        }
        payload.extend_from_slice(text.as_bytes());
        payload.extend_from_slice(&data);
        let _ = npy::parse(&payload);
        assert_canonical_fixed_point(&payload)?;
    }

    #[test]
    fn npy_parse_never_panics_on_mutations(case in array_case(), m in mutation()) {
        let valid = case.array().npy_bytes().to_vec();
        let damaged = mutate(&valid, &m);
        let result = npy::parse(&damaged);
        if let Mutation::Truncate(_) = m {
            // Every strict prefix of a valid payload is refused.
            prop_assert!(result.is_err(), "prefix of {} bytes was accepted", damaged.len());
        }
        assert_canonical_fixed_point(&damaged)?;
    }

    #[test]
    fn rdb_decode_never_panics(
        encver in prop_oneof![Just(rdb::ENCODING_VERSION), any::<i32>()],
        case in array_case(),
        m in mutation(),
        cut in any::<Index>(),
    ) {
        // Damage the meta and cut the data: nothing may panic, and anything
        // accepted round-trips.
        let a = case.array();
        let meta = mutate(&rdb::encode_meta(&a), &m);
        let data = &a.data()[..cut.index(a.data().len() + 1)];
        if let Ok(b) = rdb::decode(encver, &meta, data) {
            let again = rdb::decode(rdb::ENCODING_VERSION, &rdb::encode_meta(&b), b.data()).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(again.npy_bytes() == b.npy_bytes());
        }
    }
}

// ---------------------------------------------------------------------------
// Rolling buffers against a plain Vec model
// ---------------------------------------------------------------------------

/// One step of a rolling-buffer workload.
#[derive(Debug, Clone)]
enum RingOp {
    Append { entries: u64, maxlen: Option<u64> },
    Trim(u64),
    Reserve(u64),
    MakeContiguous,
}

fn ring_op() -> impl Strategy<Value = RingOp> {
    prop_oneof![
        6 => (0u64..6, prop::option::of(0u64..40)).prop_map(|(entries, maxlen)| RingOp::Append { entries, maxlen }),
        2 => (0u64..40).prop_map(RingOp::Trim),
        1 => (0u64..80).prop_map(RingOp::Reserve),
        1 => Just(RingOp::MakeContiguous),
    ]
}

/// A rolling buffer of `typestr` entries of `width` elements each, growing
/// along axis 0 in C order and along the last axis in Fortran order, and
/// the bytes it should hold.
struct RingCase {
    typestr: &'static str,
    width: u64,
    fortran: bool,
    model: Vec<u8>,
    next: u64,
}

impl RingCase {
    fn slab(&self) -> usize {
        (self.width * Dtype::from_typestr(self.typestr).unwrap().itemsize()) as usize
    }

    fn shape(&self, entries: u64) -> Vec<u64> {
        if self.fortran {
            vec![self.width, entries]
        } else {
            vec![entries, self.width]
        }
    }

    fn entries(&self) -> u64 {
        (self.model.len() / self.slab()) as u64
    }

    /// `.npy` bytes of `entries` new entries, whose bytes the model also gets.
    fn payload(&mut self, entries: u64) -> Vec<u8> {
        let data = data_from(self.next, entries * self.slab() as u64);
        self.next += 1;
        self.model.extend_from_slice(&data);
        self.array_of(&self.shape(entries), &data).npy_bytes().to_vec()
    }

    fn array_of(&self, shape: &[u64], data: &[u8]) -> NpArray {
        let dtype = Dtype::from_typestr(self.typestr).unwrap();
        NpArray::from_parts(Meta::new(dtype, Shape::from_slice(shape), self.fortran), data).unwrap()
    }

    fn keep(&mut self, n: u64) {
        let drop = self.model.len().saturating_sub(n as usize * self.slab());
        self.model.drain(..drop);
    }

    /// Everything a reader can see of `a` matches the model.
    fn check(&self, a: &NpArray) -> std::result::Result<(), TestCaseError> {
        let (head, tail) = a.segments();
        prop_assert_eq!(a.is_wrapped(), !tail.is_empty());
        prop_assert!([head, tail].concat() == self.model);
        prop_assert_eq!(a.shape(), &self.shape(self.entries())[..]);
        prop_assert_eq!(a.nbytes() as usize, self.model.len());
        let expected = self.array_of(a.shape(), &self.model);
        prop_assert!(a.npy_bytes() == expected.npy_bytes());
        prop_assert!(a.clone().npy_bytes() == expected.npy_bytes());
        if !a.is_wrapped() {
            prop_assert!(a.data() == &self.model[..]);
        }
        // Aligned for typed views (power-of-two element sizes), the tail to 64 bytes.
        let itemsize = a.itemsize() as usize;
        if itemsize.is_power_of_two() {
            prop_assert_eq!(head.as_ptr() as usize % itemsize.min(16), 0);
        }
        if !tail.is_empty() {
            prop_assert_eq!(tail.as_ptr() as usize % npy::ARRAY_ALIGN, 0);
        }
        let strings: Vec<u8> = rdb::data_strings(a).flat_map(|s| s.to_vec()).collect();
        prop_assert!(strings == self.model);
        for (_, range) in a.pieces(97) {
            let (first, second) = a.data_range(range.clone());
            prop_assert!([first, second].concat() == self.model[range]);
        }
        Ok(())
    }
}

fn ring_dtype() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["|u1", "<i2", ">i4", "<f8", "|S3", "<c16"])
}

/// Where each entry of `a` starts in memory.
fn entry_addresses(a: &NpArray, slab: usize) -> Vec<usize> {
    (0..a.nbytes() as usize / slab)
        .map(|i| {
            let (first, second) = a.data_range(i * slab..i * slab + 1);
            if first.is_empty() {
                second.as_ptr() as usize
            } else {
                first.as_ptr() as usize
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn rolling_buffers_match_a_vec_model(
        typestr in ring_dtype(),
        width in 1u64..24,
        fortran in any::<bool>(),
        start in 0u64..5,
        ops in prop::collection::vec(ring_op(), 1..120),
    ) {
        // A Fortran array trimmed below two entries is C-ordered from then
        // on (as np.save writes it), so Fortran cases keep at least two.
        let fortran = fortran && width > 1;
        let least = if fortran { 2 } else { 0 };
        let mut case = RingCase { typestr, width, fortran, model: Vec::new(), next: 1 };
        let first = case.payload(start.max(least));
        let mut a = NpArray::from_npy(&first).map_err(|e| TestCaseError::fail(e.to_string()))?;
        for op in ops {
            match op {
                RingOp::Append { entries, maxlen } => {
                    let payload = case.payload(entries);
                    let rows = npy::parse(&payload).map_err(|e| TestCaseError::fail(e.to_string()))?;
                    a.append(&rows).map_err(|e| TestCaseError::fail(e.to_string()))?;
                    if let Some(n) = maxlen {
                        let n = n.max(least);
                        prop_assert_eq!(a.trim(n).map_err(|e| TestCaseError::fail(e.to_string()))?, n.min(case.entries()));
                        case.keep(n);
                    }
                }
                RingOp::Trim(n) => {
                    let n = n.max(least);
                    a.trim(n).map_err(|e| TestCaseError::fail(e.to_string()))?;
                    case.keep(n);
                }
                RingOp::Reserve(n) => {
                    a.reserve(n).map_err(|e| TestCaseError::fail(e.to_string()))?;
                }
                RingOp::MakeContiguous => {
                    let usage = a.memory_usage(|_, n| n);
                    a.make_contiguous().unwrap();
                    prop_assert!(!a.is_wrapped());
                    prop_assert_eq!(a.memory_usage(|_, n| n), usage, "nothing allocated");
                }
            }
            case.check(&a)?;
        }
    }

    /// `NP.APPEND … MAXLEN n` over and over: once the buffer has settled,
    /// each append writes its own bytes only. No kept entry moves, the
    /// buffer is never reallocated, and the data wraps around.
    #[test]
    fn a_steady_rolling_buffer_moves_no_kept_byte(
        typestr in ring_dtype(),
        width in 1u64..24,
        fortran in any::<bool>(),
        maxlen in 2u64..60,
        step in 1u64..4,
    ) {
        let fortran = fortran && width > 1;
        let step = step.min(maxlen);
        let mut case = RingCase { typestr, width, fortran, model: Vec::new(), next: 1 };
        let first = case.payload(step.max(2));
        let mut a = NpArray::from_npy(&first).map_err(|e| TestCaseError::fail(e.to_string()))?;
        // Settling: the capacity grows while the buffer fills, and once more
        // at most when its end is first reached.
        let settle = 10 * (maxlen / step + 2);
        let (mut round, mut wraps, mut was_wrapped) = (0, 0, false);
        while round < 2 * settle || wraps < 2 {
            prop_assert!(round < 100_000, "{} wraps in {} rounds", wraps, round);
            let before = (entry_addresses(&a, case.slab()), a.memory_usage(|_, n| n));
            let payload = case.payload(step);
            a.append(&npy::parse(&payload).map_err(|e| TestCaseError::fail(e.to_string()))?)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            a.trim(maxlen).map_err(|e| TestCaseError::fail(e.to_string()))?;
            case.keep(maxlen);
            round += 1;
            if round <= settle {
                continue;
            }
            case.check(&a)?;
            let after = entry_addresses(&a, case.slab());
            prop_assert_eq!(a.memory_usage(|_, n| n), before.1, "reallocated in round {}", round);
            // The entries kept are the last of those before, at the same addresses.
            let kept = after.len() - step as usize;
            prop_assert_eq!(&after[..kept], &before.0[before.0.len() - kept..], "moved in round {}", round);
            // Appended at the start of the buffer (even when the trim then
            // dropped the whole head): the data's start moved back.
            let wrapped = a.is_wrapped() || after.first() < before.0.first();
            wraps += usize::from(wrapped && !was_wrapped);
            was_wrapped = wrapped;
        }
    }
}

// ---------------------------------------------------------------------------
// Fuzz properties on the fixtures. Inputs fuzz/ finds to crash (none so far)
// go here as regression tests: each must be refused, not panic.
// ---------------------------------------------------------------------------

/// Every checked-in fixture survives the fuzz targets' properties.
#[test]
fn fixtures_satisfy_the_fuzz_properties() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/npy");
    for entry in std::fs::read_dir(dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert_canonical_fixed_point(&bytes).unwrap();
        let a = NpArray::from_npy(&bytes).unwrap();
        let d = Dtype::from_descr_text(&a.dtype().descr()).unwrap();
        assert_eq!(&d, a.dtype());
    }
}
