//! The dtype model: every dtype NumPy can save without pickle.
//!
//! A dtype is parsed from the header's `descr` literal (a typestr such as
//! `'<f8'`, or a structured list) and written back as the exact text
//! `np.save` produces (`repr(dtype.descr)` for records, `repr(dtype.str)` otherwise).

use std::fmt::Write as _;

use smallvec::SmallVec;

use crate::error::{NpyError, Result};
use crate::pyliteral::{self, Literal};

/// NumPy refuses itemsizes that do not fit a C int.
pub const MAX_ITEMSIZE: u64 = i32::MAX as u64;

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
    fn suffix(&self) -> String {
        match (self.unit, self.multiplier) {
            (None, _) => String::new(),
            (Some(u), 1) => format!("[{u}]"),
            (Some(u), m) => format!("[{m}{u}]"),
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
    Record(Box<Record>),
}

/// A structured dtype, exactly as its `descr` list lists it (padding entries included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub fields: Vec<Field>,
    pub itemsize: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The name's source literal (`'x'`, or `('title', 'x')`), kept verbatim so
    /// that the written header repeats it exactly.
    pub name_source: String,
    /// The decoded name (empty for padding entries).
    pub name: String,
    pub dtype: Dtype,
    /// Subarray shape; empty when the field is not a subarray.
    pub shape: SmallVec<[u64; 4]>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dtype {
    pub kind: Kind,
    pub order: ByteOrder,
}

impl Dtype {
    /// Parses the text of a `descr` literal, e.g. `'<f8'` or `[('a', '<i4')]`.
    pub fn from_descr_text(text: &str) -> Result<Dtype> {
        Dtype::from_descr(&pyliteral::parse(text)?)
    }

    /// Interprets an already-parsed `descr` literal.
    pub fn from_descr(lit: &Literal) -> Result<Dtype> {
        match lit {
            Literal::Str { value, .. } => Dtype::from_typestr(value),
            Literal::List(entries) => Ok(Dtype {
                kind: Kind::Record(Box::new(Record::from_entries(entries)?)),
                order: ByteOrder::NotApplicable,
            }),
            other => Err(NpyError::invalid(format!(
                "descr must be a string or a list, got {}",
                other.kind()
            ))),
        }
    }

    /// Parses a typestr such as `<f8`, `|S10`, `>M8[10ms]`.
    pub fn from_typestr(s: &str) -> Result<Dtype> {
        let bad = |why: &str| NpyError::invalid(format!("descr {s:?} is not a supported dtype: {why}"));
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

    /// NumPy's one-letter kind (`dtype.kind`).
    pub fn kind_char(&self) -> char {
        match &self.kind {
            Kind::Bool => 'b',
            Kind::Int8 | Kind::Int16 | Kind::Int32 | Kind::Int64 => 'i',
            Kind::UInt8 | Kind::UInt16 | Kind::UInt32 | Kind::UInt64 => 'u',
            Kind::Float16 | Kind::Float32 | Kind::Float64 | Kind::LongDouble(_) => 'f',
            Kind::Complex64 | Kind::Complex128 | Kind::CLongDouble(_) => 'c',
            Kind::Bytes(_) => 'S',
            Kind::Unicode(_) => 'U',
            Kind::Void(_) | Kind::Record(_) => 'V',
            Kind::DateTime(_) => 'M',
            Kind::TimeDelta(_) => 'm',
        }
    }

    /// The typestr (`dtype.str`), e.g. `<f8`; records have none.
    pub fn typestr(&self) -> Option<String> {
        let size = match &self.kind {
            Kind::Record(_) => return None,
            Kind::Unicode(n) => u64::from(*n),
            _ => self.itemsize(),
        };
        let unit = match &self.kind {
            Kind::DateTime(u) | Kind::TimeDelta(u) => u.suffix(),
            _ => String::new(),
        };
        Some(format!("{}{}{}{}", self.order.symbol(), self.kind_char(), size, unit))
    }

    /// `dtype.name` as NumPy 2.x prints it: `float32`, `bytes56`, `datetime64[ns]`, `void64`.
    pub fn name(&self) -> String {
        let base = match &self.kind {
            Kind::Bool => return "bool".to_owned(),
            Kind::Int8 | Kind::Int16 | Kind::Int32 | Kind::Int64 => "int",
            Kind::UInt8 | Kind::UInt16 | Kind::UInt32 | Kind::UInt64 => "uint",
            Kind::Float16 | Kind::Float32 | Kind::Float64 | Kind::LongDouble(_) => "float",
            Kind::Complex64 | Kind::Complex128 | Kind::CLongDouble(_) => "complex",
            Kind::Bytes(_) => "bytes",
            Kind::Unicode(_) => "str",
            Kind::Void(_) | Kind::Record(_) => "void",
            Kind::DateTime(_) => "datetime",
            Kind::TimeDelta(_) => "timedelta",
        };
        let flexible = matches!(self.kind_char(), 'S' | 'U' | 'V');
        let mut name = base.to_owned();
        if !(flexible && self.itemsize() == 0) {
            write!(name, "{}", self.itemsize() * 8).expect("write to String");
        }
        if let Kind::DateTime(u) | Kind::TimeDelta(u) = &self.kind {
            name.push_str(&u.suffix());
        }
        name
    }

    /// The `descr` text as `np.save` writes it into the header.
    pub fn descr(&self) -> String {
        let mut out = String::new();
        self.write_descr(&mut out);
        out
    }

    fn write_descr(&self, out: &mut String) {
        match &self.kind {
            Kind::Record(record) => {
                out.push('[');
                for (i, field) in record.fields.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push('(');
                    out.push_str(&field.name_source);
                    out.push_str(", ");
                    field.dtype.write_descr(out);
                    if !field.shape.is_empty() {
                        out.push_str(", ");
                        write_tuple(out, &field.shape);
                    }
                    out.push(')');
                }
                out.push(']');
            }
            _ => {
                out.push('\'');
                out.push_str(&self.typestr().expect("non-record dtypes have a typestr"));
                out.push('\'');
            }
        }
    }

    /// True when the data holds nothing but plain bytes of one native-endian
    /// numeric or boolean type, so it can be viewed as a typed slice.
    pub fn is_native_scalar(&self) -> bool {
        self.order != ByteOrder::Big && !matches!(self.kind, Kind::Record(_))
    }
}

/// Python's `repr` of a tuple of ints: `()`, `(3,)`, `(3, 4)`.
pub fn write_tuple(out: &mut String, dims: &[u64]) {
    out.push('(');
    for (i, d) in dims.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write!(out, "{d}").expect("write to String");
    }
    if dims.len() == 1 {
        out.push(',');
    }
    out.push(')');
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

impl Record {
    fn from_entries(entries: &[Literal]) -> Result<Record> {
        let mut fields = Vec::with_capacity(entries.len());
        let mut itemsize: u64 = 0;
        for entry in entries {
            let field = Field::from_entry(entry)?;
            if !field.name.is_empty() && fields.iter().any(|f: &Field| f.name == field.name) {
                return Err(NpyError::invalid(format!("duplicate field name {:?}", field.name)));
            }
            itemsize = itemsize
                .checked_add(field.itemsize()?)
                .filter(|&n| n <= MAX_ITEMSIZE)
                .ok_or_else(|| NpyError::invalid("structured dtype is too large"))?;
            fields.push(field);
        }
        Ok(Record { fields, itemsize })
    }
}

impl Field {
    fn from_entry(entry: &Literal) -> Result<Field> {
        let bad = |why: &str| NpyError::invalid(format!("bad structured dtype field: {why}"));
        let Literal::Tuple(parts) = entry else {
            return Err(bad("each field must be a tuple (name, format[, shape])"));
        };
        let (name_lit, format, shape_lit) = match parts.as_slice() {
            [n, f] => (n, f, None),
            [n, f, s] => (n, f, Some(s)),
            _ => return Err(bad("each field must be a tuple (name, format[, shape])")),
        };
        let (name_source, name) = match name_lit {
            Literal::Str { source, value } => (source.clone(), value.clone()),
            Literal::Tuple(pair) => match pair.as_slice() {
                [Literal::Str { source: t, .. }, Literal::Str { source: n, value }] => {
                    (format!("({t}, {n})"), value.clone())
                }
                _ => return Err(bad("a titled name must be a tuple (title, name) of strings")),
            },
            _ => return Err(bad("a field name must be a string")),
        };
        let dtype = Dtype::from_descr(format)?;
        let shape: SmallVec<[u64; 4]> = match shape_lit {
            None => SmallVec::new(),
            Some(Literal::Tuple(dims)) => dims.iter().map(dim).collect::<Result<_>>()?,
            Some(single @ Literal::Int { .. }) => SmallVec::from_elem(dim(single)?, 1),
            Some(_) => return Err(bad("a subarray shape must be a tuple of integers")),
        };
        let is_padding = matches!(dtype.kind, Kind::Void(_));
        if name.is_empty() && !is_padding {
            return Err(bad("only void padding fields may have an empty name"));
        }
        Ok(Field {
            name_source,
            name,
            dtype,
            shape,
        })
    }

    pub fn itemsize(&self) -> Result<u64> {
        self.shape
            .iter()
            .try_fold(self.dtype.itemsize(), |acc, &d| acc.checked_mul(d))
            .filter(|&n| n <= MAX_ITEMSIZE)
            .ok_or_else(|| NpyError::invalid("structured dtype field is too large"))
    }
}

/// A non-negative integer dimension.
pub fn dim(lit: &Literal) -> Result<u64> {
    match lit {
        Literal::Int {
            negative: false,
            magnitude,
        } if *magnitude <= i64::MAX as u64 => Ok(*magnitude),
        Literal::Int {
            negative: true,
            magnitude,
        } if *magnitude != 0 => Err(NpyError::invalid(format!("negative dimension -{magnitude}"))),
        Literal::Int { negative: true, .. } => Ok(0),
        Literal::Int { magnitude, .. } => Err(NpyError::invalid(format!("dimension {magnitude} is too large"))),
        other => Err(NpyError::invalid(format!(
            "dimensions must be integers, got {}",
            other.kind()
        ))),
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
            "[('', '<i4')]",
            "[('a', '<i4', (-1,))]",
            "[('a', '|V2147483647'), ('b', '|V1')]",
            "'|V4294967296'",
        ] {
            assert!(Dtype::from_descr_text(bad).is_err(), "{bad} should be refused");
        }
        let err = Dtype::from_descr_text("'|O'").unwrap_err().to_string();
        assert!(err.contains("object arrays are not supported"), "{err}");
    }

    #[test]
    fn tuples_are_written_like_python() {
        let mut s = String::new();
        write_tuple(&mut s, &[]);
        write_tuple(&mut s, &[3]);
        write_tuple(&mut s, &[3, 4]);
        assert_eq!(s, "()(3,)(3, 4)");
    }
}
