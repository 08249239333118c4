//! The panic guard against a real redis-server. Uses a module built with
//! `--features debug-panic` (the Makefile builds it into target/debug-panic/),
//! which adds `NP._PANIC`: a panic at once, or armed at a point of the next
//! write (`NP._PANIC AT before-change|after-change`).
//!
//! - A panic before a write's first change is an error reply; every value is
//!   as it was and the server lives on.
//! - A panic after it stops the server on purpose, before the write reaches
//!   the AOF or a replica: both still agree on the value before the command.
//! - Either way the panic's message and location are in the Redis log.

mod common;

use std::path::{Path, PathBuf};

use common::{fixture, np_get, wait_until, Server};
use redis::{cmd, Cmd, Connection};

fn debug_module() -> PathBuf {
    let module = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/debug-panic/libredis_numpy.so");
    assert!(module.is_file(), "{} missing: run `make test-rust`", module.display());
    module
}

/// The data under test: `a` an int8 array, `b` a float64 one.
fn seed(con: &mut Connection) {
    let _: () = cmd("NP.SET").arg("a").arg(fixture("int8")).query(con).unwrap();
    let _: () = cmd("NP.SET")
        .arg("b")
        .arg(fixture("float64_fortran"))
        .query(con)
        .unwrap();
}

/// One write of each kind and path, each changing `a` or `b`.
fn writes() -> Vec<(&'static str, Cmd)> {
    let int8 = fixture("int8");
    let float64 = fixture("float64_fortran");
    let mut out = Vec::new();
    let mut add = |name, c: &mut Cmd| out.push((name, c.clone()));
    add("NP.SET in place", cmd("NP.SET").arg("b").arg(&float64));
    add("NP.SET fresh value", cmd("NP.SET").arg("a").arg(&float64));
    add("NP.SET GET", cmd("NP.SET").arg("a").arg(&float64).arg("GET"));
    add("NP.SET EX", cmd("NP.SET").arg("b").arg(&float64).arg("EX").arg(100));
    add("NP.APPEND", cmd("NP.APPEND").arg("a").arg(&int8));
    add("NP.APPEND new key", cmd("NP.APPEND").arg("c").arg(&int8));
    add("NP.SETSLICE", cmd("NP.SETSLICE").arg("b").arg("0").arg(npy_f64_row()));
    add("NP.MSET", cmd("NP.MSET").arg("a").arg(&float64).arg("b").arg(&int8));
    add("NP.UPDATE", cmd("NP.UPDATE").arg("b").arg("add").arg(&float64));
    add("NP.RESHAPE", cmd("NP.RESHAPE").arg("b").arg("15"));
    add("NP.TRANSPOSE", cmd("NP.TRANSPOSE").arg("b"));
    add("NP.RESERVE", cmd("NP.RESERVE").arg("a").arg(1000));
    out
}

/// A row of `float64_fortran` (shape (3, 5)) as `.npy`: five float64 values.
fn npy_f64_row() -> Vec<u8> {
    let header = "{'descr': '<f8', 'fortran_order': False, 'shape': (5,), }";
    let mut text = header.to_string();
    while !(10 + text.len() + 1).is_multiple_of(64) {
        text.push(' ');
    }
    text.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(text.len() as u16).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
    for v in [1.5f64, 2.5, 3.5, 4.5, 5.5] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

#[test]
fn a_panicking_command_replies_an_error_and_the_server_survives() {
    let mut server = Server::with_module(debug_module(), &[]);
    let mut con = server.conn();
    seed(&mut con);
    for _ in 0..3 {
        let err = cmd("NP._PANIC").query::<()>(&mut con).unwrap_err();
        assert!(err.to_string().contains("internal error in redis-numpy"), "{err}");
    }
    assert!(server.is_alive());
    assert!(
        np_get(&mut con, "a").unwrap() == fixture("int8"),
        "other keys are untouched"
    );
    let log = server.log();
    assert!(
        log.contains("redis-numpy: panic at src/module/debug_panic.rs:")
            && log.contains("deliberate panic from NP._PANIC"),
        "the panic's location and message are logged:\n{log}"
    );
}

#[test]
fn a_panic_before_the_first_change_leaves_every_value_as_it_was() {
    let mut server = Server::with_module(debug_module(), &[]);
    let mut con = server.conn();
    seed(&mut con);
    for (name, write) in writes() {
        let _: () = cmd("NP._PANIC").arg("AT").arg("before-change").query(&mut con).unwrap();
        let err = write.query::<redis::Value>(&mut con).unwrap_err();
        assert!(err.to_string().contains("the command was not applied"), "{name}: {err}");
        assert!(np_get(&mut con, "a").unwrap() == fixture("int8"), "{name}");
        assert!(np_get(&mut con, "b").unwrap() == fixture("float64_fortran"), "{name}");
        let ttl: i64 = cmd("TTL").arg("b").query(&mut con).unwrap();
        assert_eq!(ttl, -1, "{name}");
        assert!(np_get(&mut con, "c").is_none(), "{name}");
    }
    assert!(server.is_alive());
    assert!(server.log().contains("deliberate panic at before-change"));
    // Unarmed, the same writes go through.
    for (name, write) in writes() {
        seed(&mut con);
        write
            .query::<redis::Value>(&mut con)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn a_panic_after_the_first_change_stops_the_server_before_the_aof_and_replicas_see_it() {
    for (name, write) in writes() {
        let config = [("appendonly", "yes"), ("appendfsync", "always")];
        let mut master = Server::with_module(debug_module(), &config);
        let replica = Server::with_module(debug_module(), &[]);
        let mut con = master.conn();
        seed(&mut con);
        let mut rcon = replica.conn();
        let _: () = cmd("REPLICAOF")
            .arg("127.0.0.1")
            .arg(master.port)
            .query(&mut rcon)
            .unwrap();
        let _: () = cmd("NP.SET").arg("sync").arg(fixture("int8")).query(&mut con).unwrap();
        wait_until("the replica to sync", || np_get(&mut rcon, "sync").is_some());

        let _: () = cmd("NP._PANIC").arg("AT").arg("after-change").query(&mut con).unwrap();
        assert!(
            write.query::<redis::Value>(&mut con).is_err(),
            "{name}: the connection drops"
        );
        wait_until("the master to stop", || !master.is_alive());
        let log = master.log();
        assert!(log.contains("deliberate panic at after-change"), "{name}:\n{log}");
        assert!(
            log.contains("redis-numpy: panic at src/module/"),
            "{name}: location logged"
        );
        assert!(
            log.contains("stopping the server so that replicas and the AOF"),
            "{name}"
        );

        // The replica never saw the write.
        assert!(np_get(&mut rcon, "a").unwrap() == fixture("int8"), "{name}");
        assert!(np_get(&mut rcon, "b").unwrap() == fixture("float64_fortran"), "{name}");
        assert!(np_get(&mut rcon, "c").is_none(), "{name}");
        // Nor did the AOF: restarted, the master agrees with its replica.
        master.restart_after_kill();
        let mut con = master.conn();
        assert!(np_get(&mut con, "a").unwrap() == fixture("int8"), "{name}");
        assert!(np_get(&mut con, "b").unwrap() == fixture("float64_fortran"), "{name}");
        assert!(np_get(&mut con, "c").is_none(), "{name}");
    }
}
