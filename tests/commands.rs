//! NP.* commands against a real redis-server with the module loaded.

mod common;

use common::{fixture, fixtures, np_get, np_set, Server};
use redis::{cmd, Connection, Value};

fn error_text(result: redis::RedisResult<impl std::fmt::Debug>) -> String {
    let err = result.expect_err("the command must fail");
    format!("{} {}", err.code().unwrap_or(""), err.detail().unwrap_or(""))
}

#[test]
fn every_fixture_roundtrips_byte_exact_with_metadata() {
    let server = Server::start();
    let mut con = server.conn();
    let mut checked_by_npyz = 0;
    for (name, npy) in fixtures() {
        assert_eq!(np_set(&mut con, &name, &npy).unwrap(), "OK", "{name}");
        assert!(
            np_get(&mut con, &name).unwrap() == npy,
            "{name}: NP.GET differs from np.save"
        );
        // npyz is an independent parser: where it can read the file (it cannot
        // read e.g. `M8[10ms]` or titled fields), shape and size must agree.
        let Ok(oracle) = npyz::NpyFile::new(&npy[..]) else {
            continue;
        };
        checked_by_npyz += 1;
        let shape: Vec<u64> = cmd("NP.SHAPE").arg(&name).query(&mut con).unwrap();
        assert_eq!(shape, oracle.shape(), "{name}");
        let size: u64 = cmd("NP.SIZE").arg(&name).query(&mut con).unwrap();
        assert_eq!(size, oracle.shape().iter().product::<u64>(), "{name}");
    }
    assert!(
        checked_by_npyz >= 35,
        "npyz cross-checked only {checked_by_npyz} fixtures"
    );
}

#[test]
fn metadata_commands() {
    let server = Server::start();
    let mut con = server.conn();
    np_set(&mut con, "m", &fixture("float64_fortran")).unwrap();
    let shape: Vec<i64> = cmd("NP.SHAPE").arg("m").query(&mut con).unwrap();
    assert_eq!(shape, [3, 5]);
    let dtype: String = cmd("NP.DTYPE").arg("m").query(&mut con).unwrap();
    assert_eq!(dtype, "float64");
    let size: i64 = cmd("NP.SIZE").arg("m").query(&mut con).unwrap();
    assert_eq!(size, 15);

    let info: Vec<Value> = cmd("NP.INFO").arg("m").query(&mut con).unwrap();
    let info: std::collections::HashMap<String, Value> = info
        .chunks(2)
        .map(|kv| (redis::from_redis_value::<String>(&kv[0]).unwrap(), kv[1].clone()))
        .collect();
    let int = |k: &str| redis::from_redis_value::<i64>(&info[k]).unwrap();
    let text = |k: &str| redis::from_redis_value::<String>(&info[k]).unwrap();
    assert_eq!(text("dtype"), "float64");
    assert_eq!(text("descr"), "'<f8'");
    assert_eq!(redis::from_redis_value::<Vec<i64>>(&info["shape"]).unwrap(), [3, 5]);
    assert_eq!(
        (int("ndim"), int("size"), int("itemsize"), int("nbytes")),
        (2, 15, 8, 120)
    );
    assert_eq!(int("fortran_order"), 1, "RESP2 booleans are integers");
    // A small float64 array is packed: its data and metadata in one block.
    assert!(
        (120 + 16..120 + 128).contains(&int("memory")),
        "memory covers the data and the metadata"
    );

    let scalar: Vec<i64> = {
        np_set(&mut con, "s", &fixture("scalar_0d")).unwrap();
        cmd("NP.SHAPE").arg("s").query(&mut con).unwrap()
    };
    assert!(scalar.is_empty(), "0-d arrays have an empty shape");
    let usage: i64 = cmd("MEMORY").arg("USAGE").arg("m").query(&mut con).unwrap();
    assert!(
        usage >= int("memory"),
        "MEMORY USAGE {usage} includes the value's memory"
    );
    let kind: String = cmd("TYPE").arg("m").query(&mut con).unwrap();
    assert_eq!(kind, "numpy-arr");
}

#[test]
fn missing_keys_reply_nil() {
    let server = Server::start();
    let mut con = server.conn();
    for command in ["NP.GET", "NP.SHAPE", "NP.DTYPE", "NP.SIZE", "NP.INFO"] {
        let reply: Value = cmd(command).arg("nope").query(&mut con).unwrap();
        assert_eq!(reply, Value::Nil, "{command}");
    }
}

#[test]
fn bad_input_is_refused_and_the_old_value_kept() {
    let server = Server::start();
    let mut con = server.conn();
    let good = fixture("int32");
    np_set(&mut con, "k", &good).unwrap();
    let mut truncated_data = good.clone();
    truncated_data.pop();
    let mut trailing = good.clone();
    trailing.push(0);
    let with_header = |h: &str| {
        let mut v = b"\x93NUMPY\x01\x00".to_vec();
        v.extend_from_slice(&(h.len() as u16).to_le_bytes());
        v.extend_from_slice(h.as_bytes());
        v
    };
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (vec![], "empty payload"),
        (b"not an npy file".to_vec(), "bad magic"),
        (b"\x93NUMPY\x09\x00\x10\x00".to_vec(), "unsupported format version"),
        (good[..9].to_vec(), "truncated"),
        (good[..40].to_vec(), "runs past the end"),
        (with_header("{'descr': '<f8'}"), "lacks the"),
        (with_header("(1, 2)"), "not a dict"),
        (
            with_header("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"),
            "object arrays",
        ),
        (
            with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (-3,), }"),
            "negative dimension",
        ),
        (
            with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }"),
            "needs 8000000000000",
        ),
        (
            with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), 'x': 1}"),
            "unexpected header key",
        ),
        (truncated_data, "data is 95 bytes"),
        (trailing, "data is 97 bytes"),
    ];
    for (payload, expected) in cases {
        let err = error_text(np_set(&mut con, "k", &payload));
        assert!(err.starts_with("ERR invalid .npy: "), "{expected}: {err}");
        assert!(err.contains(expected), "expected {expected:?} in {err:?}");
        assert!(
            np_get(&mut con, "k").unwrap() == good,
            "the old value must survive ({expected})"
        );
    }
    let created: bool = cmd("EXISTS").arg("never").query(&mut con).unwrap();
    let _ = np_set(&mut con, "never", b"junk");
    assert!(!created && !cmd("EXISTS").arg("never").query::<bool>(&mut con).unwrap());
}

#[test]
fn wrong_type_and_arity() {
    let server = Server::start();
    let mut con = server.conn();
    let _: () = cmd("SET").arg("str").arg("x").query(&mut con).unwrap();
    for command in ["NP.GET", "NP.SHAPE", "NP.DTYPE", "NP.SIZE", "NP.INFO"] {
        let err = error_text(cmd(command).arg("str").query::<Value>(&mut con));
        assert!(err.starts_with("WRONGTYPE"), "{command}: {err}");
    }
    let err = error_text(np_set(&mut con, "str", &fixture("int8")));
    assert!(err.starts_with("WRONGTYPE"), "{err}");
    let still: String = cmd("GET").arg("str").query(&mut con).unwrap();
    assert_eq!(still, "x");

    for (command, nargs) in [
        ("NP.SET", 1),
        ("NP.GET", 0),
        ("NP.MGET", 0),
        ("NP.MSET", 0),
        ("NP.MSET", 1),
        ("NP.MSET", 3),
        ("NP.SHAPE", 2),
        ("NP.INFO", 0),
    ] {
        let mut c = cmd(command);
        for i in 0..nargs {
            c.arg(format!("a{i}"));
        }
        let err = error_text(c.query::<Value>(&mut con));
        assert!(
            err.contains("wrong number of arguments"),
            "{command} with {nargs}: {err}"
        );
    }
}

#[test]
fn replaces_values_and_clears_ttl_like_set() {
    let server = Server::start();
    let mut con = server.conn();
    np_set(&mut con, "k", &fixture("int8")).unwrap();
    let _: () = cmd("EXPIRE").arg("k").arg(100).query(&mut con).unwrap();
    np_set(&mut con, "k", &fixture("float32")).unwrap();
    assert!(np_get(&mut con, "k").unwrap() == fixture("float32"));
    let ttl: i64 = cmd("TTL").arg("k").query(&mut con).unwrap();
    assert_eq!(ttl, -1);
}

fn load_all(con: &mut Connection) {
    for (name, npy) in fixtures() {
        np_set(con, &name, &npy).unwrap();
    }
}

fn assert_all(con: &mut Connection, when: &str) {
    for (name, npy) in fixtures() {
        assert!(np_get(con, &name).as_deref() == Some(&npy[..]), "{name} differs {when}");
    }
}

#[test]
fn debug_reload_and_restart_keep_every_array() {
    let mut server = Server::with_config(&[("save", "3600 1"), ("dbfilename", "dump.rdb")]);
    let mut con = server.conn();
    load_all(&mut con);
    let _: () = cmd("DEBUG").arg("RELOAD").query(&mut con).unwrap();
    assert_all(&mut con, "after DEBUG RELOAD");
    let _: () = cmd("SAVE").query(&mut con).unwrap();
    server.restart();
    let mut con = server.conn();
    assert_all(&mut con, "after SAVE and restart");
}

#[test]
fn aof_rewrite_with_and_without_rdb_preamble() {
    for preamble in ["yes", "no"] {
        let mut server = Server::with_config(&[("appendonly", "yes"), ("aof-use-rdb-preamble", preamble)]);
        let mut con = server.conn();
        load_all(&mut con);
        // Redis 7 runs its own rewrite at startup with appendonly yes: wait it out first.
        let mut rewrite_done = || {
            let info: String = cmd("INFO").arg("persistence").query(&mut con).unwrap();
            info.contains("aof_rewrite_in_progress:0") && info.contains("aof_rewrite_scheduled:0")
        };
        while !rewrite_done() {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _: String = cmd("BGREWRITEAOF").query(&mut server.conn()).unwrap();
        while !rewrite_done() {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        server.kill();
        server.restart_after_kill();
        let mut con = server.conn();
        assert_all(
            &mut con,
            &format!("after AOF rewrite (preamble {preamble}) and restart"),
        );
    }
}

#[test]
fn dump_restore_and_corrupt_payloads() {
    let server = Server::start();
    let mut con = server.conn();
    let npy = fixture("structured_nested");
    np_set(&mut con, "a", &npy).unwrap();
    let dump: Vec<u8> = cmd("DUMP").arg("a").query(&mut con).unwrap();
    let _: () = cmd("RESTORE").arg("b").arg(0).arg(&dump).query(&mut con).unwrap();
    assert!(np_get(&mut con, "b").unwrap() == npy);

    // Truncations and byte flips of a valid payload: an error or a valid value, never a crash.
    let mut refused = 0;
    for cut in [1usize, 5, 12, 20, 30, dump.len() / 2] {
        let bad = &dump[..dump.len().saturating_sub(cut)];
        refused += cmd("RESTORE")
            .arg("t")
            .arg(0)
            .arg(bad)
            .arg("REPLACE")
            .query::<()>(&mut con)
            .is_err() as usize;
    }
    assert_eq!(refused, 6, "truncated payloads must be refused");
    let pong: String = cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
}
