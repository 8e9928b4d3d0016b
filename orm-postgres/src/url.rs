//! Takes connection parameters that tokio-postgres does not know out of a
//! connection string, so the rest can go to `tokio_postgres::Config`
//! unchanged.
//!
//! Why: tokio-postgres rejects libpq's `sslmode=verify-ca`,
//! `sslmode=verify-full` and `sslrootcert=…`, which users copy from their
//! provider's console; the engine handles those itself. Both forms
//! tokio-postgres accepts are read: `postgres://…?key=value&…` (values
//! percent-encoded) and `key=value key='quoted value' …`.

use percent_encoding::percent_decode_str;

/// A connection string without the taken parameters, and the taken
/// parameters in the order they appeared (decoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Split {
    /// The connection string tokio-postgres is given.
    pub(crate) rest: String,
    /// The taken `(key, value)` pairs.
    pub(crate) taken: Vec<(String, String)>,
}

/// Takes the parameters named in `keys` out of `url`. A string that does
/// not parse is returned whole, for tokio-postgres to report.
pub(crate) fn take_params(url: &str, keys: &[&str]) -> Split {
    let taken = match url_body(url) {
        Some(body_start) => take_from_url(url, body_start, keys),
        None => take_from_key_values(url, keys),
    };
    taken.unwrap_or_else(|| Split { rest: url.to_owned(), taken: Vec::new() })
}

/// Where the part after `postgres://` or `postgresql://` starts.
fn url_body(url: &str) -> Option<usize> {
    ["postgres://", "postgresql://"].iter().find(|prefix| url.starts_with(*prefix)).map(|prefix| prefix.len())
}

/// The URL form: parameters are `&`-separated after the first `?` that
/// follows the credentials (a password may hold a `?`).
fn take_from_url(url: &str, body_start: usize, keys: &[&str]) -> Option<Split> {
    let after_credentials = url[body_start..].find('@').map_or(body_start, |at| body_start + at + 1);
    let Some(question) = url[after_credentials..].find('?').map(|q| after_credentials + q) else {
        return Some(Split { rest: url.to_owned(), taken: Vec::new() });
    };
    let mut kept = Vec::new();
    let mut taken = Vec::new();
    for pair in url[question + 1..].split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if keys.contains(&key) {
            taken.push((key.to_owned(), percent_decode_str(value).decode_utf8().ok()?.into_owned()));
        } else {
            kept.push(pair);
        }
    }
    let mut rest = url[..question].to_owned();
    if !kept.is_empty() {
        rest.push('?');
        rest.push_str(&kept.join("&"));
    }
    Some(Split { rest, taken })
}

/// The `key=value` form, read as tokio-postgres reads it; the kept pairs are
/// written back quoted.
fn take_from_key_values(text: &str, keys: &[&str]) -> Option<Split> {
    let mut kept = Vec::new();
    let mut taken = Vec::new();
    for (key, value) in key_values(text)? {
        if keys.contains(&key.as_str()) {
            taken.push((key, value));
        } else {
            kept.push(format!("{key}='{}'", value.replace('\\', "\\\\").replace('\'', "\\'")));
        }
    }
    Some(Split { rest: kept.join(" "), taken })
}

/// The pairs of a `key = value …` string: values are bare or in single
/// quotes, a backslash escapes the next character. `None` when malformed.
fn key_values(text: &str) -> Option<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Some(pairs);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| !c.is_whitespace() && *c != '=') {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        chars.next_if_eq(&'=')?;
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let quoted = chars.next_if_eq(&'\'').is_some();
        let mut value = String::new();
        loop {
            match chars.next() {
                Some('\'') if quoted => break,
                Some(c) if !quoted && c.is_whitespace() => break,
                Some('\\') => value.push(chars.next()?),
                Some(c) => value.push(c),
                None if quoted => return None,
                None => break,
            }
        }
        pairs.push((key, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TLS: &[&str] = &["sslmode", "sslrootcert"];

    fn taken(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn takes_parameters_out_of_a_url() {
        let split =
            take_params("postgres://u:p@h:5/db?sslmode=verify-full&connect_timeout=3&sslrootcert=%2Ftmp%2Fca.pem", TLS);
        assert_eq!(split.rest, "postgres://u:p@h:5/db?connect_timeout=3");
        assert_eq!(split.taken, taken(&[("sslmode", "verify-full"), ("sslrootcert", "/tmp/ca.pem")]));

        let split = take_params("postgresql://h/db?sslmode=require", TLS);
        assert_eq!(split.rest, "postgresql://h/db");
        assert_eq!(split.taken, taken(&[("sslmode", "require")]));

        let split = take_params("postgres://h/db", TLS);
        assert_eq!(split, Split { rest: "postgres://h/db".into(), taken: vec![] });
    }

    #[test]
    fn a_question_mark_in_the_password_is_not_the_query() {
        let split = take_params("postgres://u:pa?ss@h/db?sslmode=disable", TLS);
        assert_eq!(split.rest, "postgres://u:pa?ss@h/db");
        assert_eq!(split.taken, taken(&[("sslmode", "disable")]));
    }

    #[test]
    fn takes_parameters_out_of_key_values() {
        let split =
            take_params(r"host=h  sslmode = verify-ca password='it\'s a secret' sslrootcert='/my certs/ca.pem'", TLS);
        assert_eq!(split.rest, r"host='h' password='it\'s a secret'");
        assert_eq!(split.taken, taken(&[("sslmode", "verify-ca"), ("sslrootcert", "/my certs/ca.pem")]));
        let config: tokio_postgres::Config = split.rest.parse().unwrap();
        assert_eq!(config.get_password(), Some(&b"it's a secret"[..]));
    }

    #[test]
    fn a_malformed_string_is_left_to_tokio_postgres() {
        for text in ["host=h sslmode", "host='unterminated", "postgres://h/db?sslrootcert=%ff"] {
            assert_eq!(take_params(text, TLS), Split { rest: text.into(), taken: vec![] }, "{text}");
        }
    }
}
