//! Caller authentication with named bearer tokens (`--auth-tokens-file`).
//!
//! Off by default, because the default bind address is loopback. When on, every
//! `POST /evaluate` and `GET /metrics` needs `Authorization: Bearer <token>`;
//! `GET /health` (load-balancer probes), `GET /version` and `GET /openapi.json` stay
//! open: they reveal nothing the health probe does not.
//!
//! # Tokens file
//!
//! UTF-8 text, one `name:token` per line; blank lines and lines starting with `#` are
//! ignored; surrounding whitespace is trimmed.
//!
//! ```text
//! # caller name : token
//! checkout-service:3q2+7w8c0Ffq1VZbE0rZ5m9tA2kQ
//! batch-jobs:Vt4l9Yc1sK0pQ7xN2bR8mE5hJ3wZ
//! ```
//!
//! - `name` (recorded as `caller_id` in audit events) matches
//!   `^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$`; names are unique.
//! - `token` is 16..=512 characters of the RFC 6750 `b64token` alphabet
//!   (`A-Z a-z 0-9 - . _ ~ + /`, optionally ending in `=`); tokens are unique.
//! - A file with no token, or with any bad line, is refused at startup with every
//!   problem listed (by line number and name, never by token).
//!
//! The same entries can come from the environment instead, for platforms that inject
//! secrets as variables (ECS): `POLICYGATE_AUTH_TOKENS`, entries separated by newlines
//! or commas ([`Tokens::parse_env`]). A tokens file is read again on `SIGHUP`
//! (rotation without restart); a file that became invalid is refused and the tokens
//! in use are kept.
//!
//! # With mTLS
//!
//! With `--tls-client-ca`, a client is authenticated by its certificate during the
//! TLS handshake (see [`crate::tls`]), and the certificate's identity is the caller
//! (`caller_id`, `caller.id`). Tokens, when configured, are still required on top:
//! turning mTLS on never lets a request through that token auth would refuse. When
//! both are present the **certificate identity is the caller** and the token only
//! gates: the certificate is verified against the CA and bound to the connection by
//! proof of the private key, while a bearer token is a replayable secret, so a leaked
//! token never lets its holder be the token's caller. (Refusing a mismatch instead
//! would need token names to equal certificate identities, which SPIFFE IDs, not
//! valid token names, cannot.)
//!
//! Only the SHA-256 digest of each token is kept in memory. A presented token is hashed
//! and compared with **every** digest in constant time (`subtle`), so the comparison
//! leaks neither which bytes matched nor which entry. Tokens are never logged.

use axum::http::{HeaderMap, header};
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::Path;
use subtle::ConstantTimeEq;

/// Shortest accepted token, in characters.
pub const MIN_TOKEN_CHARS: usize = 16;
/// Longest accepted token, in characters.
pub const MAX_TOKEN_CHARS: usize = 512;

/// The named bearer tokens the service accepts.
#[derive(Clone)]
pub struct Tokens {
    entries: Vec<Entry>,
}

#[derive(Clone)]
struct Entry {
    name: String,
    digest: [u8; 32],
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Names only: digests are not secret-free enough to print.
        f.debug_struct("Tokens")
            .field("callers", &self.names().collect::<Vec<_>>())
            .finish()
    }
}

/// Why a tokens file was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokensError {
    /// The file could not be read.
    Read(String),
    /// The file was read but has problems, one message per problem.
    Invalid(Vec<String>),
}

impl fmt::Display for TokensError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokensError::Read(m) => f.write_str(m),
            TokensError::Invalid(problems) => f.write_str(&problems.join("\n")),
        }
    }
}

impl std::error::Error for TokensError {}

fn valid_name(s: &str) -> bool {
    let bytes = s.as_bytes();
    match bytes.split_first() {
        Some((head, rest)) => {
            head.is_ascii_alphanumeric()
                && rest.len() < 64
                && rest
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        }
        None => false,
    }
}

fn valid_token(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

fn digest(token: &[u8]) -> [u8; 32] {
    Sha256::digest(token).into()
}

impl Tokens {
    /// Reads and checks a tokens file.
    pub fn load(path: &Path) -> Result<Tokens, TokensError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            TokensError::Read(format!(
                "cannot read tokens file `{}`: {e}; check the path given to --auth-tokens-file",
                path.display()
            ))
        })?;
        Tokens::parse(&text)
    }

    /// Parses the tokens file format (see the module documentation).
    pub fn parse(text: &str) -> Result<Tokens, TokensError> {
        Tokens::parse_items(text.lines(), "line", "the tokens file")
    }

    /// Parses `POLICYGATE_AUTH_TOKENS`: the file's `name:token` entries separated by
    /// newlines or commas (ECS injects a secret as one environment variable). Problems
    /// name entries by position, never by token.
    pub fn parse_env(text: &str) -> Result<Tokens, TokensError> {
        Tokens::parse_items(text.split(['\n', ',']), "entry", "POLICYGATE_AUTH_TOKENS")
    }

    fn parse_items<'t>(
        items: impl Iterator<Item = &'t str>,
        unit: &str,
        source: &str,
    ) -> Result<Tokens, TokensError> {
        let mut entries: Vec<Entry> = Vec::new();
        let mut problems = Vec::new();
        for (index, raw) in items.enumerate() {
            let line_no = index + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((name, token)) = line.split_once(':') else {
                problems.push(format!(
                    "{unit} {line_no}: expected `name:token`, found no `:`"
                ));
                continue;
            };
            let (name, token) = (name.trim(), token.trim());
            if !valid_name(name) {
                problems.push(format!(
                    "{unit} {line_no}: caller name must match `^[a-zA-Z0-9][a-zA-Z0-9._-]{{0,63}}$`"
                ));
                continue;
            }
            let chars = token.chars().count();
            if !(MIN_TOKEN_CHARS..=MAX_TOKEN_CHARS).contains(&chars) {
                problems.push(format!(
                    "{unit} {line_no} (`{name}`): token must be {MIN_TOKEN_CHARS}..{MAX_TOKEN_CHARS} characters long, found {chars}"
                ));
                continue;
            }
            if !valid_token(token) {
                problems.push(format!(
                    "{unit} {line_no} (`{name}`): token may only use `A-Z a-z 0-9 - . _ ~ + /` and trailing `=`"
                ));
                continue;
            }
            let d = digest(token.as_bytes());
            if entries.iter().any(|e| e.name == name) {
                problems.push(format!(
                    "{unit} {line_no}: caller name `{name}` is used twice; give each caller its own name"
                ));
                continue;
            }
            if let Some(other) = entries.iter().find(|e| e.digest == d) {
                problems.push(format!(
                    "{unit} {line_no} (`{name}`): same token as `{}`; give each caller its own token",
                    other.name
                ));
                continue;
            }
            entries.push(Entry {
                name: name.to_owned(),
                digest: d,
            });
        }
        if entries.is_empty() && problems.is_empty() {
            problems.push(format!(
                "{source} holds no token; add `name:token` entries or leave authentication off"
            ));
        }
        if problems.is_empty() {
            Ok(Tokens { entries })
        } else {
            Err(TokensError::Invalid(problems))
        }
    }

    /// Caller names, in file order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| e.name.as_str())
    }

    /// The caller whose token this is, compared in constant time against every entry.
    pub fn caller_for_token(&self, token: &str) -> Option<&str> {
        let presented = digest(token.as_bytes());
        let mut found = None;
        for entry in &self.entries {
            // Every entry is compared; only the (public) fact of a match branches.
            if bool::from(entry.digest.ct_eq(&presented)) {
                found = Some(entry.name.as_str());
            }
        }
        found
    }

    /// The caller authenticated by the request's `Authorization: Bearer` header.
    pub fn authenticate(&self, headers: &HeaderMap) -> Option<&str> {
        let mut values = headers.get_all(header::AUTHORIZATION).iter();
        let value = values.next()?.to_str().ok()?;
        if values.next().is_some() {
            return None;
        }
        let (scheme, token) = value.trim().split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        self.caller_for_token(token.trim_start())
    }
}

/// The request was not authenticated: answer 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unauthenticated;

/// The caller of a decision request, from the connection's verified client
/// certificate (mTLS) and the request's bearer token: with tokens configured a valid
/// token is required; the certificate identity, when there is one, is the caller (see
/// the module documentation), else the token's name; `None` with both off.
pub(crate) fn caller<'a>(
    tokens: Option<&'a Tokens>,
    certificate: Option<&'a str>,
    headers: &HeaderMap,
) -> Result<Option<&'a str>, Unauthenticated> {
    let token_caller = match tokens {
        Some(tokens) => Some(tokens.authenticate(headers).ok_or(Unauthenticated)?),
        None => None,
    };
    Ok(certificate.or(token_caller))
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbb+/==";

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, value.parse().unwrap());
        h
    }

    #[test]
    fn parses_names_and_tokens() {
        let t = Tokens::parse(&format!("# comment\n\n svc-a : {A}\nsvc.b:{B}\n")).unwrap();
        assert_eq!(t.names().collect::<Vec<_>>(), vec!["svc-a", "svc.b"]);
        assert_eq!(
            t.authenticate(&headers(&format!("Bearer {A}"))),
            Some("svc-a")
        );
        assert_eq!(
            t.authenticate(&headers(&format!("bearer {B}"))),
            Some("svc.b")
        );
        assert_eq!(t.authenticate(&headers(&format!("Bearer {A}x"))), None);
        assert_eq!(t.authenticate(&headers(&format!("Basic {A}"))), None);
        assert_eq!(t.authenticate(&headers("Bearer")), None);
        assert_eq!(t.authenticate(&HeaderMap::new()), None);
    }

    #[test]
    fn refuses_bad_files_with_every_problem_and_no_token_in_messages() {
        let text = format!("nocolon\n-bad:{A}\nshort:abc\nok:{A}\nok:{B}\ndup:{A}\nsp:{A} x\n");
        let Err(TokensError::Invalid(problems)) = Tokens::parse(&text) else {
            panic!("expected problems")
        };
        assert_eq!(problems.len(), 6, "{problems:#?}");
        assert!(problems[0].starts_with("line 1:"));
        assert!(problems[3].contains("`ok` is used twice"));
        assert!(problems[4].contains("same token as `ok`"));
        assert!(
            problems
                .iter()
                .all(|p| !p.contains(A) && !p.contains("abc"))
        );
        assert!(matches!(
            Tokens::parse("# only comments\n"),
            Err(TokensError::Invalid(_))
        ));
    }

    #[test]
    fn environment_entries_are_separated_by_commas_or_newlines() {
        let t = Tokens::parse_env(&format!("svc-a:{A}, svc.b:{B}\n")).unwrap();
        assert_eq!(t.names().collect::<Vec<_>>(), vec!["svc-a", "svc.b"]);
        let Err(TokensError::Invalid(problems)) = Tokens::parse_env(&format!("ok:{A},bad")) else {
            panic!("expected problems")
        };
        assert_eq!(problems, ["entry 2: expected `name:token`, found no `:`"]);
        let Err(TokensError::Invalid(problems)) = Tokens::parse_env(" , ") else {
            panic!("expected problems")
        };
        assert!(problems[0].starts_with("POLICYGATE_AUTH_TOKENS holds no token"));
    }

    #[test]
    fn a_certificate_identity_is_the_caller_and_tokens_still_gate() {
        let t = Tokens::parse(&format!("svc-a:{A}")).unwrap();
        let cert = "spiffe://example.org/sa/billing";
        let good = headers(&format!("Bearer {A}"));
        let none = HeaderMap::new();
        assert_eq!(caller(None, None, &none), Ok(None));
        assert_eq!(caller(Some(&t), None, &good), Ok(Some("svc-a")));
        assert_eq!(caller(Some(&t), None, &none), Err(Unauthenticated));
        assert_eq!(
            caller(None, Some(cert), &none),
            Ok(Some("spiffe://example.org/sa/billing"))
        );
        assert_eq!(
            caller(Some(&t), Some(cert), &good),
            Ok(Some("spiffe://example.org/sa/billing"))
        );
        assert_eq!(caller(Some(&t), Some(cert), &none), Err(Unauthenticated));
    }

    #[test]
    fn debug_shows_names_only() {
        let t = Tokens::parse(&format!("svc:{A}")).unwrap();
        let shown = format!("{t:?}");
        assert!(shown.contains("svc") && !shown.contains(A));
    }
}
