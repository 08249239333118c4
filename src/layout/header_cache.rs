//! Recently seen `.npy` headers and what they decode to, and recently
//! written ones (see [`with_written`]).
//!
//! A feature store writes millions of vectors of one shape, so most payloads
//! start with a header the module has just parsed. Parsing one costs a
//! literal parse and a dozen small allocations; a cache hit costs one memcmp.
//!
//! The key is the payload's whole prefix up to the data: magic, version,
//! length field and header text. The decoded metadata is a pure function of
//! those bytes, so a payload that starts with a cached prefix decodes to the
//! cached entry, and a payload whose header differs in any byte misses. Only
//! the data length is checked on a hit; anything else goes through
//! [`npy::parse`], which also produces every error message.

use std::cell::{Cell, RefCell};

use crate::error::Result;
use crate::meta::Meta;
use crate::npy::{self, ParsedNpy};

/// Headers remembered at once; a stream usually has one or two shapes.
const ENTRIES: usize = 8;
/// Longer prefixes (wide structured dtypes) are parsed every time.
const MAX_PREFIX: usize = 4096;

/// The last [`ENTRIES`] entries put in, the oldest replaced first.
struct Ring<T> {
    entries: Vec<T>,
    next: usize,
    /// The entry found or put in last, tried first: a stream of one shape
    /// then reads one entry, not every entry before it (after a big
    /// argument's read each is a cache miss). What an entry answers is a pure
    /// function of what it is found by, so the order of the search does not
    /// change the answer.
    last: Cell<usize>,
}

impl<T> Default for Ring<T> {
    fn default() -> Self {
        Ring {
            entries: Vec::new(),
            next: 0,
            last: Cell::new(0),
        }
    }
}

impl<T> Ring<T> {
    fn find(&self, mut hit: impl FnMut(&T) -> bool) -> Option<usize> {
        let last = self.last.get();
        if self.entries.get(last).is_some_and(&mut hit) {
            return Some(last);
        }
        let at = self.entries.iter().position(hit)?;
        self.last.set(at);
        Some(at)
    }

    /// Puts `entry` in and returns where it went.
    fn insert(&mut self, entry: T) -> usize {
        let at = if self.entries.len() < ENTRIES {
            self.entries.push(entry);
            self.entries.len() - 1
        } else {
            let at = self.next;
            self.entries[at] = entry;
            self.next = (at + 1) % ENTRIES;
            at
        };
        self.last.set(at);
        at
    }
}

/// A parsed header: the payload's prefix up to the data, and what it decodes to.
struct Parsed {
    prefix: Vec<u8>,
    meta: Meta,
    nbytes: u64,
    /// Whether `prefix` is the header np.save writes for `meta`, once asked
    /// ([`parse_canonical`]); like the decode, a pure function of `prefix`.
    canonical: Option<bool>,
}

/// Proof that a payload's prefix up to its data is exactly the header np.save
/// writes for its metadata (what `NP.GET` must return), and its length. Only
/// this module makes one, after comparing the bytes.
#[derive(Debug, Clone, Copy)]
pub struct CanonicalHeader {
    len: usize,
}

impl CanonicalHeader {
    /// The header's length in bytes: the payload's data starts there.
    pub fn bytes(self) -> usize {
        self.len
    }
}

/// A header [`npy::write_header`] wrote for these metadata.
struct Written {
    meta: Meta,
    header: Vec<u8>,
}

thread_local! {
    static CACHE: RefCell<Ring<Parsed>> = RefCell::new(Ring::default());
    static WRITTEN: RefCell<Ring<Written>> = RefCell::new(Ring::default());
}

fn find(ring: &Ring<Parsed>, bytes: &[u8]) -> Option<usize> {
    ring.find(|e| {
        bytes.len() >= e.prefix.len()
            && (bytes.len() - e.prefix.len()) as u64 == e.nbytes
            && bytes[..e.prefix.len()] == e.prefix[..]
    })
}

fn lookup<'a>(ring: &Ring<Parsed>, bytes: &'a [u8]) -> Option<ParsedNpy<'a>> {
    let entry = &ring.entries[find(ring, bytes)?];
    Some(hit(entry, bytes))
}

fn hit<'a>(entry: &Parsed, bytes: &'a [u8]) -> ParsedNpy<'a> {
    ParsedNpy {
        meta: entry.meta.clone(),
        data: &bytes[entry.prefix.len()..],
    }
}

/// Whether `prefix` is the header np.save writes for `meta`.
fn is_canonical(meta: &Meta, prefix: &[u8]) -> bool {
    with_written(meta, |header| header == prefix)
}

/// [`npy::parse`], answered from the cache when the header was seen recently.
pub fn parse(bytes: &[u8]) -> Result<ParsedNpy<'_>> {
    if let Some(hit) = CACHE.with(|c| lookup(&c.borrow(), bytes)) {
        return Ok(hit);
    }
    Ok(parse_and_remember(bytes, false)?.0)
}

/// Parses `bytes` and caches the result; with `compare`, also whether the
/// header is the canonical one (cached with it; `false` when not compared).
fn parse_and_remember(bytes: &[u8], compare: bool) -> Result<(ParsedNpy<'_>, bool)> {
    let parsed = npy::parse(bytes)?;
    let prefix = &bytes[..bytes.len() - parsed.data.len()];
    let canonical = compare && is_canonical(&parsed.meta, prefix);
    if prefix.len() <= MAX_PREFIX {
        let entry = Parsed {
            prefix: prefix.to_vec(),
            meta: parsed.meta.clone(),
            nbytes: parsed.data.len() as u64,
            canonical: compare.then_some(canonical),
        };
        CACHE.with(|c| c.borrow_mut().insert(entry));
    }
    Ok((parsed, canonical))
}

/// [`parse`], and whether the header is exactly the one np.save writes for
/// what it decodes to. A stream of payloads of one shape compares the
/// header once: the answer is cached with the decode, so a hit costs what
/// [`parse`]'s does.
pub fn parse_canonical(bytes: &[u8]) -> Result<(ParsedNpy<'_>, Option<CanonicalHeader>)> {
    let cached = CACHE.with(|c| {
        let mut ring = c.borrow_mut();
        let at = find(&ring, bytes)?;
        let entry = &mut ring.entries[at];
        let canonical = *entry
            .canonical
            .get_or_insert_with(|| is_canonical(&entry.meta, &entry.prefix));
        Some((hit(entry, bytes), canonical))
    });
    let (parsed, canonical) = match cached {
        Some(found) => found,
        None => parse_and_remember(bytes, true)?,
    };
    let len = bytes.len() - parsed.data.len();
    Ok((parsed, canonical.then_some(CanonicalHeader { len })))
}

/// Whether the prefix of `bytes` in front of `parsed`'s data (parsed from
/// them) is np.save's header for it: [`parse_canonical`]'s answer for bytes
/// parsed otherwise.
pub fn canonical_header(parsed: &ParsedNpy, bytes: &[u8]) -> Option<CanonicalHeader> {
    let len = bytes.len().checked_sub(parsed.data.len())?;
    is_canonical(&parsed.meta, &bytes[..len]).then_some(CanonicalHeader { len })
}

/// Runs `f` on the header `np.save` writes for these metadata. Layouts that
/// write the header on read (small arrays, `2^k`-byte data) reply from here:
/// a stream of reads of same-shaped arrays writes it once, then compares the
/// metadata. The header is a pure function of the metadata compared, so
/// a hit is byte-identical to a fresh [`npy::write_header`].
pub fn with_written<R>(meta: &Meta, f: impl FnOnce(&[u8]) -> R) -> R {
    WRITTEN.with(|cache| {
        let mut cache = cache.borrow_mut();
        let at = match cache.find(|e| e.meta == *meta) {
            Some(at) => at,
            None => {
                let header = npy::write_header(meta);
                if header.len() > MAX_PREFIX {
                    drop(cache);
                    return f(&header);
                }
                cache.insert(Written {
                    meta: meta.clone(),
                    header,
                })
            }
        };
        f(&cache.entries[at].header)
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::dtype::Dtype;
    use crate::shape::Shape;

    fn meta(descr: &str, shape: &[u64], fortran: bool) -> Meta {
        let dtype = Dtype::from_descr_text(descr).unwrap();
        Meta::new(dtype, Shape::from_slice(shape), fortran)
    }

    fn payload(descr: &str, shape: &[u64], fortran: bool) -> Vec<u8> {
        let meta = meta(descr, shape, fortran);
        let n = crate::shape::nbytes(shape, meta.dtype().itemsize()).unwrap() as usize;
        let mut out = npy::write_header(&meta);
        out.extend((0..n).map(|i| i as u8));
        out
    }

    fn same(a: &Result<ParsedNpy>, b: &Result<ParsedNpy>) -> bool {
        match (a, b) {
            (Ok(a), Ok(b)) => (&a.meta, a.data) == (&b.meta, b.data),
            (Err(a), Err(b)) => a.to_string() == b.to_string(),
            _ => false,
        }
    }

    const DESCRS: [&str; 6] = [
        "'<f4'",
        "'>i2'",
        "'|u1'",
        "'<c16'",
        "'|S3'",
        "[('a', '<i4'), ('b', '|u1')]",
    ];

    proptest! {
        /// A cached decode is always the decode a fresh parse gives, and a
        /// header changed in any byte (after its twin was cached) never gets
        /// the twin's entry.
        #[test]
        fn cached_decode_equals_a_fresh_one(
            descr in 0..DESCRS.len(),
            shape in proptest::collection::vec(0u64..5, 0..4),
            fortran in any::<bool>(),
            flip_at in any::<prop::sample::Index>(),
            flip_to in any::<u8>(),
            warm in any::<bool>(),
        ) {
            let bytes = payload(DESCRS[descr], &shape, fortran);
            if warm {
                parse(&bytes).unwrap();
            }
            prop_assert!(same(&parse(&bytes), &npy::parse(&bytes)));
            prop_assert!(same(&parse(&bytes), &npy::parse(&bytes)), "second call hits");
            let header_len = bytes.len() - npy::parse(&bytes).unwrap().data.len();
            let mut changed = bytes.clone();
            changed[flip_at.index(header_len)] = flip_to;
            prop_assert!(same(&parse(&changed), &npy::parse(&changed)));
            // A different data length with the same header: refused exactly as a fresh parse refuses it.
            let mut longer = bytes.clone();
            longer.push(0);
            prop_assert!(same(&parse(&longer), &npy::parse(&longer)));
        }
    }

    proptest! {
        /// A written header from the cache is always the one a fresh
        /// `write_header` gives, whatever was cached before it.
        #[test]
        fn cached_header_equals_a_fresh_one(
            cases in proptest::collection::vec(
                (0..DESCRS.len(), proptest::collection::vec(0u64..12, 0..4), any::<bool>()), 1..24),
        ) {
            for (descr, shape, fortran) in cases {
                let meta = meta(DESCRS[descr], &shape, fortran);
                let fresh = npy::write_header(&meta);
                prop_assert_eq!(with_written(&meta, <[u8]>::to_vec), fresh.clone());
                prop_assert_eq!(with_written(&meta, <[u8]>::to_vec), fresh, "second call hits");
            }
        }
    }

    proptest! {
        /// Whether a header is np.save's is answered as a fresh comparison
        /// answers it, on a miss, on a hit, and on a hit of an entry that a
        /// plain parse put in; a respaced header (same length) is not.
        #[test]
        fn canonical_answer_equals_a_fresh_comparison(
            descr in 0..DESCRS.len(),
            shape in proptest::collection::vec(0u64..5, 0..4),
            fortran in any::<bool>(),
            plain_first in any::<bool>(),
            respace in any::<bool>(),
        ) {
            let mut bytes = payload(DESCRS[descr], &shape, fortran);
            if respace {
                let at = bytes.windows(9).position(|w| w == b"'descr': ").unwrap();
                bytes[at..at + 9].copy_from_slice(b"'descr' :");
            }
            let fresh = npy::parse(&bytes).unwrap();
            let header_len = bytes.len() - fresh.data.len();
            let expected = bytes[..header_len] == npy::write_header(&fresh.meta)[..];
            prop_assert_eq!(expected, !respace);
            if plain_first {
                parse(&bytes).unwrap();
            }
            for _ in 0..2 {
                let (parsed, header) = parse_canonical(&bytes).unwrap();
                prop_assert!(same(&Ok(parsed), &npy::parse(&bytes)));
                prop_assert_eq!(header.map(CanonicalHeader::bytes), expected.then_some(header_len));
            }
            prop_assert_eq!(canonical_header(&fresh, &bytes).map(CanonicalHeader::bytes), expected.then_some(header_len));
        }
    }

    #[test]
    fn a_stream_of_one_shape_hits() {
        let bytes = payload("'<f4'", &[16], false);
        parse(&bytes).unwrap();
        let hit = CACHE.with(|c| lookup(&c.borrow(), &bytes).is_some());
        assert!(hit);
        let other = payload("'<f4'", &[17], false);
        assert!(CACHE.with(|c| lookup(&c.borrow(), &other).is_none()));
    }
}
