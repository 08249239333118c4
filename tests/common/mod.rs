//! A real redis-server with the freshly built module, on a free loopback port,
//! in its own directory; shut down and cleaned up on drop.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use redis::{cmd, Connection};

pub fn module_path() -> PathBuf {
    let path = std::env::var_os("REDIS_NUMPY_MODULE")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/libredis_numpy.so"));
    assert!(
        path.is_file(),
        "module not built: {} (run `cargo build --release`)",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub struct Server {
    pub port: u16,
    pub dir: PathBuf,
    module: PathBuf,
    config: Vec<(String, String)>,
    child: Option<Child>,
}

impl Server {
    pub fn start() -> Server {
        Server::with_config(&[])
    }

    /// `config` pairs become `--name value` options.
    pub fn with_config(config: &[(&str, &str)]) -> Server {
        Server::with_module(module_path(), config)
    }

    pub fn with_module(module: PathBuf, config: &[(&str, &str)]) -> Server {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("redis-numpy-test-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = config.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let mut server = Server {
            port,
            dir,
            module,
            config,
            child: None,
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(&self.dir)
            .arg("--loadmodule")
            .arg(&self.module)
            .args(["--enable-debug-command", "yes", "--save", "", "--logfile", "redis.log"]);
        for (k, v) in &self.config {
            cmd.arg(format!("--{k}")).arg(v);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(mut con) = self.try_conn() {
                if redis::cmd("PING").query::<String>(&mut con).is_ok() {
                    return;
                }
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("redis-server exited with {status}:\n{}", self.log());
            }
            assert!(Instant::now() < deadline, "redis-server did not start:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(30));
        }
    }

    fn try_conn(&self) -> redis::RedisResult<redis::Connection> {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))?.get_connection()
    }

    pub fn conn(&self) -> redis::Connection {
        self.try_conn().expect("connect to redis-server")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default()
    }

    pub fn is_alive(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// Graceful `SHUTDOWN` (which saves or rewrites per the config), then start again.
    pub fn restart(&mut self) {
        let _: redis::RedisResult<()> = redis::cmd("SHUTDOWN").query(&mut self.conn());
        self.child.take().unwrap().wait().unwrap();
        self.spawn();
    }

    /// Start again on the same port and directory after `kill`.
    pub fn restart_after_kill(&mut self) {
        self.spawn();
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    /// `SHUTDOWN NOSAVE NOW FORCE` first, so the server leaves through its
    /// normal exit path (where an instrumented module writes its coverage
    /// profile; SIGKILL would lose it), then SIGKILL whatever is left.
    fn drop(&mut self) {
        if self.is_alive() {
            let timeout = Duration::from_secs(5);
            let asked = redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))
                .and_then(|client| client.get_connection_with_timeout(timeout))
                .and_then(|mut con| {
                    con.set_read_timeout(Some(timeout))?;
                    cmd_shutdown().query::<()>(&mut con)
                });
            // Success closes the connection, so an I/O error is the expected
            // reply; an error reply (NOAUTH) or a timeout means no shutdown.
            if !matches!(&asked, Err(e) if e.code().is_some() || e.is_timeout()) {
                let deadline = Instant::now() + Duration::from_secs(10);
                while self.is_alive() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn cmd_shutdown() -> redis::Cmd {
    let mut shutdown = redis::cmd("SHUTDOWN");
    shutdown.arg("NOSAVE").arg("NOW").arg("FORCE");
    shutdown
}

/// The checked-in `np.save` outputs (tests/fixtures/make_fixtures.py).
pub fn fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/npy");
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            (
                path.file_stem().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&path).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

pub fn fixture(name: &str) -> Vec<u8> {
    fixtures()
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no fixture {name}"))
        .1
}

pub fn np_set(con: &mut Connection, key: &str, npy: &[u8]) -> redis::RedisResult<String> {
    cmd("NP.SET").arg(key).arg(npy).query(con)
}

pub fn np_get(con: &mut Connection, key: &str) -> Option<Vec<u8>> {
    cmd("NP.GET").arg(key).query(con).unwrap()
}

/// The value's `DEBUG DIGEST-VALUE`.
pub fn digest(con: &mut Connection, key: &str) -> String {
    let v: Vec<String> = cmd("DEBUG").arg("DIGEST-VALUE").arg(key).query(con).unwrap();
    v.into_iter().next().unwrap()
}

/// Polls `ok` every 50 ms until it holds; fails after 30 s naming `what`.
pub fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One field of `INFO section`, as text.
pub fn info_field(con: &mut Connection, section: &str, field: &str) -> String {
    let info: String = cmd("INFO").arg(section).query(con).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in INFO {section}:\n{info}"))
        .trim()
        .to_owned()
}
