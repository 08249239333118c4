//! A Rust panic inside a command becomes an error reply; redis-server lives on.
//! Uses a module built with `--features debug-panic` (the Makefile builds it
//! into target/debug-panic/), which adds the NP._PANIC command.

mod common;

use std::path::Path;

use common::{fixture, Server};
use redis::cmd;

#[test]
fn a_panicking_command_replies_an_error_and_the_server_survives() {
    let module = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/debug-panic/libredis_numpy.so");
    assert!(module.is_file(), "{} missing: run `make test-rust`", module.display());
    let mut server = Server::with_module(module, &[]);
    let mut con = server.conn();
    let _: () = cmd("NP.SET").arg("k").arg(fixture("int8")).query(&mut con).unwrap();
    for _ in 0..3 {
        let err = cmd("NP._PANIC").query::<()>(&mut con).unwrap_err();
        assert!(err.to_string().contains("internal error in redis-numpy"), "{err}");
    }
    assert!(server.is_alive());
    let back: Vec<u8> = cmd("NP.GET").arg("k").query(&mut con).unwrap();
    assert!(back == fixture("int8"), "other keys are untouched");
    let pong: String = cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
}
