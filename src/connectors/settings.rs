//! `connector_type` and `connection_config`: what each driver needs to connect, checked when a
//! connector is created. These values hold passwords: nothing here implements `Debug`, and
//! every message that could echo a setting goes through [`Redactor`].

use std::path::{Component, Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectorType {
    Postgresql,
    Mysql,
    Sqlite,
}

impl ConnectorType {
    pub const NAMES: &'static [&'static str] = &["postgresql", "mysql", "sqlite"];

    pub fn parse(raw: &str) -> Option<Self> {
        match raw.to_ascii_lowercase().as_str() {
            "postgresql" | "postgres" => Some(ConnectorType::Postgresql),
            "mysql" | "mariadb" => Some(ConnectorType::Mysql),
            "sqlite" => Some(ConnectorType::Sqlite),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

/// TLS use for network databases.
#[derive(Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SslMode {
    /// Plain TCP.
    Disable,
    /// TLS when the server offers it (PostgreSQL only; MySQL treats it as `require`).
    Prefer,
    /// TLS, with the server's certificate checked against the public web PKI roots.
    Require,
}

/// Network database settings: a URL, or its parts.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSettings {
    #[serde(default, alias = "dsn")]
    pub url: Option<String>,
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default, alias = "dbname")]
    pub database: Option<String>,
    #[serde(default, alias = "username")]
    pub user: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default, alias = "ssl_mode")]
    pub sslmode: Option<SslMode>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqliteSettings {
    /// Relative to the SQLite directory (`CONNECTOR_SQLITE_DIR`), or absolute within it.
    pub path: String,
}

pub enum Settings {
    Postgresql(NetworkSettings),
    Mysql(NetworkSettings),
    Sqlite(SqliteSettings),
}

/// The password in a `scheme://user:password@host` URL, if any.
fn url_password(url: &str) -> Option<&str> {
    let rest = &url[url.find("://")? + 3..];
    let userinfo = &rest[..rest.find('@')?];
    if userinfo.contains('/') {
        return None;
    }
    userinfo
        .split_once(':')
        .map(|(_, p)| p)
        .filter(|p| !p.is_empty())
}

/// A libpq key=value DSN's `password=...` value, if any.
fn dsn_password(dsn: &str) -> Option<&str> {
    let at = dsn.find("password=")? + "password=".len();
    let rest = &dsn[at..];
    let end = match rest.strip_prefix('\'') {
        Some(quoted) => quoted.find('\'').map_or(rest.len(), |e| e + 2),
        None => rest.find(char::is_whitespace).unwrap_or(rest.len()),
    };
    Some(rest[..end].trim_matches('\'')).filter(|p| !p.is_empty())
}

impl NetworkSettings {
    fn check(&self, kind: ConnectorType) -> Result<(), String> {
        match (&self.url, &self.host) {
            (Some(_), Some(_)) => Err(
                "give either url or host (with port, database, user, password), not both".into(),
            ),
            (None, None) => Err("host (or url) is required".into()),
            (Some(url), None) => {
                if self.port.is_some()
                    || self.database.is_some()
                    || self.user.is_some()
                    || self.password.is_some()
                {
                    return Err(
                        "url already names the server: leave out port, database, user and password"
                            .into(),
                    );
                }
                let ok = match kind {
                    ConnectorType::Postgresql => url.parse::<tokio_postgres::Config>().is_ok(),
                    _ => mysql_async::Opts::from_url(url).is_ok(),
                };
                ok.then_some(()).ok_or_else(|| match kind {
                    ConnectorType::Postgresql => "url is not a PostgreSQL connection string (postgresql://user:password@host:5432/database, or key=value pairs)".into(),
                    _ => "url is not a MySQL URL (mysql://user:password@host:3306/database)".into(),
                })
            }
            (None, Some(host)) => {
                if host.trim().is_empty() || host.len() > 255 {
                    return Err("host must be 1-255 characters".into());
                }
                if self.user.as_deref().is_none_or(str::is_empty) {
                    return Err("user is required".into());
                }
                Ok(())
            }
        }
    }

    pub fn sslmode(&self) -> SslMode {
        self.sslmode.unwrap_or(SslMode::Disable)
    }
}

impl Settings {
    /// Parses and checks `connection_config` for the type; the message says what is wrong
    /// without echoing any value.
    pub fn parse(kind: ConnectorType, config: &Value) -> Result<Settings, String> {
        if !config.is_object() {
            return Err("connection_config must be a JSON object".into());
        }
        // serde names unknown and missing fields (names are not secrets) but quotes a value of
        // the wrong type or form, which could be a password in the wrong place: those messages
        // keep only what was expected.
        let why = |e: serde_json::Error| {
            let text = e.to_string();
            let text = text.split(" at line ").next().unwrap_or(&text);
            if text.starts_with("unknown field") || text.starts_with("missing field") {
                return text.to_owned();
            }
            match text.split_once(", expected ") {
                Some((_, expected)) => {
                    format!("a value has the wrong type or form (expected {expected})")
                }
                None => "a value has the wrong type or form".to_owned(),
            }
        };
        let settings = match kind {
            ConnectorType::Postgresql => {
                Settings::Postgresql(NetworkSettings::deserialize(config).map_err(why)?)
            }
            ConnectorType::Mysql => {
                Settings::Mysql(NetworkSettings::deserialize(config).map_err(why)?)
            }
            ConnectorType::Sqlite => {
                let s = SqliteSettings::deserialize(config).map_err(why)?;
                sqlite_relative_path(&s.path)?;
                Settings::Sqlite(s)
            }
        };
        match &settings {
            Settings::Postgresql(n) => n.check(kind)?,
            Settings::Mysql(n) => n.check(kind)?,
            Settings::Sqlite(_) => {}
        }
        Ok(settings)
    }

    /// Hides every secret these settings hold from a message.
    pub fn redactor(&self) -> Redactor {
        let mut secrets = Vec::new();
        if let Settings::Postgresql(n) | Settings::Mysql(n) = self {
            secrets.extend(n.password.clone());
            if let Some(url) = &n.url {
                secrets.extend(url_password(url).map(str::to_owned));
                secrets.extend(dsn_password(url).map(str::to_owned));
            }
        }
        secrets.retain(|s| !s.is_empty());
        // Longest first, so a password containing another is hidden whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Redactor { secrets }
    }
}

/// Removes passwords from messages: the configured ones wherever they appear, and the password
/// part of any `scheme://user:password@` URL.
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    pub fn redact(&self, message: &str) -> String {
        let mut out = message.to_owned();
        for s in &self.secrets {
            out = out.replace(s.as_str(), "***");
        }
        let mut from = 0;
        while let Some(at) = out[from..].find("://").map(|p| from + p + 3) {
            let end = out[at..]
                .find(|c: char| c == '/' || c.is_whitespace())
                .map_or(out.len(), |e| at + e);
            if let Some(amp) = out[at..end].rfind('@').map(|p| at + p) {
                if let Some(colon) = out[at..amp].find(':').map(|p| at + p) {
                    out.replace_range(colon + 1..amp, "***");
                }
            }
            from = at.min(out.len());
        }
        out
    }
}

/// A SQLite path as given: relative (to the SQLite directory) or absolute, without `..`.
fn sqlite_relative_path(path: &str) -> Result<(), String> {
    let p = Path::new(path);
    if path.trim().is_empty() || path.len() > 4096 {
        return Err("path must name a SQLite database file".into());
    }
    if p.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err("path must not contain '..'".into());
    }
    Ok(())
}

/// The database file for `path`, which must lie within `root` (symbolic links resolved): a
/// tenant may read only the files the operator put there.
pub fn sqlite_file(root: &Path, path: &str) -> Result<PathBuf, String> {
    sqlite_relative_path(path)?;
    let root = root.canonicalize().map_err(|e| {
        format!(
            "the SQLite directory {} cannot be used: {e} (set CONNECTOR_SQLITE_DIR)",
            root.display()
        )
    })?;
    let joined = root.join(path);
    let file = joined
        .canonicalize()
        .map_err(|e| format!("cannot open SQLite database '{path}': {e}"))?;
    if !file.starts_with(&root) {
        return Err(format!(
            "SQLite database '{path}' is outside the SQLite directory (CONNECTOR_SQLITE_DIR)"
        ));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn settings_are_checked_per_type_without_echoing_values() {
        let pg = ConnectorType::Postgresql;
        assert!(Settings::parse(pg, &json!({"host": "db", "user": "u", "password": "p"})).is_ok());
        assert!(Settings::parse(pg, &json!({"url": "postgresql://u:p@db:5432/x"})).is_ok());
        for bad in [
            json!("postgresql://u:p@db/x"),
            json!({}),
            json!({"host": "db"}),
            json!({"host": "db", "user": "u", "url": "postgresql://db"}),
            json!({"url": "postgresql://db", "password": "sekret-pw"}),
            json!({"host": "db", "user": "u", "pasword": "sekret-pw"}),
            json!({"host": "db", "user": "u", "port": "sekret-pw"}),
            json!({"host": "db", "user": "u", "sslmode": "sekret-pw"}),
        ] {
            let e = Settings::parse(pg, &bad).err().unwrap();
            assert!(!e.contains("sekret"), "{e}");
        }
        assert!(Settings::parse(ConnectorType::Mysql, &json!({"url": "mysql://u:p@db/x"})).is_ok());
        assert!(
            Settings::parse(ConnectorType::Mysql, &json!({"url": "postgresql://u@db/x"})).is_err()
        );
        assert!(Settings::parse(ConnectorType::Sqlite, &json!({"path": "a.db"})).is_ok());
        assert!(Settings::parse(ConnectorType::Sqlite, &json!({"path": "../a.db"})).is_err());
        assert!(Settings::parse(ConnectorType::Sqlite, &json!({"path": "a.db", "x": 1})).is_err());
        assert_eq!(ConnectorType::parse("MariaDB"), Some(ConnectorType::Mysql));
        assert_eq!(ConnectorType::Sqlite.as_str(), "sqlite");
        assert_eq!(ConnectorType::parse("oracle"), None);
    }

    #[test]
    fn passwords_are_redacted_from_messages() {
        let s = Settings::parse(
            ConnectorType::Postgresql,
            &json!({"host": "db", "user": "u", "password": "s3cr3t!"}),
        )
        .unwrap();
        let r = s.redactor();
        assert_eq!(r.redact("auth s3cr3t! failed"), "auth *** failed");
        assert_eq!(
            r.redact("cannot reach postgresql://bob:hunter2@db:5432/x now"),
            "cannot reach postgresql://bob:***@db:5432/x now"
        );
        let u = Settings::parse(
            ConnectorType::Mysql,
            &json!({"url": "mysql://bob:pa55@db/x"}),
        )
        .unwrap();
        assert_eq!(u.redactor().redact("pa55 and pa55"), "*** and ***");
        let d = Settings::parse(
            ConnectorType::Postgresql,
            &json!({"url": "host=db user=bob password='two words'"}),
        )
        .unwrap();
        assert_eq!(d.redactor().redact("x two words y"), "x *** y");
        assert_eq!(r.redact("no url: a://b"), "no url: a://b");
    }

    #[test]
    fn sqlite_files_stay_within_their_directory() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("sqlite");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(root.join("a.db"), b"").unwrap();
        std::fs::write(dir.path().join("outside.db"), b"").unwrap();
        assert!(sqlite_file(&root, "a.db").is_ok());
        let abs = root.join("a.db");
        assert!(sqlite_file(&root, abs.to_str().unwrap()).is_ok());
        let out = dir.path().join("outside.db");
        assert!(sqlite_file(&root, out.to_str().unwrap()).is_err());
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&out, root.join("link.db")).unwrap();
            assert!(sqlite_file(&root, "link.db").is_err());
        }
        assert!(sqlite_file(&root, "missing.db").is_err());
        assert!(sqlite_file(&dir.path().join("nope"), "a.db").is_err());
    }
}
