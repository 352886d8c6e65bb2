//! `:last_pull` in a connector's query. It is always bound as a parameter, never spliced into
//! the text: each occurrence outside string literals, quoted identifiers and comments becomes
//! the driver's placeholder (`$1` for PostgreSQL, `?` for MySQL, `?1` for SQLite), and the value
//! travels separately.

/// The placeholder a query may use for the start time of the previous successful pull.
pub const LAST_PULL: &str = ":last_pull";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SqlDialect {
    Postgres,
    Mysql,
    Sqlite,
}

impl SqlDialect {
    fn placeholder(self) -> &'static str {
        match self {
            SqlDialect::Postgres => "$1",
            SqlDialect::Mysql => "?",
            SqlDialect::Sqlite => "?1",
        }
    }
}

/// A query with its `:last_pull` occurrences replaced by the driver's placeholder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoundQuery {
    pub sql: String,
    /// How many placeholders were put in (MySQL binds the value once per `?`).
    pub occurrences: usize,
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// Index just past the closing `close` of a quoted run that starts at `from` (just after the
/// opening quote), or the end of the text. A doubled closing quote is part of the run.
fn skip_quoted(s: &[u8], from: usize, close: u8, backslash_escapes: bool) -> usize {
    let mut i = from;
    while i < s.len() {
        match s[i] {
            b'\\' if backslash_escapes => i += 2,
            c if c == close => {
                if s.get(i + 1) == Some(&close) {
                    i += 2;
                } else {
                    return i + 1;
                }
            }
            _ => i += 1,
        }
    }
    s.len()
}

/// PostgreSQL's `$tag$ ... $tag$` starting at `at` (a `$`): the index past its end, or `None`
/// when this `$` does not open one (`$1`, or part of an identifier).
fn skip_dollar_quoted(s: &[u8], at: usize) -> Option<usize> {
    if at > 0 && is_ident(s[at - 1]) {
        return None;
    }
    let tag_end = at + 1 + s[at + 1..].iter().position(|&b| b == b'$')?;
    let tag = &s[at..=tag_end];
    let inner = &tag[1..tag.len() - 1];
    if inner.first().is_some_and(u8::is_ascii_digit)
        || !inner
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return None;
    }
    let body = tag_end + 1;
    let end = s[body..]
        .windows(tag.len())
        .position(|w| w == tag)
        .map_or(s.len(), |p| body + p + tag.len());
    Some(end)
}

/// Byte offsets of the `:last_pull` placeholders that SQL would read as such.
fn positions(sql: &str, dialect: SqlDialect) -> Vec<usize> {
    let s = sql.as_bytes();
    let name = &LAST_PULL.as_bytes()[1..];
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        let next = |n: usize| s.get(i + n).copied();
        i = match (s[i], dialect) {
            (b'\'', SqlDialect::Mysql) => skip_quoted(s, i + 1, b'\'', true),
            (b'\'', SqlDialect::Postgres) => {
                let escaped =
                    i > 0 && s[i - 1].eq_ignore_ascii_case(&b'e') && (i < 2 || !is_ident(s[i - 2]));
                skip_quoted(s, i + 1, b'\'', escaped)
            }
            (b'\'', _) => skip_quoted(s, i + 1, b'\'', false),
            (b'"', d) => skip_quoted(s, i + 1, b'"', d == SqlDialect::Mysql),
            (b'`', SqlDialect::Mysql | SqlDialect::Sqlite) => skip_quoted(s, i + 1, b'`', false),
            (b'[', SqlDialect::Sqlite) => skip_quoted(s, i + 1, b']', false),
            (b'-', _) if next(1) == Some(b'-') => line_end(s, i),
            (b'#', SqlDialect::Mysql) => line_end(s, i),
            (b'/', _) if next(1) == Some(b'*') => s[i + 2..]
                .windows(2)
                .position(|w| w == b"*/")
                .map_or(s.len(), |p| i + 2 + p + 2),
            (b'$', SqlDialect::Postgres) => skip_dollar_quoted(s, i).unwrap_or(i + 1),
            (b':', _)
                if s[i + 1..].starts_with(name)
                    && s.get(i + 1 + name.len()).is_none_or(|&b| !is_ident(b))
                    && (i == 0 || s[i - 1] != b':') =>
            {
                out.push(i);
                i + LAST_PULL.len()
            }
            _ => i + 1,
        };
    }
    out
}

fn line_end(s: &[u8], from: usize) -> usize {
    s[from..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(s.len(), |p| from + p + 1)
}

/// The query with `:last_pull` bound for `dialect`.
pub fn bind_last_pull(sql: &str, dialect: SqlDialect) -> BoundQuery {
    let at = positions(sql, dialect);
    let mut out = String::with_capacity(sql.len());
    let mut from = 0;
    for &p in &at {
        out.push_str(&sql[from..p]);
        out.push_str(dialect.placeholder());
        from = p + LAST_PULL.len();
    }
    out.push_str(&sql[from..]);
    BoundQuery {
        sql: out,
        occurrences: at.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SqlDialect::*;

    fn bound(sql: &str, d: SqlDialect) -> String {
        bind_last_pull(sql, d).sql
    }

    #[test]
    fn placeholders_become_the_drivers_parameter() {
        let q = "SELECT * FROM t WHERE updated_at > :last_pull OR created_at > :last_pull";
        assert_eq!(
            bound(q, Postgres),
            "SELECT * FROM t WHERE updated_at > $1 OR created_at > $1"
        );
        let m = bind_last_pull(q, Mysql);
        assert_eq!(m.occurrences, 2);
        assert_eq!(
            m.sql,
            "SELECT * FROM t WHERE updated_at > ? OR created_at > ?"
        );
        assert_eq!(
            bound("SELECT 1 WHERE x>:last_pull", Sqlite),
            "SELECT 1 WHERE x>?1"
        );
        assert_eq!(
            bound("SELECT :last_pull::timestamptz", Postgres),
            "SELECT $1::timestamptz"
        );
        assert_eq!(bind_last_pull("SELECT * FROM t", Postgres).occurrences, 0);
    }

    #[test]
    fn literals_identifiers_and_comments_are_left_alone() {
        for (q, d) in [
            ("SELECT ':last_pull', x FROM t", Postgres),
            ("SELECT 'it''s :last_pull' FROM t", Postgres),
            ("SELECT E'\\' :last_pull' FROM t", Postgres),
            ("SELECT \":last_pull\" FROM t", Postgres),
            (
                "SELECT $$ :last_pull $$, $q$ :last_pull $q$ FROM t",
                Postgres,
            ),
            ("SELECT 1 -- :last_pull\n", Postgres),
            ("SELECT 1 /* :last_pull */", Postgres),
            ("SELECT 'a\\' :last_pull' FROM t", Mysql),
            ("SELECT \":last_pull\" FROM t", Mysql),
            ("SELECT `:last_pull` FROM t # :last_pull", Mysql),
            ("SELECT [:last_pull] FROM t", Sqlite),
            ("SELECT x FROM t WHERE y = :last_pulled", Postgres),
            ("SELECT x::last_pull FROM t", Postgres),
        ] {
            assert_eq!(bind_last_pull(q, d).occurrences, 0, "{q}");
        }
        // A backslash is an ordinary character in a plain PostgreSQL literal.
        assert_eq!(
            bound("SELECT 'a\\' , :last_pull", Postgres),
            "SELECT 'a\\' , $1"
        );
        // `$1` and identifiers with `$` are not dollar quotes.
        assert_eq!(bound("SELECT a$b, :last_pull", Postgres), "SELECT a$b, $1");
        assert_eq!(
            bound("SELECT 'x' || :last_pull || 'y'", Postgres),
            "SELECT 'x' || $1 || 'y'"
        );
    }

    #[test]
    fn unterminated_runs_do_not_panic() {
        for q in [
            "'",
            "\"",
            "/*",
            "$a",
            "$a$",
            "--",
            "E'\\",
            ":",
            ":last_pul",
            "[",
            "`",
        ] {
            for d in [Postgres, Mysql, Sqlite] {
                let _ = bind_last_pull(q, d);
            }
        }
        assert_eq!(bound("ünï :last_pull", Sqlite), "ünï ?1");
    }
}
