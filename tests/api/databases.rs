//! Real database servers for the connector tests: PostgreSQL and MariaDB from the system's
//! packages, each started once per test process (lazily, on first use) on 127.0.0.1 with a
//! temporary data dir and a free port, and stopped when the process ends. A server that cannot
//! be started fails the test that asked for it, loudly: these tests never skip.
//!
//! Run as root (CI), the servers run as the `postgres` and `mysql` system users the packages
//! create; otherwise as the current user.

use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A running server and how to reach it.
pub struct Database {
    pub port: u16,
    /// Unix socket directory (PostgreSQL) or file (MariaDB), for the admin client.
    socket: PathBuf,
    /// Kept so the data dir lives as long as the process.
    _dir: tempfile::TempDir,
    /// The server; it dies with the process (see [`command`]).
    _server: std::process::Child,
    kind: Kind,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Postgres,
    Mariadb,
}

/// The connector tests' login: a password user that may read and write.
pub const USER: &str = "qx_reader";
pub const PASSWORD: &str = "Rd-9f3c1b7e-pw";
pub const DATABASE: &str = "qx_source";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// (uid, gid) of a system user.
fn user_ids(name: &str) -> (u32, u32) {
    let out = Command::new("id").args(["-u", name]).output();
    let uid = out
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok());
    let out = Command::new("id").args(["-g", name]).output();
    let gid = out
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok());
    match (uid, gid) {
        (Some(u), Some(g)) => (u, g),
        _ => {
            panic!("system user '{name}' is missing: install the database packages (.ci/run does)")
        }
    }
}

/// A command that runs as `owner` when the tests run as root, and dies with this process
/// (`PR_SET_PDEATHSIG`, set after the change of user, which would clear it).
fn command(program: &Path, owner: Option<(u32, u32)>, death_signal: libc::c_int) -> Command {
    let mut cmd = Command::new(program);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if let Some((uid, gid)) = owner {
                if libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setgid(gid) != 0
                    || libc::setuid(uid) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
            }
            if libc::prctl(libc::PR_SET_PDEATHSIG, death_signal) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd
}

fn chown_tree(path: &Path, owner: Option<(u32, u32)>) {
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("chown data dir");
    }
}

/// The newest PostgreSQL server binary directory of the system's packages, or PATH.
fn postgres_bin(tool: &str) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    dirs.sort();
    dirs.into_iter()
        .rev()
        .map(|d| d.join(tool))
        .find(|p| p.exists())
        .or_else(|| which(tool))
        .unwrap_or_else(|| {
            panic!("PostgreSQL's {tool} not found: install the postgresql package (.ci/run does)")
        })
}

fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(tool))
            .find(|p| p.exists())
    })
}

fn run(mut cmd: Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Waits until `port` accepts connections; panics with the server's log otherwise.
fn wait_for_port(port: u16, log: &Path, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "{what} did not start on port {port}:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// Starts the server on a thread that stays alive for the whole process: the death signal is
/// tied to the thread that forked the server, and test threads end after each test.
fn start_on_keeper_thread(start: fn() -> Database) -> Database {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let db = std::panic::catch_unwind(start);
        let failed = db.is_err();
        let _ = tx.send(db);
        if !failed {
            loop {
                std::thread::park();
            }
        }
    });
    match rx.recv().expect("database keeper thread") {
        Ok(db) => db,
        Err(e) => std::panic::resume_unwind(e),
    }
}

fn start_postgres() -> Database {
    let dir = tempfile::tempdir().unwrap();
    let owner = is_root().then(|| user_ids("postgres"));
    chown_tree(dir.path(), owner);
    let data = dir.path().join("data");
    let log = dir.path().join("server.log");
    let mut init = command(&postgres_bin("initdb"), owner, libc::SIGKILL);
    init.args(["-D"]).arg(&data).args([
        "-U",
        "postgres",
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        "-E",
        "UTF8",
        "--no-sync",
    ]);
    run(init, "initdb");
    let port = free_port();
    let logfile = std::fs::File::create(&log).unwrap();
    chown_tree(&log, owner);
    let mut server = command(&postgres_bin("postgres"), owner, libc::SIGQUIT);
    server
        .arg("-D")
        .arg(&data)
        .args(["-p", &port.to_string(), "-h", "127.0.0.1", "-k"])
        .arg(dir.path())
        .args([
            "-c",
            "fsync=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "max_connections=200",
        ])
        .stdin(Stdio::null())
        .stdout(logfile.try_clone().unwrap())
        .stderr(logfile);
    let child = server.spawn().expect("start postgres");
    wait_for_port(port, &log, "PostgreSQL");
    let db = Database {
        port,
        socket: dir.path().to_path_buf(),
        _dir: dir,
        _server: child,
        kind: Kind::Postgres,
    };
    // The socket may come up a moment after the TCP port.
    let deadline = Instant::now() + Duration::from_secs(30);
    while db.try_sql_as_admin("postgres", "SELECT 1").is_err() {
        assert!(
            Instant::now() < deadline,
            "PostgreSQL does not answer on its socket"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    db.sql_as_admin(
        "postgres",
        &format!("CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}'"),
    );
    // Its own statement: CREATE DATABASE cannot run inside psql's implicit transaction.
    db.sql_as_admin(
        "postgres",
        &format!("CREATE DATABASE {DATABASE} OWNER {USER}"),
    );
    db
}

fn start_mariadb() -> Database {
    let dir = tempfile::tempdir().unwrap();
    let owner = is_root().then(|| user_ids("mysql"));
    chown_tree(dir.path(), owner);
    let data = dir.path().join("data");
    let log = dir.path().join("server.log");
    let install = which("mariadb-install-db")
        .or_else(|| which("mysql_install_db"))
        .expect("mariadb-install-db not found: install the mariadb-server package (.ci/run does)");
    let mut init = command(&install, owner, libc::SIGKILL);
    init.arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .args([
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            "--skip-name-resolve",
        ]);
    run(init, "mariadb-install-db");
    let server_bin = ["/usr/sbin/mariadbd", "/usr/sbin/mysqld"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .or_else(|| which("mariadbd"))
        .expect("mariadbd not found: install the mariadb-server package (.ci/run does)");
    let port = free_port();
    let socket = dir.path().join("mysqld.sock");
    let logfile = std::fs::File::create(&log).unwrap();
    chown_tree(&log, owner);
    let mut server = command(&server_bin, owner, libc::SIGKILL);
    server
        .arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .arg(format!("--socket={}", socket.display()))
        .arg(format!("--port={port}"))
        .arg(format!(
            "--pid-file={}",
            dir.path().join("mysqld.pid").display()
        ))
        .args([
            "--bind-address=127.0.0.1",
            "--skip-name-resolve",
            "--innodb-flush-log-at-trx-commit=0",
            "--innodb-buffer-pool-size=32M",
            "--max-connections=200",
        ])
        .stdin(Stdio::null())
        .stdout(logfile.try_clone().unwrap())
        .stderr(logfile);
    let child = server.spawn().expect("start mariadbd");
    wait_for_port(port, &log, "MariaDB");
    let db = Database {
        port,
        socket,
        _dir: dir,
        _server: child,
        kind: Kind::Mariadb,
    };
    db.sql_as_admin(
        "mysql",
        &format!(
            "CREATE DATABASE {DATABASE}; CREATE USER '{USER}'@'%' IDENTIFIED BY '{PASSWORD}'; \
             GRANT ALL ON {DATABASE}.* TO '{USER}'@'%';"
        ),
    );
    db
}

pub fn postgres() -> &'static Database {
    static DB: OnceLock<Database> = OnceLock::new();
    DB.get_or_init(|| start_on_keeper_thread(start_postgres))
}

pub fn mariadb() -> &'static Database {
    static DB: OnceLock<Database> = OnceLock::new();
    DB.get_or_init(|| start_on_keeper_thread(start_mariadb))
}

impl Database {
    fn admin_command(&self, as_user: bool, database: &str, sql: &str) -> Command {
        let role = if as_user { USER } else { "postgres" };
        match self.kind {
            Kind::Postgres => {
                let mut c = Command::new(which("psql").unwrap_or_else(|| postgres_bin("psql")));
                c.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h"])
                    .arg(&self.socket)
                    .args([
                        "-p",
                        &self.port.to_string(),
                        "-U",
                        role,
                        "-d",
                        database,
                        "-c",
                        sql,
                    ]);
                c
            }
            Kind::Mariadb => {
                let client = which("mariadb")
                    .or_else(|| which("mysql"))
                    .expect("mariadb client");
                let mut c = Command::new(client);
                c.arg("--no-defaults")
                    .arg(format!("--socket={}", self.socket.display()))
                    .args(["-u", "root", database, "-e", sql]);
                c
            }
        }
    }

    fn try_sql_as_admin(&self, database: &str, sql: &str) -> Result<(), String> {
        self.try_sql_as(false, database, sql)
    }

    fn try_sql_as(&self, as_user: bool, database: &str, sql: &str) -> Result<(), String> {
        let out = self
            .admin_command(as_user, database, sql)
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    fn sql_as_admin(&self, database: &str, sql: &str) {
        if let Err(e) = self.try_sql_as_admin(database, sql) {
            panic!("SQL failed: {sql}\n{e}");
        }
    }

    /// Runs SQL in the test database: as the connectors' user on PostgreSQL (so it owns the
    /// tables it creates), as root on MariaDB (the user has every right on the database).
    pub fn sql(&self, sql: &str) {
        if let Err(e) = self.try_sql_as(self.kind == Kind::Postgres, DATABASE, sql) {
            panic!("SQL failed: {sql}\n{e}");
        }
    }

    /// `connection_config` for this server, with a given password.
    pub fn config_with_password(&self, password: &str) -> serde_json::Value {
        serde_json::json!({
            "host": "127.0.0.1",
            "port": self.port,
            "database": DATABASE,
            "user": USER,
            "password": password,
        })
    }

    pub fn config(&self) -> serde_json::Value {
        self.config_with_password(PASSWORD)
    }

    pub fn connector_type(&self) -> &'static str {
        match self.kind {
            Kind::Postgres => "postgresql",
            Kind::Mariadb => "mysql",
        }
    }
}
