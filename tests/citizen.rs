//! NP arrays behave like a built-in type in production setups: replication,
//! keyspace commands, notifications, ACL, maxmemory, INFO, command docs, config.

mod common;

use std::time::Duration;

use common::{digest, fixture, fixtures, info_field, np_get, np_set, wait_until, Server};
use redis::{cmd, Value};

#[test]
fn replicas_get_arrays_by_full_sync_and_by_command_stream() {
    let master = Server::start();
    let mut m = master.conn();
    for (name, npy) in fixtures() {
        np_set(&mut m, &format!("before:{name}"), &npy).unwrap();
    }
    let replica = Server::with_config(&[("replicaof", &format!("127.0.0.1 {}", master.port))]);
    let mut r = replica.conn();
    wait_until("full sync", || {
        info_field(&mut r, "replication", "master_link_status") == "up"
    });
    for (name, npy) in fixtures() {
        np_set(&mut m, &format!("after:{name}"), &npy).unwrap();
    }
    let offset: i64 = info_field(&mut m, "replication", "master_repl_offset").parse().unwrap();
    wait_until("the command stream", || {
        info_field(&mut r, "replication", "slave_repl_offset")
            .parse::<i64>()
            .unwrap()
            >= offset
    });
    for (name, npy) in fixtures() {
        for key in [format!("before:{name}"), format!("after:{name}")] {
            assert!(
                np_get(&mut r, &key).as_deref() == Some(&npy[..]),
                "{key} on the replica"
            );
            assert_eq!(digest(&mut m, &key), digest(&mut r, &key), "{key} digest");
        }
    }
    let err = np_set(&mut r, "x", &fixture("int8")).unwrap_err();
    assert_eq!(err.code(), Some("READONLY"));
}

#[test]
fn digest_depends_on_the_value() {
    let server = Server::start();
    let mut con = server.conn();
    np_set(&mut con, "a", &fixture("int32")).unwrap();
    np_set(&mut con, "b", &fixture("int32")).unwrap();
    np_set(&mut con, "c", &fixture("int16_be")).unwrap();
    assert_eq!(digest(&mut con, "a"), digest(&mut con, "b"));
    assert_ne!(digest(&mut con, "a"), digest(&mut con, "c"));
}

#[test]
fn keyspace_commands() {
    let server = Server::start();
    let mut con = server.conn();
    let npy = fixture("structured");
    np_set(&mut con, "a", &npy).unwrap();

    let _: () = cmd("COPY").arg("a").arg("b").query(&mut con).unwrap();
    np_set(&mut con, "a", &fixture("int8")).unwrap();
    assert!(
        np_get(&mut con, "b").unwrap() == npy,
        "COPY is independent of its source"
    );

    let _: () = cmd("RENAME").arg("b").arg("c").query(&mut con).unwrap();
    assert!(np_get(&mut con, "c").unwrap() == npy);
    let moved: bool = cmd("MOVE").arg("c").arg(3).query(&mut con).unwrap();
    assert!(moved);
    let _: () = cmd("SELECT").arg(3).query(&mut con).unwrap();
    assert!(np_get(&mut con, "c").unwrap() == npy);
    let _: () = cmd("SELECT").arg(0).query(&mut con).unwrap();

    let _: () = cmd("EXPIRE").arg("a").arg(1000).query(&mut con).unwrap();
    let ttl: i64 = cmd("TTL").arg("a").query(&mut con).unwrap();
    assert!(ttl > 990);
    let _: () = cmd("PEXPIRE").arg("a").arg(1).query(&mut con).unwrap();
    wait_until("expiry", || !cmd("EXISTS").arg("a").query::<bool>(&mut con).unwrap());

    for i in 0..5 {
        np_set(&mut con, &format!("arr:{i}"), &fixture("float32")).unwrap();
        let _: () = cmd("SET").arg(format!("str:{i}")).arg("x").query(&mut con).unwrap();
    }
    let (_, keys): (i64, Vec<String>) = cmd("SCAN")
        .arg(0)
        .arg("COUNT")
        .arg(1000)
        .arg("TYPE")
        .arg("numpy-arr")
        .query(&mut con)
        .unwrap();
    let mut keys = keys;
    keys.sort();
    assert_eq!(keys, ["arr:0", "arr:1", "arr:2", "arr:3", "arr:4"]);
    let encoding: String = cmd("OBJECT").arg("ENCODING").arg("arr:0").query(&mut con).unwrap();
    assert_eq!(encoding, "raw");
}

#[test]
fn unlink_frees_big_arrays_in_the_background() {
    let server = Server::with_config(&[("lazyfree-lazy-user-del", "no")]);
    let mut con = server.conn();
    // 256 MiB of uint8: header for shape (268435456,) then zeros.
    let n: usize = 256 << 20;
    let header = format!("{{'descr': '|u1', 'fortran_order': False, 'shape': ({n},), }}");
    let mut npy = b"\x93NUMPY\x01\x00".to_vec();
    let pad = 64 - (10 + header.len() + 1) % 64;
    npy.extend_from_slice(&((header.len() + pad + 1) as u16).to_le_bytes());
    npy.extend_from_slice(header.as_bytes());
    npy.extend(std::iter::repeat_n(b' ', pad));
    npy.push(b'\n');
    npy.resize(npy.len() + n, 0);
    np_set(&mut con, "big", &npy).unwrap();
    drop(npy);
    let before: i64 = info_field(&mut con, "memory", "lazyfreed_objects").parse().unwrap_or(0);
    let removed: i64 = cmd("UNLINK").arg("big").query(&mut con).unwrap();
    assert_eq!(removed, 1);
    wait_until("lazy free", || {
        info_field(&mut con, "memory", "lazyfreed_objects")
            .parse::<i64>()
            .unwrap_or(0)
            > before
    });
}

#[test]
fn migrate_moves_arrays_between_servers() {
    let source = Server::start();
    let target = Server::start();
    let mut s = source.conn();
    let npy = fixture("float64_fortran");
    np_set(&mut s, "m", &npy).unwrap();
    let _: () = cmd("MIGRATE")
        .arg("127.0.0.1")
        .arg(target.port)
        .arg("m")
        .arg(0)
        .arg(5000)
        .query(&mut s)
        .unwrap();
    assert_eq!(np_get(&mut s, "m"), None);
    assert!(np_get(&mut target.conn(), "m").unwrap() == npy);
}

#[test]
fn keyspace_events_and_watch() {
    let server = Server::with_config(&[("notify-keyspace-events", "KEA")]);
    let mut sub = server.conn();
    sub.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut pubsub = sub.as_pubsub();
    pubsub.psubscribe("__keyevent@*__:np.*").unwrap();
    let mut con = server.conn();
    np_set(&mut con, "watched", &fixture("int8")).unwrap();
    let msg = pubsub.get_message().unwrap();
    assert_eq!(msg.get_channel_name(), "__keyevent@0__:np.set");
    assert_eq!(msg.get_payload::<String>().unwrap(), "watched");
    drop(pubsub);

    // WATCH sees NP.SET as a modification: the transaction is aborted.
    let mut a = server.conn();
    let mut b = server.conn();
    let _: () = cmd("WATCH").arg("watched").query(&mut a).unwrap();
    np_set(&mut b, "watched", &fixture("int32")).unwrap();
    let _: () = cmd("MULTI").query(&mut a).unwrap();
    let _: () = cmd("SET").arg("other").arg(1).query(&mut a).unwrap();
    let exec: Value = cmd("EXEC").query(&mut a).unwrap();
    assert_eq!(exec, Value::Nil, "EXEC must abort after a watched key changed");
}

#[test]
fn acl_key_patterns_apply_to_np_commands() {
    let server = Server::start();
    let mut admin = server.conn();
    np_set(&mut admin, "allowed:a", &fixture("int8")).unwrap();
    np_set(&mut admin, "secret:b", &fixture("int8")).unwrap();
    let _: () = cmd("ACL")
        // Redis 7.0 cannot put module commands in categories: grant them by name.
        .arg(
            &[
                "SETUSER",
                "alice",
                "on",
                ">pw",
                "~allowed:*",
                "+@read",
                "+np.get",
                "+np.set",
                "+np.shape",
                "+np.info",
            ][..],
        )
        .query(&mut admin)
        .unwrap();
    let mut alice = server.conn();
    let _: () = cmd("AUTH").arg("alice").arg("pw").query(&mut alice).unwrap();
    assert!(np_get(&mut alice, "allowed:a").is_some());
    np_set(&mut alice, "allowed:c", &fixture("int8")).unwrap();
    for command in ["NP.GET", "NP.SHAPE", "NP.INFO"] {
        let err = cmd(command).arg("secret:b").query::<Value>(&mut alice).unwrap_err();
        assert_eq!(err.code(), Some("NOPERM"), "{command}");
    }
    let err = np_set(&mut alice, "secret:b", &fixture("int32")).unwrap_err();
    assert_eq!(err.code(), Some("NOPERM"));
    let cats: Vec<Value> = cmd("COMMAND").arg("INFO").arg("np.set").query(&mut admin).unwrap();
    let text = format!("{cats:?}");
    assert!(text.contains("write") && text.contains("denyoom"), "{text}");
}

#[test]
fn maxmemory_noeviction_refuses_and_lru_evicts() {
    let server = Server::with_config(&[("maxmemory", "20mb"), ("maxmemory-policy", "noeviction")]);
    let mut con = server.conn();
    let npy = fixture("float32");
    np_set(&mut con, "keep", &npy).unwrap();
    let one_mb = big_u8(1 << 20);
    let mut refused = None;
    for i in 0..100 {
        if let Err(e) = np_set(&mut con, &format!("fill:{i}"), &one_mb) {
            refused = Some(e);
            break;
        }
    }
    let err = refused.expect("noeviction must refuse writes when full");
    assert_eq!(err.code(), Some("OOM"), "{err}");
    assert!(
        np_get(&mut con, "keep").unwrap() == npy,
        "a refused write leaves other keys intact"
    );

    let _: () = cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory-policy")
        .arg("allkeys-lru")
        .query(&mut con)
        .unwrap();
    for i in 100..200 {
        np_set(&mut con, &format!("fill:{i}"), &one_mb).unwrap();
    }
    let evicted: i64 = info_field(&mut con, "stats", "evicted_keys").parse().unwrap();
    assert!(evicted > 0);
}

fn big_u8(n: usize) -> Vec<u8> {
    let header = format!("{{'descr': '|u1', 'fortran_order': False, 'shape': ({n},), }}");
    let pad = 64 - (10 + header.len() + 1) % 64;
    let mut npy = b"\x93NUMPY\x01\x00".to_vec();
    npy.extend_from_slice(&((header.len() + pad + 1) as u16).to_le_bytes());
    npy.extend_from_slice(header.as_bytes());
    npy.extend(std::iter::repeat_n(b' ', pad));
    npy.push(b'\n');
    npy.resize(npy.len() + n, 7);
    npy
}

#[test]
fn info_section_counts_arrays() {
    let server = Server::start();
    let mut con = server.conn();
    np_set(&mut con, "f", &fixture("float32")).unwrap();
    np_set(&mut con, "i", &fixture("int32")).unwrap();
    np_set(&mut con, "i", &fixture("int32")).unwrap();
    let _ = np_set(&mut con, "bad", b"junk");
    let _: () = cmd("COPY").arg("f").arg("g").query(&mut con).unwrap();
    assert_eq!(info_field(&mut con, "numpy", "numpy_arrays"), "3");
    assert_eq!(info_field(&mut con, "numpy", "numpy_arrays_float"), "2");
    assert_eq!(info_field(&mut con, "numpy", "numpy_arrays_int"), "1");
    assert_eq!(
        info_field(&mut con, "numpy", "numpy_data_bytes"),
        (48 + 48 + 96).to_string()
    );
    assert_eq!(info_field(&mut con, "numpy", "numpy_rejected_payloads"), "1");
    let _: () = cmd("FLUSHALL").query(&mut con).unwrap();
    assert_eq!(info_field(&mut con, "numpy", "numpy_arrays"), "0");
    assert_eq!(info_field(&mut con, "numpy", "numpy_data_bytes"), "0");
}

#[test]
fn command_docs_describe_every_command() {
    let server = Server::start();
    let mut con = server.conn();
    for command in [
        "np.set",
        "np.append",
        "np.get",
        "np.setslice",
        "np.shape",
        "np.dtype",
        "np.size",
        "np.info",
    ] {
        let docs: Value = cmd("COMMAND").arg("DOCS").arg(command).query(&mut con).unwrap();
        let text = format!("{docs:?}");
        assert!(
            text.contains("summary") && text.contains("complexity") && text.contains("0.1.0"),
            "{command}: {text}"
        );
        let info: Value = cmd("COMMAND").arg("INFO").arg(command).query(&mut con).unwrap();
        let text = format!("{info:?}");
        let flag = match command {
            "np.set" => "OW",
            "np.append" | "np.setslice" => "RW",
            _ => "RO",
        };
        assert!(text.contains(flag), "{command} key spec: {text}");
    }
    let keys: Vec<String> = cmd("COMMAND")
        .arg("GETKEYS")
        .arg("NP.SET")
        .arg("k1")
        .arg("payload")
        .query(&mut con)
        .unwrap();
    assert_eq!(keys, ["k1"]);
}

#[test]
fn max_array_bytes_from_load_args_and_config_set() {
    let server = Server::with_config(&[]);
    let mut con = server.conn();
    let limit: Vec<String> = cmd("CONFIG")
        .arg("GET")
        .arg("numpy.max-array-bytes")
        .query(&mut con)
        .unwrap();
    assert_eq!(limit[1], (512u64 << 20).to_string());
    let _: () = cmd("CONFIG")
        .arg("SET")
        .arg("numpy.max-array-bytes")
        .arg(1000)
        .query(&mut con)
        .unwrap();
    np_set(&mut con, "small", &fixture("float32")).unwrap();
    np_set(&mut con, "k", &fixture("int8")).unwrap();
    let err = np_set(&mut con, "k", &big_u8(1001)).unwrap_err();
    assert!(
        err.to_string().contains("exceeds numpy.max-array-bytes (1000)"),
        "{err}"
    );
    assert!(np_get(&mut con, "k").unwrap() == fixture("int8"));
    let _: () = cmd("CONFIG")
        .arg("SET")
        .arg("numpy.max-array-bytes")
        .arg(2000)
        .query(&mut con)
        .unwrap();
    np_set(&mut con, "k", &big_u8(1001)).unwrap();
}

#[test]
fn appendfsync_always_survives_kill_9() {
    let mut server = Server::with_config(&[("appendonly", "yes"), ("appendfsync", "always")]);
    let mut con = server.conn();
    let all = fixtures();
    for (name, npy) in &all {
        np_set(&mut con, name, npy).unwrap();
    }
    server.kill();
    server.restart_after_kill();
    let mut con = server.conn();
    for (name, npy) in &all {
        assert!(
            np_get(&mut con, name).as_deref() == Some(&npy[..]),
            "{name} lost after kill -9"
        );
    }
}

#[test]
fn big_arrays_are_rewritten_to_aof_in_pieces() {
    let mut server = Server::with_config(&[("appendonly", "yes"), ("aof-use-rdb-preamble", "no")]);
    let mut con = server.conn();
    // 150 MiB of uint8 rows: more than two 64 MiB AOF pieces.
    let rows = 150 * 1024;
    let mut npy = big_u8(rows * 1024);
    let header = format!("{{'descr': '|u1', 'fortran_order': False, 'shape': ({rows}, 1024), }}");
    let text_len = npy.iter().position(|&b| b == b'\n').unwrap() + 1 - 10;
    let mut text = header.into_bytes();
    text.resize(text_len - 1, b' ');
    text.push(b'\n');
    npy[10..10 + text_len].copy_from_slice(&text);
    for (i, byte) in npy[10 + text_len..].iter_mut().enumerate() {
        *byte = (i % 251) as u8;
    }
    np_set(&mut con, "big", &npy).unwrap();
    let before = digest(&mut con, "big");
    let mut rewrite_done = || {
        info_field(&mut con, "persistence", "aof_rewrite_in_progress") == "0"
            && info_field(&mut con, "persistence", "aof_rewrite_scheduled") == "0"
    };
    wait_until("the startup AOF rewrite", &mut rewrite_done);
    let _: String = cmd("BGREWRITEAOF").query(&mut server.conn()).unwrap();
    wait_until("the AOF rewrite", &mut rewrite_done);
    let aof_dir = server.dir.join("appendonlydir");
    let appends: usize = std::fs::read_dir(&aof_dir)
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .map(|bytes| bytes.windows(9).filter(|w| w == b"NP.APPEND").count())
        .sum();
    assert_eq!(appends, 2, "150 MiB is written as NP.SET + 2 × NP.APPEND");
    server.kill();
    server.restart_after_kill();
    let mut con = server.conn();
    assert_eq!(digest(&mut con, "big"), before);
    assert!(np_get(&mut con, "big").unwrap() == npy);
}
