//! A strict parser for the subset of Python literals that a `.npy` header uses:
//! dicts, lists, tuples, strings, non-negative or negated integers, `True`/`False`.
//!
//! NumPy reads the header with `ast.literal_eval`; we never evaluate anything.
//! The parser is linear in the input and its nesting depth is bounded, so a
//! hostile header costs at most one pass and a fixed amount of stack. Strings
//! borrow from the text; only those with escapes allocate their value.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::error::{excerpt, NpyError, Result};

/// Deepest container nesting accepted (a nested struct level costs two: list + tuple).
pub const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Literal<'a> {
    /// A string: its exact source text (quotes and escapes included) and its value.
    Str {
        source: &'a str,
        value: Cow<'a, str>,
    },
    /// An integer literal; `negative` is set for `-N`.
    Int {
        negative: bool,
        magnitude: u64,
    },
    Bool(bool),
    Tuple(Vec<Literal<'a>>),
    List(Vec<Literal<'a>>),
    Dict(Vec<(Literal<'a>, Literal<'a>)>),
}

impl Literal<'_> {
    pub fn kind(&self) -> &'static str {
        match self {
            Literal::Str { .. } => "a string",
            Literal::Int { .. } => "an integer",
            Literal::Bool(_) => "a boolean",
            Literal::Tuple(_) => "a tuple",
            Literal::List(_) => "a list",
            Literal::Dict(_) => "a dict",
        }
    }
}

/// What the next value in the text is, judged by its first character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Str,
    Int,
    Bool,
    Tuple,
    List,
    Dict,
}

impl Next {
    pub fn kind(self) -> &'static str {
        match self {
            Next::Str => "a string",
            Next::Int => "an integer",
            Next::Bool => "a boolean",
            Next::Tuple => "a tuple",
            Next::List => "a list",
            Next::Dict => "a dict",
        }
    }
}

/// Parses `text` as exactly one literal, surrounded by optional whitespace.
pub fn parse(text: &str) -> Result<Literal<'_>> {
    let mut p = Parser::new(text);
    let value = p.value()?;
    p.end()?;
    Ok(value)
}

/// A pull parser: the caller asks for the next value's kind and reads it
/// with the matching method, or walks a container item by item, so a header
/// is interpreted as it is read and never held as a tree of literals.
pub struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    pub fn new(text: &'a str) -> Parser<'a> {
        Parser {
            s: text.as_bytes(),
            text,
            pos: 0,
            depth: 0,
        }
    }

    fn err(&self, what: &str) -> NpyError {
        NpyError::invalid(format!("header is not a Python literal: {what} at offset {}", self.pos))
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r' | b'\x0c')) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<()> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err(&format!("expected '{}'", byte as char)))
        }
    }

    /// Requires that only whitespace is left.
    pub fn end(&mut self) -> Result<()> {
        self.skip_ws();
        if self.pos != self.s.len() {
            return Err(self.err("unexpected text after the literal"));
        }
        Ok(())
    }

    /// The kind of the next value (after whitespace), without reading it.
    pub fn peek_kind(&mut self) -> Result<Next> {
        self.skip_ws();
        match self.peek() {
            Some(b'{') => Ok(Next::Dict),
            Some(b'[') => Ok(Next::List),
            Some(b'(') => Ok(Next::Tuple),
            Some(b'\'' | b'"') => Ok(Next::Str),
            Some(b'-' | b'0'..=b'9') => Ok(Next::Int),
            Some(b'T' | b'F') => Ok(Next::Bool),
            Some(_) => Err(self.err("unsupported token")),
            None => Err(self.err("unexpected end")),
        }
    }

    /// Reads any value as a tree.
    pub fn value(&mut self) -> Result<Literal<'a>> {
        match self.peek_kind()? {
            Next::Dict => {
                let mut entries = Vec::new();
                self.dict(|p, key| {
                    let value = p.value()?;
                    entries.push((key, value));
                    Ok(())
                })?;
                Ok(Literal::Dict(entries))
            }
            Next::List => {
                let mut items = Vec::new();
                self.items(|p, _| {
                    items.push(p.value()?);
                    Ok(())
                })?;
                Ok(Literal::List(items))
            }
            Next::Tuple => {
                let mut items = Vec::new();
                self.items(|p, _| {
                    items.push(p.value()?);
                    Ok(())
                })?;
                Ok(Literal::Tuple(items))
            }
            Next::Str => {
                let (source, value) = self.string()?;
                Ok(Literal::Str { source, value })
            }
            Next::Int => {
                let (negative, magnitude) = self.int()?;
                Ok(Literal::Int { negative, magnitude })
            }
            Next::Bool => Ok(Literal::Bool(self.boolean()?)),
        }
    }

    fn open(&mut self, byte: u8) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(NpyError::invalid(format!(
                "header nests deeper than {MAX_DEPTH} levels"
            )));
        }
        self.expect(byte)
    }

    /// Walks the list or tuple that comes next, calling `item` with the parser
    /// at each item and its index; `item` must read exactly that item. Items are
    /// separated by commas, with an optional trailing comma; `(x)` is refused, as
    /// it is just a parenthesised x. Returns the number of items.
    pub fn items(&mut self, mut item: impl FnMut(&mut Self, usize) -> Result<()>) -> Result<usize> {
        let (open, close) = match self.peek_kind()? {
            Next::List => (b'[', b']'),
            Next::Tuple => (b'(', b')'),
            other => return Err(self.err(&format!("expected a list or a tuple, got {}", other.kind()))),
        };
        self.open(open)?;
        let mut count = 0;
        let mut comma = false;
        loop {
            self.skip_ws();
            if self.peek() == Some(close) {
                self.pos += 1;
                self.depth -= 1;
                if open == b'(' && count == 1 && !comma {
                    return Err(self.err("parenthesised value is not a tuple (missing ',')"));
                }
                return Ok(count);
            }
            item(self, count)?;
            count += 1;
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    comma = true;
                }
                Some(c) if c == close => {}
                _ => return Err(self.err(&format!("expected ',' or '{}'", close as char))),
            }
        }
    }

    /// Walks the dict that comes next: reads each key and calls `value` with
    /// the parser at its value, which `value` must read.
    pub fn dict(&mut self, mut value: impl FnMut(&mut Self, Literal<'a>) -> Result<()>) -> Result<()> {
        if self.peek_kind()? != Next::Dict {
            return Err(self.err("expected a dict"));
        }
        self.open(b'{')?;
        loop {
            self.skip_ws();
            if self.peek() == Some(b'}') {
                self.pos += 1;
                self.depth -= 1;
                return Ok(());
            }
            let key = self.value()?;
            self.skip_ws();
            self.expect(b':')?;
            value(self, key)?;
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {}
                _ => return Err(self.err("expected ',' or '}'")),
            }
        }
    }

    pub fn boolean(&mut self) -> Result<bool> {
        self.skip_ws();
        for (word, value) in [("True", true), ("False", false)] {
            if self.s[self.pos..].starts_with(word.as_bytes()) {
                let end = self.pos + word.len();
                if !matches!(self.s.get(end), Some(c) if c.is_ascii_alphanumeric() || *c == b'_') {
                    self.pos = end;
                    return Ok(value);
                }
            }
        }
        Err(self.err("unsupported name"))
    }

    /// An integer as its sign (`-N`) and magnitude.
    pub fn int(&mut self) -> Result<(bool, u64)> {
        self.skip_ws();
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
            self.skip_ws();
        }
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        let digits = &self.text[start..self.pos];
        if digits.is_empty() {
            return Err(self.err("expected digits"));
        }
        if digits.len() > 1 && digits.starts_with('0') {
            return Err(self.err("integer with leading zeros"));
        }
        if matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == b'_' || c == b'.') {
            return Err(self.err("only plain decimal integers are supported"));
        }
        let magnitude = digits
            .parse::<u64>()
            .map_err(|_| NpyError::invalid(format!("integer {} is out of range", excerpt(digits))))?;
        Ok((negative, magnitude))
    }

    /// A string as its source text (quotes and escapes included) and its value.
    /// Scans bytes: the quote, `\\` and newlines are ASCII, so they never
    /// occur inside a multi-byte UTF-8 character.
    pub fn string(&mut self) -> Result<(&'a str, Cow<'a, str>)> {
        self.skip_ws();
        let start = self.pos;
        let quote = match self.peek() {
            Some(q @ (b'\'' | b'"')) => q,
            _ => return Err(self.err("expected a string")),
        };
        self.pos += 1;
        let mut run = self.pos;
        // Allocated at the first escape; until then the value is a slice of the text.
        let mut unescaped: Option<String> = None;
        loop {
            match self.peek() {
                None => return Err(self.err("unterminated string")),
                Some(b) if b == quote => break,
                Some(b'\\') => {
                    let value = unescaped.get_or_insert_with(String::new);
                    value.push_str(&self.text[run..self.pos]);
                    self.pos += 1;
                    let c = self.escape()?;
                    unescaped.get_or_insert_with(String::new).push(c);
                    run = self.pos;
                }
                Some(b'\n' | b'\r') => return Err(self.err("newline in string")),
                Some(_) => self.pos += 1,
            }
        }
        let tail = &self.text[run..self.pos];
        self.pos += 1;
        let value = match unescaped {
            None => Cow::Borrowed(tail),
            Some(mut value) => {
                value.push_str(tail);
                Cow::Owned(value)
            }
        };
        Ok((&self.text[start..self.pos], value))
    }

    fn escape(&mut self) -> Result<char> {
        let Some(&c) = self.s.get(self.pos) else {
            return Err(self.err("unterminated escape"));
        };
        self.pos += 1;
        let simple = match c {
            b'\\' => Some('\\'),
            b'\'' => Some('\''),
            b'"' => Some('"'),
            b'n' => Some('\n'),
            b'r' => Some('\r'),
            b't' => Some('\t'),
            b'a' => Some('\x07'),
            b'b' => Some('\x08'),
            b'f' => Some('\x0c'),
            b'v' => Some('\x0b'),
            _ => None,
        };
        if let Some(ch) = simple {
            return Ok(ch);
        }
        let (digits, radix) = match c {
            b'x' => (2, 16),
            b'u' => (4, 16),
            b'U' => (8, 16),
            b'0'..=b'7' => {
                self.pos -= 1;
                let n = self.s[self.pos..]
                    .iter()
                    .take(3)
                    .take_while(|b| (b'0'..=b'7').contains(b))
                    .count();
                (n, 8)
            }
            _ => return Err(self.err("unsupported string escape")),
        };
        let text = self
            .text
            .get(self.pos..self.pos + digits)
            .ok_or_else(|| self.err("short escape"))?;
        let code = u32::from_str_radix(text, radix).map_err(|_| self.err("bad escape digits"))?;
        self.pos += digits;
        char::from_u32(code).ok_or_else(|| self.err("escape is not a valid character"))
    }
}

/// Appends Python's `repr` of the string `s` (what NumPy writes for a field
/// name): single quotes unless `s` has a `'` and no `"`, and escapes for
/// backslashes, the quote and characters Python does not print.
pub fn write_str_repr(out: &mut String, s: &str) {
    if s.bytes()
        .all(|b| (b' '..=b'~').contains(&b) && b != b'\'' && b != b'\\')
    {
        // Printable ASCII needing no escape: the common case, copied whole.
        out.reserve(s.len() + 2);
        out.push('\'');
        out.push_str(s);
        out.push('\'');
        return;
    }
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if is_printable(c) => out.push(c),
            c => {
                let code = u32::from(c);
                if code < 0x100 {
                    write!(out, "\\x{code:02x}")
                } else if code < 0x10000 {
                    write!(out, "\\u{code:04x}")
                } else {
                    write!(out, "\\U{code:08x}")
                }
                .expect("write to String");
            }
        }
    }
    out.push(quote);
}

/// Python's `str.isprintable` for one character: false for the categories
/// Cc, Cf, Cs, Co, Cn, Zl, Zp and Zs other than the space. Rust's `Debug`
/// escaping leaves exactly those printable (past a string's first character,
/// where it also escapes combining marks), so it answers without a Unicode table.
fn is_printable(c: char) -> bool {
    if c.is_ascii() {
        return (' '..='~').contains(&c);
    }
    let mut buf = [0u8; 5];
    buf[0] = b'a';
    let len = 1 + c.encode_utf8(&mut buf[1..]).len();
    let pair = std::str::from_utf8(&buf[..len]).expect("encoded as UTF-8");
    pair.escape_debug().nth(1) == Some(c)
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

/// Reads a dimension: a non-negative integer up to 2^63-1.
pub fn dim(p: &mut Parser) -> Result<u64> {
    match p.peek_kind()? {
        Next::Int => match p.int()? {
            (false, magnitude) if magnitude <= i64::MAX as u64 => Ok(magnitude),
            (false, magnitude) => Err(NpyError::invalid(format!("dimension {magnitude} is too large"))),
            (true, 0) => Ok(0),
            (true, magnitude) => Err(NpyError::invalid(format!("negative dimension -{magnitude}"))),
        },
        other => Err(NpyError::invalid(format!(
            "dimensions must be integers, got {}",
            other.kind()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuples_are_written_like_python() {
        let mut s = String::new();
        write_tuple(&mut s, &[]);
        write_tuple(&mut s, &[3]);
        write_tuple(&mut s, &[3, 4]);
        assert_eq!(s, "()(3,)(3, 4)");
    }

    fn s(v: &'static str) -> Literal<'static> {
        Literal::Str {
            source: Box::leak(format!("'{v}'").into_boxed_str()),
            value: Cow::Borrowed(v),
        }
    }

    #[test]
    fn parses_a_numpy_header() {
        let lit = parse("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }   \n").unwrap();
        let Literal::Dict(entries) = lit else {
            panic!("not a dict")
        };
        assert_eq!(entries[0], (s("descr"), s("<f8")));
        assert_eq!(entries[1], (s("fortran_order"), Literal::Bool(false)));
        let three = Literal::Int {
            negative: false,
            magnitude: 3,
        };
        let four = Literal::Int {
            negative: false,
            magnitude: 4,
        };
        assert_eq!(entries[2], (s("shape"), Literal::Tuple(vec![three, four])));
    }

    #[test]
    fn tuples_need_a_comma() {
        assert_eq!(parse("()").unwrap(), Literal::Tuple(vec![]));
        assert!(matches!(parse("(3,)").unwrap(), Literal::Tuple(v) if v.len() == 1));
        assert!(parse("(3)").is_err());
    }

    #[test]
    fn strings_keep_their_source_and_decode_escapes() {
        let lit = parse(r#""it's \x41\u00e9\n""#).unwrap();
        assert_eq!(
            lit,
            Literal::Str {
                source: r#""it's \x41\u00e9\n""#,
                value: "it's Aé\n".into()
            }
        );
        assert!(matches!(
            parse("'plain é'").unwrap(),
            Literal::Str {
                value: Cow::Borrowed("plain é"),
                ..
            }
        ));
        assert!(parse("'a\nb'").is_err(), "a raw newline ends nothing");
        assert!(parse(r"'\N{DASH}'").is_err());
        assert!(parse("'open").is_err());
    }

    #[test]
    fn integers_are_plain_decimal() {
        assert_eq!(
            parse("-5").unwrap(),
            Literal::Int {
                negative: true,
                magnitude: 5
            }
        );
        for bad in ["0x10", "1_000", "007", "1.5", "99999999999999999999999", "1e3"] {
            assert!(parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn refuses_names_calls_and_trailing_text() {
        for bad in [
            "None",
            "Truex",
            "__import__('os')",
            "{'a': 1} x",
            "",
            "{'a' 1}",
            "[1 2]",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn strings_are_written_like_python_repr() {
        // repr() in CPython 3.12.
        let cases = [
            ("a", "'a'"),
            ("it's", "\"it's\""),
            ("'\"", "'\\'\"'"),
            ("\\\t\n\r\x00\x7f", "'\\\\\\t\\n\\r\\x00\\x7f'"),
            ("é\u{a0}\u{ad}\u{85}", "'é\\xa0\\xad\\x85'"),
            (
                "λ\u{200b}\u{2028}\u{e000}😀\u{301}",
                "'λ\\u200b\\u2028\\ue000😀\u{301}'",
            ),
            ("\u{10ffff}\u{e0001}", "'\\U0010ffff\\U000e0001'"),
        ];
        for (value, repr) in cases {
            let mut out = String::new();
            write_str_repr(&mut out, value);
            assert_eq!(out, repr, "{value:?}");
            let Literal::Str { value: back, .. } = parse(&out).unwrap() else {
                panic!("not a string")
            };
            assert_eq!(back, value);
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        let err = parse(&deep).unwrap_err().to_string();
        assert!(err.contains("deeper than"), "{err}");
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse(&ok).is_ok());
    }
}
