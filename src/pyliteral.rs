//! A strict parser for the subset of Python literals that a `.npy` header uses:
//! dicts, lists, tuples, strings, non-negative or negated integers, `True`/`False`.
//!
//! NumPy reads the header with `ast.literal_eval`; we never evaluate anything.
//! The parser is linear in the input and its nesting depth is bounded, so a
//! hostile header costs at most one pass and a fixed amount of stack.

use crate::error::{NpyError, Result};

/// Deepest container nesting accepted (a nested struct level costs two: list + tuple).
pub const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Literal {
    /// A string: its exact source text (quotes and escapes included) and its value.
    Str {
        source: String,
        value: String,
    },
    /// An integer literal; `negative` is set for `-N`.
    Int {
        negative: bool,
        magnitude: u64,
    },
    Bool(bool),
    Tuple(Vec<Literal>),
    List(Vec<Literal>),
    Dict(Vec<(Literal, Literal)>),
}

impl Literal {
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

/// Parses `text` as exactly one literal, surrounded by optional whitespace.
pub fn parse(text: &str) -> Result<Literal> {
    let mut p = Parser {
        s: text.as_bytes(),
        text,
        pos: 0,
    };
    p.skip_ws();
    let value = p.value(0)?;
    p.skip_ws();
    if p.pos != p.s.len() {
        return Err(p.err("unexpected text after the literal"));
    }
    Ok(value)
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
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

    fn value(&mut self, depth: usize) -> Result<Literal> {
        match self.peek() {
            Some(b'{') => self.dict(depth + 1),
            Some(b'[') => Ok(Literal::List(self.sequence(b'[', b']', depth + 1)?.0)),
            Some(b'(') => self.tuple(depth + 1),
            Some(b'\'' | b'"') => self.string(),
            Some(b'-' | b'0'..=b'9') => self.int(),
            Some(b'T' | b'F') => self.boolean(),
            Some(_) => Err(self.err("unsupported token")),
            None => Err(self.err("unexpected end")),
        }
    }

    fn check_depth(&self, depth: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(NpyError::invalid(format!(
                "header nests deeper than {MAX_DEPTH} levels"
            )));
        }
        Ok(())
    }

    /// Items separated by commas with an optional trailing comma. Returns the
    /// items and whether any comma was seen (which makes `(x,)` a tuple).
    fn sequence(&mut self, open: u8, close: u8, depth: usize) -> Result<(Vec<Literal>, bool)> {
        self.check_depth(depth)?;
        self.expect(open)?;
        let mut items = Vec::new();
        let mut comma = false;
        loop {
            self.skip_ws();
            if self.peek() == Some(close) {
                self.pos += 1;
                return Ok((items, comma));
            }
            items.push(self.value(depth)?);
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

    fn tuple(&mut self, depth: usize) -> Result<Literal> {
        let (items, comma) = self.sequence(b'(', b')', depth)?;
        if items.len() == 1 && !comma {
            // `(x)` is just a parenthesised x, never a tuple.
            return Err(self.err("parenthesised value is not a tuple (missing ',')"));
        }
        Ok(Literal::Tuple(items))
    }

    fn dict(&mut self, depth: usize) -> Result<Literal> {
        self.check_depth(depth)?;
        self.expect(b'{')?;
        let mut entries = Vec::new();
        loop {
            self.skip_ws();
            if self.peek() == Some(b'}') {
                self.pos += 1;
                return Ok(Literal::Dict(entries));
            }
            let key = self.value(depth)?;
            self.skip_ws();
            self.expect(b':')?;
            self.skip_ws();
            let value = self.value(depth)?;
            entries.push((key, value));
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {}
                _ => return Err(self.err("expected ',' or '}'")),
            }
        }
    }

    fn boolean(&mut self) -> Result<Literal> {
        for (word, value) in [("True", true), ("False", false)] {
            if self.s[self.pos..].starts_with(word.as_bytes()) {
                let end = self.pos + word.len();
                if !matches!(self.s.get(end), Some(c) if c.is_ascii_alphanumeric() || *c == b'_') {
                    self.pos = end;
                    return Ok(Literal::Bool(value));
                }
            }
        }
        Err(self.err("unsupported name"))
    }

    fn int(&mut self) -> Result<Literal> {
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
            .map_err(|_| NpyError::invalid(format!("integer {digits} is out of range")))?;
        Ok(Literal::Int { negative, magnitude })
    }

    fn string(&mut self) -> Result<Literal> {
        let start = self.pos;
        let quote = self.s[self.pos];
        self.pos += 1;
        let mut value = String::new();
        loop {
            let rest = &self.text[self.pos..];
            let Some(c) = rest.chars().next() else {
                return Err(self.err("unterminated string"));
            };
            self.pos += c.len_utf8();
            match c {
                '\\' => value.push(self.escape()?),
                '\n' | '\r' => return Err(self.err("newline in string")),
                c if c as u32 == quote as u32 => break,
                c => value.push(c),
            }
        }
        Ok(Literal::Str {
            source: self.text[start..self.pos].to_owned(),
            value,
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Literal {
        Literal::Str {
            source: format!("'{v}'"),
            value: v.to_owned(),
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
                source: r#""it's \x41\u00e9\n""#.into(),
                value: "it's Aé\n".into()
            }
        );
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
    fn nesting_is_bounded() {
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        let err = parse(&deep).unwrap_err().to_string();
        assert!(err.contains("deeper than"), "{err}");
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse(&ok).is_ok());
    }
}
