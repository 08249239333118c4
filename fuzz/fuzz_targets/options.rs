//! Command options as the module receives them: NUL-separated arguments
//! after a clock byte. `NP.SET`'s options (NX/XX/GET/EX/PX/EXAT/PXAT/KEEPTTL),
//! `NP.GET`'s, `NP.APPEND`'s MAXLEN, `NP.TRIM`'s length, `NP.REDUCE`'s and
//! `NP.UPDATE`'s arguments. Nothing may panic; option names are case-insensitive; accepted
//! NP.SET options written back in the form replicas receive (absolute PXAT)
//! parse to the same options; an accepted integer is Redis's canonical text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redis_numpy::options::{self, Condition, OptionError, Ttl};

fn upper(args: &[&[u8]]) -> Vec<Vec<u8>> {
    args.iter().map(|a| a.to_ascii_uppercase()).collect()
}

fuzz_target!(|data: &[u8]| {
    let Some((&clock, rest)) = data.split_first() else {
        return;
    };
    let args: Vec<&[u8]> = if rest.is_empty() {
        Vec::new()
    } else {
        rest.split(|&b| b == 0).collect()
    };
    // A clock from the epoch to about 2106, as a server's could be.
    let now_ms = i64::from(clock) * 16_777_216_000 + 1_700_000_000_000;
    let allow_past = clock & 1 == 1;

    let set = options::parse_set(&args, now_ms, allow_past);
    let shouted = upper(&args);
    // Upper-casing a number changes nothing, and names are case-insensitive.
    assert_eq!(
        options::parse_set(&shouted, now_ms, allow_past),
        set,
        "NP.SET options are case-sensitive"
    );
    if let Ok(o) = set {
        let mut canonical: Vec<String> = Vec::new();
        match o.condition {
            Some(Condition::Missing) => canonical.push("NX".into()),
            Some(Condition::Exists) => canonical.push("XX".into()),
            None => {}
        }
        if o.get {
            canonical.push("GET".into());
        }
        match o.ttl {
            Ttl::Clear => {}
            Ttl::Keep => canonical.push("KEEPTTL".into()),
            Ttl::ExpireAt(at) => {
                assert!(at > 0, "an expiry time is positive");
                assert!(allow_past || at > now_ms, "a past expiry is refused to clients");
                canonical.extend(["PXAT".into(), at.to_string()]);
            }
        }
        let canonical: Vec<&[u8]> = canonical.iter().map(|s| s.as_bytes()).collect();
        assert_eq!(
            options::parse_set(&canonical, now_ms, true),
            Ok(o),
            "replicated NP.SET options differ"
        );
    }

    if let [one] = args.as_slice() {
        match options::parse_length(one) {
            Ok(n) => assert_eq!(n.to_string().as_bytes(), *one, "a length is canonical"),
            Err(e) => assert!(matches!(e, OptionError::Reply(_))),
        }
        if let Some(n) = options::redis_integer(one) {
            assert_eq!(n.to_string().as_bytes(), *one, "an integer is canonical");
        }
    }
    match options::parse_maxlen(&args) {
        Ok(Some(n)) => assert_eq!(args[1], n.to_string().as_bytes()),
        Ok(None) => assert!(args.is_empty()),
        Err(_) => {}
    }
    assert_eq!(
        options::parse_maxlen(&shouted),
        options::parse_maxlen(&args),
        "MAXLEN is case-insensitive"
    );

    match options::parse_get(&args) {
        Ok(o) => {
            let given = usize::from(o.values)
                + 2 * (usize::from(o.slice.is_some())
                    + usize::from(o.cast.is_some())
                    + usize::from(o.max_bytes.is_some()));
            assert_eq!(given, args.len(), "every NP.GET argument is one option or its value");
        }
        Err(_) => {}
    }
    if let Ok(o) = options::parse_reduce(&args) {
        assert!(o.dtype.is_none_or(|d| d.is_numeric()), "AS takes numeric dtypes only");
        assert!(
            o.axis.as_ref().is_none_or(|a| !a.is_empty()),
            "AXIS takes at least one integer"
        );
        assert!(
            args.len() <= 9 || o.axis.is_some(),
            "only AXIS takes a run of arguments"
        );
    }
    if let Ok((payload, _)) = options::parse_update(&args) {
        assert!(payload < args.len());
    }
    if let Some((query, rest)) = options::knn_query(&args) {
        assert_eq!(rest.len() + 1, args.len(), "the query is one argument");
        assert!(std::ptr::eq(query, &args[0]) || std::ptr::eq(query, &args[args.len() - 1]));
        if let Ok(o) = options::parse_knn(rest) {
            assert!(
                rest.len() <= 7,
                "K, METRIC and SLICE take a value, VALUES none, each at most once"
            );
            let k_at = rest
                .iter()
                .position(|a| a.eq_ignore_ascii_case(b"K"))
                .expect("K is required");
            assert_eq!(
                rest[k_at + 1],
                o.k.to_string().as_bytes(),
                "k is Redis's canonical integer"
            );
        }
    }
});
