//! The dtype model: every dtype NumPy can save without pickle.
//!
//! A dtype is parsed from the header's `descr` literal (a typestr such as
//! `'<f8'`, or a structured list) and written back as the exact text
//! `np.save` produces (`repr(dtype.descr)` for records, `repr(dtype.str)` otherwise).
//!
//! Parsing is linear in the descr's length: names and titles are checked for
//! repeats with one hash set per record, and a structured dtype's descr text is
//! written once, when it is parsed, and kept with the record.

use std::borrow::Cow;
use std::collections::hash_map::RandomState;
use std::collections::HashSet;
use std::fmt::Write as _;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};
use std::sync::Arc;

use smallvec::SmallVec;

use crate::error::{excerpt, NpyError, Result};
use crate::pyliteral::{self, Next, Parser};
use crate::shape;

/// NumPy refuses itemsizes that do not fit a C int.
pub const MAX_ITEMSIZE: u64 = i32::MAX as u64;

/// Most entries a structured dtype may list, nested records and padding
/// included. The widest dtype with NumPy's default field names (`f0`, `f1`, …)
/// whose header fits `npy::MAX_HEADER_LEN` has about 55,000 fields.
pub const MAX_FIELDS: usize = 1 << 16;

/// NumPy: each subarray dimension must fit a C int.
const MAX_SUBARRAY_DIM: u64 = i32::MAX as u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteOrder {
    Little,
    Big,
    /// `|`: single bytes, strings of bytes, void and records.
    NotApplicable,
}

impl ByteOrder {
    fn symbol(self) -> char {
        match self {
            ByteOrder::Little => '<',
            ByteOrder::Big => '>',
            ByteOrder::NotApplicable => '|',
        }
    }
}

/// Datetime/timedelta unit as NumPy spells it in a typestr (`M8[10ms]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeUnit {
    /// `None` is NumPy's generic unit (`M8` with no brackets).
    pub unit: Option<&'static str>,
    pub multiplier: u32,
}

const TIME_UNITS: [&str; 13] = ["Y", "M", "W", "D", "h", "m", "s", "ms", "us", "ns", "ps", "fs", "as"];

impl TimeUnit {
    fn write_suffix(&self, out: &mut String) {
        match (self.unit, self.multiplier) {
            (None, _) => {}
            (Some(u), 1) => write!(out, "[{u}]").expect("write to String"),
            (Some(u), m) => write!(out, "[{m}{u}]").expect("write to String"),
        }
    }
}

/// NumPy's general kinds of data: `dtype.kind` and the stem of `dtype.name`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeneralKind {
    Bool,
    Int,
    UInt,
    Float,
    Complex,
    Bytes,
    Str,
    Void,
    DateTime,
    TimeDelta,
}

impl GeneralKind {
    /// Every kind, in declaration order (`ALL[k as usize] == k`).
    pub const ALL: [GeneralKind; 10] = [
        GeneralKind::Bool,
        GeneralKind::Int,
        GeneralKind::UInt,
        GeneralKind::Float,
        GeneralKind::Complex,
        GeneralKind::Bytes,
        GeneralKind::Str,
        GeneralKind::Void,
        GeneralKind::DateTime,
        GeneralKind::TimeDelta,
    ];

    /// NumPy's one-letter code (`dtype.kind`).
    pub fn char(self) -> char {
        match self {
            GeneralKind::Bool => 'b',
            GeneralKind::Int => 'i',
            GeneralKind::UInt => 'u',
            GeneralKind::Float => 'f',
            GeneralKind::Complex => 'c',
            GeneralKind::Bytes => 'S',
            GeneralKind::Str => 'U',
            GeneralKind::Void => 'V',
            GeneralKind::DateTime => 'M',
            GeneralKind::TimeDelta => 'm',
        }
    }

    /// The stem of `dtype.name` (`float` in `float32`).
    pub fn name(self) -> &'static str {
        match self {
            GeneralKind::Bool => "bool",
            GeneralKind::Int => "int",
            GeneralKind::UInt => "uint",
            GeneralKind::Float => "float",
            GeneralKind::Complex => "complex",
            GeneralKind::Bytes => "bytes",
            GeneralKind::Str => "str",
            GeneralKind::Void => "void",
            GeneralKind::DateTime => "datetime",
            GeneralKind::TimeDelta => "timedelta",
        }
    }
}

/// The element type. Numeric variants are fixed-size; sized variants carry their length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Bool,
    Int8,
    Int16,
    Int32,
    Int64,
    UInt8,
    UInt16,
    UInt32,
    UInt64,
    Float16,
    Float32,
    Float64,
    /// `np.longdouble`: 12 or 16 bytes depending on the platform that saved it.
    LongDouble(u8),
    Complex64,
    Complex128,
    /// `np.clongdouble`: 24 or 32 bytes.
    CLongDouble(u8),
    /// `S<n>`: n bytes.
    Bytes(u32),
    /// `U<n>`: n UCS-4 code points (4n bytes).
    Unicode(u32),
    /// `V<n>`: n raw bytes.
    Void(u32),
    DateTime(TimeUnit),
    TimeDelta(TimeUnit),
    /// Shared: a stored value and the payload it was parsed from, or a value
    /// and its copy, hold one record.
    Record(Arc<Record>),
}

/// A structured dtype, kept as the `descr` list `np.save` writes for it (the
/// canonical text: it determines the dtype) and its itemsize. Parsing writes
/// that text as it reads the client's, so no per-field structures are built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    descr: Box<str>,
    itemsize: u64,
}

impl Record {
    pub fn descr(&self) -> &str {
        &self.descr
    }

    pub fn itemsize(&self) -> u64 {
        self.itemsize
    }
}

/// A subarray shape: one level of `(format, shape)`, never empty.
type SubShape = SmallVec<[u64; 4]>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dtype {
    pub kind: Kind,
    pub order: ByteOrder,
}

impl Dtype {
    /// Parses the text of a `descr` literal, e.g. `'<f8'` or `[('a', '<i4')]`.
    pub fn from_descr_text(text: &str) -> Result<Dtype> {
        let mut p = Parser::new(text);
        let dtype = Dtype::parse_under(&mut p, &mut Rules::client())?;
        p.end()?;
        Ok(dtype)
    }

    /// Parses a descr this module stored (RDB), under the rules it was
    /// accepted with, which older builds did not yet have all of (see [`Rules`]).
    pub fn from_stored_descr_text(text: &str) -> Result<Dtype> {
        let mut p = Parser::new(text);
        let dtype = Dtype::parse_under(&mut p, &mut Rules::stored())?;
        p.end()?;
        Ok(dtype)
    }

    /// Reads a `descr` value from a header being parsed.
    pub fn parse(p: &mut Parser) -> Result<Dtype> {
        Dtype::parse_under(p, &mut Rules::client())
    }

    fn parse_under(p: &mut Parser, rules: &mut Rules) -> Result<Dtype> {
        match p.peek_kind()? {
            Next::Str => Dtype::from_typestr(&p.string()?.1),
            Next::List => {
                let mut descr = String::new();
                let itemsize = write_record(p, &mut descr, rules)?;
                Ok(Dtype {
                    kind: Kind::Record(Arc::new(Record {
                        descr: descr.into_boxed_str(),
                        itemsize,
                    })),
                    order: ByteOrder::NotApplicable,
                })
            }
            other => Err(NpyError::invalid(format!(
                "descr must be a string or a list, got {}",
                other.kind()
            ))),
        }
    }

    /// Parses a typestr such as `<f8`, `|S10`, `>M8[10ms]`.
    pub fn from_typestr(s: &str) -> Result<Dtype> {
        let bad = |why: &str| NpyError::invalid(format!("descr {:?} is not a supported dtype: {why}", excerpt(s)));
        let mut chars = s.chars();
        let (order_char, rest) = match s.chars().next() {
            Some(c @ ('<' | '>' | '|' | '=')) => {
                chars.next();
                (c, chars.as_str())
            }
            _ => ('=', s),
        };
        let mut rest_chars = rest.chars();
        let type_char = rest_chars.next().ok_or_else(|| bad("missing type character"))?;
        let rest = rest_chars.as_str();
        let (digits, unit) = match rest.find('[') {
            Some(i) => (&rest[..i], Some(&rest[i..])),
            None => (rest, None),
        };
        if type_char == 'O' {
            return Err(NpyError::invalid(
                "object arrays are not supported (they need pickle, which the server never runs)",
            ));
        }
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 10 {
            return Err(bad("expected a size after the type character"));
        }
        let size: u64 = digits.parse().map_err(|_| bad("size out of range"))?;
        if unit.is_some() && !matches!(type_char, 'M' | 'm') {
            return Err(bad("only datetime64/timedelta64 take a unit"));
        }
        let numeric = |kind: Kind| Ok(kind);
        let kind = match (type_char, size) {
            ('b', 1) => numeric(Kind::Bool),
            ('i', 1) => numeric(Kind::Int8),
            ('i', 2) => numeric(Kind::Int16),
            ('i', 4) => numeric(Kind::Int32),
            ('i', 8) => numeric(Kind::Int64),
            ('u', 1) => numeric(Kind::UInt8),
            ('u', 2) => numeric(Kind::UInt16),
            ('u', 4) => numeric(Kind::UInt32),
            ('u', 8) => numeric(Kind::UInt64),
            ('f', 2) => numeric(Kind::Float16),
            ('f', 4) => numeric(Kind::Float32),
            ('f', 8) => numeric(Kind::Float64),
            ('f', 12 | 16) => numeric(Kind::LongDouble(size as u8)),
            ('c', 8) => numeric(Kind::Complex64),
            ('c', 16) => numeric(Kind::Complex128),
            ('c', 24 | 32) => numeric(Kind::CLongDouble(size as u8)),
            ('S' | 'U' | 'V', n) => {
                let itemsize = if type_char == 'U' { n.checked_mul(4) } else { Some(n) };
                if itemsize.is_none_or(|i| i > MAX_ITEMSIZE) {
                    return Err(bad("itemsize too large"));
                }
                let n = n as u32;
                Ok(match type_char {
                    'S' => Kind::Bytes(n),
                    'U' => Kind::Unicode(n),
                    _ => Kind::Void(n),
                })
            }
            ('M' | 'm', 8) => {
                let unit = parse_time_unit(unit).ok_or_else(|| bad("unknown datetime unit"))?;
                Ok(if type_char == 'M' {
                    Kind::DateTime(unit)
                } else {
                    Kind::TimeDelta(unit)
                })
            }
            ('b' | 'i' | 'u' | 'f' | 'c' | 'M' | 'm', _) => Err(bad("unsupported size for this type")),
            _ => Err(bad("unknown type character")),
        }?;
        let order = canonical_order(&kind, order_char);
        Ok(Dtype { kind, order })
    }

    pub fn itemsize(&self) -> u64 {
        match &self.kind {
            Kind::Bool | Kind::Int8 | Kind::UInt8 => 1,
            Kind::Int16 | Kind::UInt16 | Kind::Float16 => 2,
            Kind::Int32 | Kind::UInt32 | Kind::Float32 => 4,
            Kind::Int64 | Kind::UInt64 | Kind::Float64 | Kind::Complex64 => 8,
            Kind::DateTime(_) | Kind::TimeDelta(_) => 8,
            Kind::Complex128 => 16,
            Kind::LongDouble(n) | Kind::CLongDouble(n) => u64::from(*n),
            Kind::Bytes(n) | Kind::Void(n) => u64::from(*n),
            Kind::Unicode(n) => 4 * u64::from(*n),
            Kind::Record(r) => r.itemsize,
        }
    }

    /// NumPy's general kind (`dtype.kind`).
    pub fn general_kind(&self) -> GeneralKind {
        match &self.kind {
            Kind::Bool => GeneralKind::Bool,
            Kind::Int8 | Kind::Int16 | Kind::Int32 | Kind::Int64 => GeneralKind::Int,
            Kind::UInt8 | Kind::UInt16 | Kind::UInt32 | Kind::UInt64 => GeneralKind::UInt,
            Kind::Float16 | Kind::Float32 | Kind::Float64 | Kind::LongDouble(_) => GeneralKind::Float,
            Kind::Complex64 | Kind::Complex128 | Kind::CLongDouble(_) => GeneralKind::Complex,
            Kind::Bytes(_) => GeneralKind::Bytes,
            Kind::Unicode(_) => GeneralKind::Str,
            Kind::Void(_) | Kind::Record(_) => GeneralKind::Void,
            Kind::DateTime(_) => GeneralKind::DateTime,
            Kind::TimeDelta(_) => GeneralKind::TimeDelta,
        }
    }

    /// Bool, the integers, and the floats and complex numbers that have a
    /// Rust type (not long doubles): the values casts and maths work on.
    pub fn is_numeric(&self) -> bool {
        matches!(
            self.kind,
            Kind::Bool
                | Kind::Int8
                | Kind::Int16
                | Kind::Int32
                | Kind::Int64
                | Kind::UInt8
                | Kind::UInt16
                | Kind::UInt32
                | Kind::UInt64
                | Kind::Float16
                | Kind::Float32
                | Kind::Float64
                | Kind::Complex64
                | Kind::Complex128
        )
    }

    /// NumPy's one-letter kind (`dtype.kind`).
    pub fn kind_char(&self) -> char {
        self.general_kind().char()
    }

    /// The typestr (`dtype.str`), e.g. `<f8`; records have none.
    pub fn typestr(&self) -> Option<String> {
        let mut out = String::new();
        self.write_typestr(&mut out).then_some(out)
    }

    /// Appends the typestr to `out`; false (and nothing written) for records.
    fn write_typestr(&self, out: &mut String) -> bool {
        let size = match &self.kind {
            Kind::Record(_) => return false,
            Kind::Unicode(n) => u64::from(*n),
            _ => self.itemsize(),
        };
        out.push(self.order.symbol());
        out.push(self.kind_char());
        write!(out, "{size}").expect("write to String");
        if let Kind::DateTime(u) | Kind::TimeDelta(u) = &self.kind {
            u.write_suffix(out);
        }
        true
    }

    /// `dtype.name` as NumPy 2.x prints it: `float32`, `bytes56`, `datetime64[ns]`, `void64`.
    pub fn name(&self) -> String {
        let kind = self.general_kind();
        let mut name = kind.name().to_owned();
        let flexible = matches!(kind, GeneralKind::Bytes | GeneralKind::Str | GeneralKind::Void);
        if kind != GeneralKind::Bool && !(flexible && self.itemsize() == 0) {
            write!(name, "{}", self.itemsize() * 8).expect("write to String");
        }
        if let Kind::DateTime(u) | Kind::TimeDelta(u) = &self.kind {
            u.write_suffix(&mut name);
        }
        name
    }

    /// The `descr` text as `np.save` writes it into the header.
    pub fn descr(&self) -> String {
        let mut out = String::new();
        self.write_descr(&mut out);
        out
    }

    /// The length of [`Dtype::descr`] in bytes (a record's is kept, not recounted).
    pub fn descr_len(&self) -> usize {
        match &self.kind {
            Kind::Record(record) => record.descr.len(),
            _ => self.descr().len(),
        }
    }

    /// Appends the `descr` text to `out` (a record's is kept, not rebuilt).
    pub fn write_descr(&self, out: &mut String) {
        match &self.kind {
            Kind::Record(record) => out.push_str(&record.descr),
            _ => {
                out.push('\'');
                self.write_typestr(out);
                out.push('\'');
            }
        }
    }

    /// Heap bytes this dtype owns (none for the simple kinds), for MEMORY USAGE.
    pub fn heap_bytes(&self) -> usize {
        match &self.kind {
            Kind::Record(r) => std::mem::size_of::<Record>() + r.descr.len(),
            _ => 0,
        }
    }
}

/// NumPy writes `|` for single-byte and byte-string kinds and `<`/`>` otherwise;
/// `=` and `|` on multi-byte kinds mean native order (little-endian on supported hosts).
fn canonical_order(kind: &Kind, symbol: char) -> ByteOrder {
    let one_byte = matches!(
        kind,
        Kind::Bool | Kind::Int8 | Kind::UInt8 | Kind::Bytes(_) | Kind::Void(_)
    );
    match symbol {
        _ if one_byte => ByteOrder::NotApplicable,
        '>' => ByteOrder::Big,
        _ => ByteOrder::Little,
    }
}

fn parse_time_unit(bracket: Option<&str>) -> Option<TimeUnit> {
    let Some(b) = bracket else {
        return Some(TimeUnit {
            unit: None,
            multiplier: 1,
        });
    };
    let inner = b.strip_prefix('[')?.strip_suffix(']')?;
    let split = inner.find(|c: char| !c.is_ascii_digit()).unwrap_or(inner.len());
    let (digits, unit) = inner.split_at(split);
    let multiplier = if digits.is_empty() {
        1
    } else {
        digits.parse::<u32>().ok()?
    };
    if multiplier == 0 || multiplier > i32::MAX as u32 {
        return None;
    }
    let unit = if unit == "μs" { "us" } else { unit };
    let unit = *TIME_UNITS.iter().find(|u| **u == unit)?;
    Some(TimeUnit {
        unit: Some(unit),
        multiplier,
    })
}

/// What a descr is held to while it is read. A client's payload meets every
/// rule; a descr this module stored earlier (RDB) is read back under the rules
/// it was accepted with then (no field cap, no subarray bounds, no title
/// checks), so a value accepted by an older build still loads.
struct Rules {
    /// Entries the descr may still list (see [`MAX_FIELDS`]), all records counted.
    fields_left: usize,
    strict: bool,
}

impl Rules {
    fn client() -> Rules {
        Rules {
            fields_left: MAX_FIELDS,
            strict: true,
        }
    }

    fn stored() -> Rules {
        Rules {
            fields_left: usize::MAX,
            strict: false,
        }
    }

    fn take_field(&mut self) -> Result<()> {
        self.fields_left = self
            .fields_left
            .checked_sub(1)
            .ok_or_else(|| NpyError::invalid(format!("structured dtype has more than {MAX_FIELDS} fields")))?;
        Ok(())
    }
}

/// Reads a descr list as `np.load` reads it (`numpy.lib.format.descr_to_dtype`)
/// and writes it to `out` as np.save writes it; returns its itemsize. A
/// padding entry is an unnamed void: adjacent ones are written as one, and
/// empty ones not at all.
fn write_record<'a>(p: &mut Parser<'a>, out: &mut String, rules: &mut Rules) -> Result<u64> {
    let mut record = RecordWriter {
        out,
        itemsize: 0,
        padding: 0,
        entries: 0,
        used: HashSet::default(),
        keys: RandomState::new(),
    };
    record.out.push('[');
    p.items(|p, _| {
        rules.take_field()?;
        record.field(p, rules)
    })?;
    record.flush_padding();
    record.out.push(']');
    Ok(record.itemsize)
}

struct RecordWriter<'o, 'a> {
    out: &'o mut String,
    itemsize: u64,
    /// Padding bytes read but not yet written.
    padding: u64,
    /// Entries written so far.
    entries: usize,
    /// Names and titles seen: they share one namespace in NumPy.
    used: HashSet<Seen<'a>, BuildHasherDefault<Prehashed>>,
    /// Keys for the names' hashes (SipHash, random per set, as std's maps use).
    keys: RandomState,
}

/// A name or title with its hash, computed once: growing the set moves
/// entries without hashing their text again.
struct Seen<'a> {
    hash: u64,
    text: Cow<'a, str>,
}

impl PartialEq for Seen<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.text == other.text
    }
}

impl Eq for Seen<'_> {}

impl Hash for Seen<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// Hands a [`Seen`]'s precomputed hash to the set.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used; this keeps any other input well mixed.
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, hash: u64) {
        self.0 = hash;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl<'a> RecordWriter<'_, 'a> {
    fn separate(&mut self) {
        if self.entries > 0 {
            self.out.push_str(", ");
        }
        self.entries += 1;
    }

    fn flush_padding(&mut self) {
        if self.padding > 0 {
            self.separate();
            write!(self.out, "('', '|V{}')", self.padding).expect("write to String");
            self.padding = 0;
        }
    }

    fn claim(&mut self, what: &str, text: Cow<'a, str>) -> Result<()> {
        let hash = self.keys.hash_one(&*text);
        match self.used.replace(Seen { hash, text }) {
            Some(repeated) => Err(NpyError::invalid(format!(
                "{what} already used as a name or title: {:?}",
                excerpt(&repeated.text)
            ))),
            None => Ok(()),
        }
    }

    /// `(name, format)` or `(name, format, shape)`; the name may be `(title, name)`.
    fn field(&mut self, p: &mut Parser<'a>, rules: &mut Rules) -> Result<()> {
        const FIELD: &str = "each field must be a tuple (name, format[, shape])";
        if p.peek_kind()? != Next::Tuple {
            return Err(bad_field(FIELD));
        }
        let mut names = None;
        let mut unnamed = false;
        let mut start = self.out.len();
        // Where the format's text starts, its element type, and its subarray levels.
        let mut format: Option<(usize, Element, Vec<SubShape>)> = None;
        p.items(|p, i| {
            match i {
                0 => {
                    let (name, title) = field_name(p)?;
                    // An unnamed entry may be padding, which its format decides:
                    // written here, then separated or taken back at the end.
                    unnamed = title.is_none() && name.is_empty();
                    if !unnamed {
                        self.flush_padding();
                        self.separate();
                    }
                    start = self.out.len();
                    self.out.push('(');
                    write_name(self.out, &name, title.as_deref());
                    self.out.push_str(", ");
                    names = Some((name, title));
                }
                1 => {
                    let at = self.out.len();
                    let (element, levels) = write_format(p, self.out, rules)?;
                    format = Some((at, element, levels));
                }
                2 => {
                    let (_, _, levels) = format.as_mut().expect("the format comes first");
                    let shape = subarray_shape(p, rules)?;
                    if !shape.is_empty() {
                        levels.insert(0, shape);
                    }
                }
                _ => return Err(bad_field(FIELD)),
            }
            Ok(())
        })?;
        let (Some((name, title)), Some((at, element, levels))) = (names, format) else {
            return Err(bad_field(FIELD));
        };
        close_field(self.out, at, &levels);
        let size = levels
            .iter()
            .flatten()
            .try_fold(element.itemsize, |acc, &d| {
                acc.checked_mul(d).filter(|&n| n <= MAX_ITEMSIZE)
            })
            .ok_or_else(|| NpyError::invalid("structured dtype field is too large"))?;
        self.itemsize = self
            .itemsize
            .checked_add(size)
            .filter(|&n| n <= MAX_ITEMSIZE)
            .ok_or_else(|| NpyError::invalid("structured dtype is too large"))?;
        // `np.load` drops an unnamed entry whose dtype is a plain void or a
        // subarray (NumPy's `is_pad`); any other unnamed entry is a field named ''.
        if unnamed && (element.void || !levels.is_empty()) {
            self.out.truncate(start);
            self.padding += size;
            return Ok(());
        }
        if unnamed {
            let field = self.out.split_off(start);
            self.flush_padding();
            self.separate();
            self.out.push_str(&field);
        }
        self.claim("name", name)?;
        if let Some(title) = title {
            if rules.strict {
                self.claim("title", title)?;
            }
        }
        Ok(())
    }
}

/// What a field's format holds once its subarray levels are taken off.
#[derive(Clone, Copy)]
struct Element {
    itemsize: u64,
    /// A plain void (`V<n>`), which an unnamed field makes padding.
    void: bool,
}

/// Writes `'x'` or `('title', 'x')` as np.save writes it (Python's `repr`).
fn write_name(out: &mut String, name: &str, title: Option<&str>) {
    match title {
        None => pyliteral::write_str_repr(out, name),
        Some(title) => {
            out.push('(');
            pyliteral::write_str_repr(out, title);
            out.push_str(", ");
            pyliteral::write_str_repr(out, name);
            out.push(')');
        }
    }
}

/// Ends a field whose format text starts at `at`: the inner subarray levels
/// wrap the format as `((format, inner), outer)`, the outermost level is the
/// field's shape. (Only multi-level subarray formats move text.)
fn close_field(out: &mut String, at: usize, levels: &[SubShape]) {
    if levels.len() > 1 {
        out.insert_str(at, &"(".repeat(levels.len() - 1));
        for level in levels[1..].iter().rev() {
            out.push_str(", ");
            pyliteral::write_tuple(out, level);
            out.push(')');
        }
    }
    if let Some(shape) = levels.first() {
        out.push_str(", ");
        pyliteral::write_tuple(out, shape);
    }
    out.push(')');
}

fn bad_field(why: &str) -> NpyError {
    NpyError::invalid(format!("bad structured dtype field: {why}"))
}

/// Reads a field's name, `'x'` or `('title', 'x')`: the name and the title.
fn field_name<'a>(p: &mut Parser<'a>) -> Result<(Cow<'a, str>, Option<Cow<'a, str>>)> {
    const TITLED: &str = "a titled name must be a tuple (title, name) of strings";
    match p.peek_kind()? {
        Next::Str => Ok((p.string()?.1, None)),
        Next::Tuple => {
            let mut pair: [Option<Cow<'a, str>>; 2] = [None, None];
            p.items(|p, i| {
                if i > 1 || p.peek_kind()? != Next::Str {
                    return Err(bad_field(TITLED));
                }
                pair[i] = Some(p.string()?.1);
                Ok(())
            })?;
            let [Some(title), Some(name)] = pair else {
                return Err(bad_field(TITLED));
            };
            Ok((name, Some(title)))
        }
        _ => Err(bad_field("a field name must be a string")),
    }
}

/// Reads a field's format, a typestr, a record, or a subarray tuple
/// `(format, shape)` nesting further, and writes its element type. Returns
/// the element and the subarray levels, outermost first.
fn write_format(p: &mut Parser, out: &mut String, rules: &mut Rules) -> Result<(Element, Vec<SubShape>)> {
    match p.peek_kind()? {
        Next::Str => {
            let dtype = Dtype::from_typestr(&p.string()?.1)?;
            dtype.write_descr(out);
            let element = Element {
                itemsize: dtype.itemsize(),
                void: matches!(dtype.kind, Kind::Void(_)),
            };
            Ok((element, Vec::new()))
        }
        Next::List => {
            let itemsize = write_record(p, out, rules)?;
            Ok((Element { itemsize, void: false }, Vec::new()))
        }
        Next::Tuple => {
            const PAIR: &str = "a subarray format must be a tuple (format, shape)";
            let mut format = None;
            let count = p.items(|p, i| {
                match i {
                    0 => format = Some(write_format(p, out, rules)?),
                    1 => {
                        let (_, levels) = format.as_mut().expect("the format comes first");
                        let shape = subarray_shape(p, rules)?;
                        if !shape.is_empty() {
                            levels.insert(0, shape);
                        }
                    }
                    _ => return Err(bad_field(PAIR)),
                }
                Ok(())
            })?;
            match (count, format) {
                (2, Some(format)) => Ok(format),
                _ => Err(bad_field(PAIR)),
            }
        }
        other => Err(NpyError::invalid(format!(
            "descr must be a string or a list, got {}",
            other.kind()
        ))),
    }
}

/// A subarray shape as NumPy takes it: an int or a tuple of up to 64 ints,
/// each fitting a C int ("invalid shape in fixed-type tuple" otherwise).
fn subarray_shape(p: &mut Parser, rules: &Rules) -> Result<SubShape> {
    let invalid = |why: String| NpyError::invalid(format!("invalid shape in fixed-type tuple: {why}"));
    let checked = |d: u64| {
        if d > MAX_SUBARRAY_DIM && rules.strict {
            Err(invalid(format!("dimension {d} does not fit into a C int")))
        } else {
            Ok(d)
        }
    };
    match p.peek_kind()? {
        Next::Int => Ok(SubShape::from_elem(checked(pyliteral::dim(p)?)?, 1)),
        Next::Tuple => {
            let mut dims = SubShape::new();
            p.items(|p, i| {
                if i == shape::MAX_NDIM && rules.strict {
                    return Err(invalid(format!("more than {} dimensions", shape::MAX_NDIM)));
                }
                dims.push(checked(pyliteral::dim(p)?)?);
                Ok(())
            })?;
            Ok(dims)
        }
        _ => Err(bad_field("a subarray shape must be a tuple of integers")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(text: &str) -> Dtype {
        Dtype::from_descr_text(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn names_typestrs_and_itemsizes_match_numpy() {
        // (descr as given, canonical descr, dtype.name, itemsize) as NumPy 2.4 reports them.
        let cases = [
            ("'|b1'", "'|b1'", "bool", 1),
            ("'>b1'", "'|b1'", "bool", 1),
            ("'<i1'", "'|i1'", "int8", 1),
            ("'<i2'", "'<i2'", "int16", 2),
            ("'=i4'", "'<i4'", "int32", 4),
            ("'>i8'", "'>i8'", "int64", 8),
            ("'|u1'", "'|u1'", "uint8", 1),
            ("'<u8'", "'<u8'", "uint64", 8),
            ("'<f2'", "'<f2'", "float16", 2),
            ("'|f8'", "'<f8'", "float64", 8),
            ("'<f16'", "'<f16'", "float128", 16),
            ("'<f12'", "'<f12'", "float96", 12),
            ("'<c8'", "'<c8'", "complex64", 8),
            ("'>c16'", "'>c16'", "complex128", 16),
            ("'<c32'", "'<c32'", "complex256", 32),
            ("'|S7'", "'|S7'", "bytes56", 7),
            ("'|S0'", "'|S0'", "bytes", 0),
            ("'<U5'", "'<U5'", "str160", 20),
            ("'>U5'", "'>U5'", "str160", 20),
            ("'<U0'", "'<U0'", "str", 0),
            ("'|V8'", "'|V8'", "void64", 8),
            ("'|V0'", "'|V0'", "void", 0),
            ("'<M8'", "'<M8'", "datetime64", 8),
            ("'<M8[ns]'", "'<M8[ns]'", "datetime64[ns]", 8),
            ("'<M8[1ms]'", "'<M8[ms]'", "datetime64[ms]", 8),
            ("'<M8[10ms]'", "'<M8[10ms]'", "datetime64[10ms]", 8),
            ("'>m8[us]'", "'>m8[us]'", "timedelta64[us]", 8),
            ("'<m8[μs]'", "'<m8[us]'", "timedelta64[us]", 8),
            ("'<M8[7D]'", "'<M8[7D]'", "datetime64[7D]", 8),
            ("[]", "[]", "void", 0),
        ];
        for (given, descr, name, itemsize) in cases {
            let d = dt(given);
            assert_eq!(d.descr(), descr, "{given}");
            assert_eq!(d.name(), name, "{given}");
            assert_eq!(d.itemsize(), itemsize, "{given}");
        }
    }

    #[test]
    fn structured_descr_is_written_back_exactly() {
        let text =
            "[(('tit', 'a'), '<i4'), ('', '|V4'), ('b', [('x', '>f4'), ('y', '|S3')], (2, 3)), ('c', '<f8', (2,))]";
        let d = dt(text);
        assert_eq!(d.descr(), text);
        assert_eq!(d.itemsize(), 4 + 4 + 6 * 7 + 16);
        assert_eq!(d.name(), format!("void{}", d.itemsize() * 8));
        assert_eq!(d.kind_char(), 'V');
    }

    #[test]
    fn refuses_objects_and_nonsense() {
        for bad in [
            "'|O'",
            "'|O8'",
            "[('a', '|O')]",
            "[('a', [('b', '|O')])]",
            "'<f3'",
            "'<i16'",
            "'<q8'",
            "'<M4'",
            "'<M8[xs]'",
            "'<M8[0s]'",
            "'<f8[ns]'",
            "'<S'",
            "''",
            "3",
            "[('a', '<i4'), ('a', '<f8')]",
            "[('a',)]",
            "[('', '<i4'), ('', '<f8')]",
            "[('a', '<i4', (-1,))]",
            "[('a', '|V2147483647'), ('b', '|V1')]",
            "'|V4294967296'",
        ] {
            assert!(Dtype::from_descr_text(bad).is_err(), "{bad} should be refused");
        }
        let err = Dtype::from_descr_text("'|O'").unwrap_err().to_string();
        assert!(err.contains("object arrays are not supported"), "{err}");
    }

    fn err(text: &str) -> String {
        Dtype::from_descr_text(text).expect_err(text).to_string()
    }

    fn record_of(fields: impl Iterator<Item = String>) -> String {
        format!("[{}]", fields.collect::<Vec<_>>().join(", "))
    }

    #[test]
    fn general_kinds_are_listed_in_declaration_order() {
        for (i, kind) in GeneralKind::ALL.iter().enumerate() {
            assert_eq!(*kind as usize, i);
        }
        let chars: HashSet<char> = GeneralKind::ALL.iter().map(|k| k.char()).collect();
        assert_eq!(chars.len(), GeneralKind::ALL.len());
        assert_eq!(dt("'<m8[s]'").general_kind().name(), "timedelta");
    }

    #[test]
    fn names_and_titles_share_one_namespace_like_numpy() {
        // NumPy 2.4's errors for the same dtypes (descr_to_dtype).
        for (text, expected) in [
            (
                "[('a', '<i4'), ('a', '<f8')]",
                "name already used as a name or title: \"a\"",
            ),
            ("[(('a', 'a'), '<f8')]", "title already used"),
            ("[(('t', 'a'), '<f8'), (('t', 'b'), '<i4')]", "title already used"),
            ("[(('b', 'a'), '<f8'), ('b', '<i4')]", "name already used"),
            ("[('b', '<i4'), (('b', 'a'), '<f8')]", "title already used"),
        ] {
            assert!(err(text).contains(expected), "{text}: {}", err(text));
        }
        // Records nest their own namespaces; padding has no name.
        dt("[('a', [('a', '<i4')]), ('', '|V2'), ('b', '<i4'), ('', '|V1')]");
    }

    #[test]
    fn a_repeat_at_the_end_of_a_wide_record_is_found() {
        let n = 60_000;
        let fields = (0..n).map(|i| format!("('f{}', '|b1')", if i == n - 1 { 0 } else { i }));
        assert!(err(&record_of(fields)).contains("name already used"));
        let titled = (0..n).map(|i| format!("(('t{}', 'n{i}'), '|b1')", if i == n - 1 { 0 } else { i }));
        assert!(err(&record_of(titled)).contains("title already used"));
    }

    #[test]
    fn field_count_is_capped_over_every_level() {
        let flat = |n: usize| record_of((0..n).map(|i| format!("('f{i}', '|b1')")));
        assert_eq!(dt(&flat(MAX_FIELDS)).itemsize(), MAX_FIELDS as u64);
        assert!(err(&flat(MAX_FIELDS + 1)).contains("more than 65536 fields"));
        let half = |prefix: &str| {
            let inner = record_of((0..MAX_FIELDS / 2).map(|i| format!("('f{i}', '|b1')")));
            format!("('{prefix}', {inner})")
        };
        // Two records of 32768 fields, plus the two fields holding them.
        assert!(err(&format!("[{}, {}]", half("a"), half("b"))).contains("more than 65536 fields"));
        let padding = record_of((0..MAX_FIELDS + 1).map(|_| "('', '|V0')".to_owned()));
        assert!(err(&padding).contains("more than 65536 fields"));
    }

    #[test]
    fn subarray_shapes_are_bounded_like_numpy() {
        let dims = |n: usize| vec!["1"; n].join(", ");
        assert_eq!(dt(&format!("[('a', '<f8', ({}))]", dims(64))).itemsize(), 8);
        for text in [
            format!("[('a', '<f8', ({}))]", dims(65)),
            format!("[('a', ('<f8', ({})))]", dims(65)),
            format!("[('a', '<f8', ({}))]", dims(300_000)),
            "[('a', '|b1', (0, 2147483648))]".to_owned(),
            "[('a', '|b1', 2147483648)]".to_owned(),
        ] {
            assert!(
                err(&text).contains("invalid shape in fixed-type tuple"),
                "{}",
                err(&text)
            );
        }
        assert!(err("[('a', '<f8', (-1,))]").contains("negative dimension"));
        assert!(err("[('a', '|b1', (65536, 65536))]").contains("too large"));
        // 64 dimensions on each level, as NumPy allows.
        let two_levels = format!("[('c', ('<f8', ({})), ({}))]", dims(64), dims(64));
        assert_eq!(dt(&two_levels).descr(), two_levels);
    }

    #[test]
    fn subarray_formats_nest_like_numpy() {
        // (given, the descr NumPy 2.4 writes for it, itemsize)
        for (given, descr, itemsize) in [
            ("[('c', ('<f8', (5,)), (2,))]", "[('c', ('<f8', (5,)), (2,))]", 80),
            ("[('c', ('<f8', (5,)))]", "[('c', '<f8', (5,))]", 40),
            ("[('c', ('<f8', ()), (2,))]", "[('c', '<f8', (2,))]", 16),
            ("[('c', ('<f8', (3,)), ())]", "[('c', '<f8', (3,))]", 24),
            ("[('c', ('<f8', 3))]", "[('c', '<f8', (3,))]", 24),
            ("[('c', '<f8', 1)]", "[('c', '<f8', (1,))]", 8),
            ("[('c', '<f8', ())]", "[('c', '<f8')]", 8),
            (
                "[('c', (('<i2', (3,)), (5,)), (2,))]",
                "[('c', (('<i2', (3,)), (5,)), (2,))]",
                60,
            ),
            (
                "[('c', ([('a', '<i4')], (3,)), (2,))]",
                "[('c', ([('a', '<i4')], (3,)), (2,))]",
                24,
            ),
        ] {
            let d = dt(given);
            assert_eq!(d.descr(), descr, "{given}");
            assert_eq!(d.itemsize(), itemsize, "{given}");
            assert_eq!(dt(descr), d);
        }
        for bad in ["[('c', ('<f8',))]", "[('c', ('<f8', (2,), (3,)))]", "('<f8', (2,))"] {
            Dtype::from_descr_text(bad).expect_err(bad);
        }
    }

    #[test]
    fn padding_is_written_as_numpy_writes_it() {
        for (given, descr, itemsize) in [
            (
                "[('', '|V0'), ('a', '<i4'), ('', '|V2'), ('', '|V3'), ('b', '<i4'), ('', '|V1', (3,))]",
                "[('a', '<i4'), ('', '|V5'), ('b', '<i4'), ('', '|V3')]",
                16,
            ),
            ("[('', '|V0')]", "[]", 0),
            ("[('', '|V4')]", "[('', '|V4')]", 4),
            ("[(('t', ''), '|V4')]", "[(('t', ''), '|V4')]", 4),
            // Unnamed but neither a plain void nor a subarray: a field named ''.
            (
                "[('a', '<i4'), ('', '|V2'), ('', '<i4'), ('', '<f8', (2,))]",
                "[('a', '<i4'), ('', '|V2'), ('', '<i4'), ('', '|V16')]",
                26,
            ),
            ("[('', [('x', '|u1')])]", "[('', [('x', '|u1')])]", 1),
        ] {
            let d = dt(given);
            assert_eq!((d.descr().as_str(), d.itemsize()), (descr, itemsize), "{given}");
        }
    }

    #[test]
    fn names_are_written_as_python_repr() {
        let d = dt(r#"[("a", '<i4'), ('\x41\u00e9', '<i2'), ("it's", '|u1'), (("t\"", "'n'"), '|u1')]"#);
        assert_eq!(
            d.descr(),
            r#"[('a', '<i4'), ('Aé', '<i2'), ("it's", '|u1'), (('t"', "'n'"), '|u1')]"#
        );
    }

    #[test]
    fn a_record_is_its_canonical_text() {
        let inner = record_of((0..100).map(|i| format!("('f{i}', '<f8')")));
        let text = format!("[('a', [('b', {inner})]), ('c', '<i4')]");
        let d = dt(&text);
        let Kind::Record(record) = &d.kind else { panic!() };
        assert_eq!((record.descr(), record.itemsize()), (text.as_str(), 804));
        assert_eq!(d.descr_len(), text.len());
        assert_eq!(d.heap_bytes(), std::mem::size_of::<Record>() + text.len());
        let copy = d.clone();
        let Kind::Record(shared) = &copy.kind else { panic!() };
        assert!(Arc::ptr_eq(record, shared), "a copy shares the record");
        assert_eq!(dt(&text), d);
        assert_ne!(dt(&text.replace("'<i4'", "'>i4'")), d);
        assert_eq!(dt("'<f8'").heap_bytes(), 0);
    }

    #[test]
    fn a_stored_descr_loads_under_the_rules_it_was_accepted_with() {
        // Values older builds accepted: they still load from an RDB file.
        let dims = vec!["1"; 65].join(", ");
        for text in [
            format!("[('a', '<f8', ({dims}))]"),
            "[(('a', 'a'), '<f8')]".to_owned(),
            "[('a', '|b1', (0, 2147483648))]".to_owned(),
            record_of((0..MAX_FIELDS + 1).map(|i| format!("('f{i}', '|b1')"))),
        ] {
            assert!(Dtype::from_descr_text(&text).is_err());
            let d = Dtype::from_stored_descr_text(&text).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(Dtype::from_stored_descr_text(&d.descr()).unwrap(), d);
        }
        // What was never accepted still is not.
        assert!(Dtype::from_stored_descr_text("[('a', '<i4'), ('a', '<f8')]").is_err());
        assert!(Dtype::from_stored_descr_text("'|O'").is_err());
    }

    #[test]
    fn simple_dtypes_stay_small() {
        // A record is one pointer: the simple kinds set the size, and own no heap.
        assert!(std::mem::size_of::<Dtype>() <= 40, "{}", std::mem::size_of::<Dtype>());
    }

    #[test]
    fn errors_never_repeat_long_input() {
        let long = "x".repeat(100_000);
        for text in [
            format!("'<f{}'", "8".repeat(100_000)),
            format!("[('{long}', '<f8'), ('{long}', '<f8')]"),
            format!("'{long}'"),
        ] {
            let e = err(&text);
            assert!(e.len() < 200, "{} bytes: {}", e.len(), &e[..200]);
        }
    }
}
