//! Times are stored as unix seconds and shown as RFC 3339 UTC (`2026-11-27T10:00:00Z`).

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

pub fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// Milliseconds as RFC 3339 UTC with exactly three fraction digits, so that these times sort
/// as strings the way they sort as times (`…05.300Z` before `…05.310Z`; a trimmed `…05.3Z`
/// would sort after `…05.31Z`).
pub fn ms_to_rfc3339(ms: i64) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

pub fn to_rfc3339(secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

pub fn parse_rfc3339(s: &str) -> Option<i64> {
    OffsetDateTime::parse(s, &Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

/// Serde adapters so response structs can hold seconds and emit RFC 3339.
pub mod serde_rfc3339 {
    use serde::Serializer;

    pub fn serialize<S: Serializer>(secs: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::to_rfc3339(*secs))
    }

    /// For unix-millisecond fields.
    pub mod millis {
        use serde::Serializer;

        pub fn serialize<S: Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(&super::super::ms_to_rfc3339(*ms))
        }
    }

    pub mod millis_option {
        use serde::Serializer;

        pub fn serialize<S: Serializer>(ms: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
            match ms {
                Some(v) => s.serialize_str(&super::super::ms_to_rfc3339(*v)),
                None => s.serialize_none(),
            }
        }
    }

    pub mod option {
        use serde::Serializer;

        pub fn serialize<S: Serializer>(secs: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
            match secs {
                Some(v) => s.serialize_str(&super::super::to_rfc3339(*v)),
                None => s.serialize_none(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_in_utc_with_z() {
        assert_eq!(to_rfc3339(1_795_860_000), "2026-11-28T10:00:00Z");
        assert_eq!(parse_rfc3339("2026-11-28T10:00:00Z"), Some(1_795_860_000));
        assert_eq!(
            parse_rfc3339("2026-11-28T11:00:00+01:00"),
            Some(1_795_860_000)
        );
        assert_eq!(parse_rfc3339("tomorrow"), None);
        assert_eq!(ms_to_rfc3339(1_795_860_000_250), "2026-11-28T10:00:00.250Z");
        assert_eq!(ms_to_rfc3339(1_795_860_000_000), "2026-11-28T10:00:00.000Z");
        assert_eq!(
            parse_rfc3339(&ms_to_rfc3339(1_795_860_000_250)),
            Some(1_795_860_000)
        );
        let (a, b) = (
            ms_to_rfc3339(1_795_860_005_300),
            ms_to_rfc3339(1_795_860_005_310),
        );
        assert!(a < b, "{a} {b}");
    }
}
