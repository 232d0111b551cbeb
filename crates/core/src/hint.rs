//! "Did you mean" for fact paths, by name and by meaning.
//!
//! Edit distance alone misses what new users actually write: `environment:` for
//! `env`, `signal:` for `signals`, `resource.kind` for `resource.type`. This module
//! knows the request's fact roots and fields, the words people use for them, and
//! falls back to spelling; it never suggests a path requests do not have.

/// Objects and facts at the top of a condition.
pub(crate) const ROOTS: [&str; 6] = ["action", "env", "resource", "subject", "caller", "signals"];

/// Other words for a root.
const ROOT_SYNONYMS: [(&str, &str); 15] = [
    ("environment", "env"),
    ("environments", "env"),
    ("environ", "env"),
    ("envs", "env"),
    ("signal", "signals"),
    ("resources", "resource"),
    ("res", "resource"),
    ("user", "subject"),
    ("principal", "subject"),
    ("callers", "caller"),
    ("client", "caller"),
    ("subjects", "subject"),
    ("actions", "action"),
    ("operation", "action"),
    ("verb", "action"),
];

/// Fields of each object, and other words for them.
fn fields(
    root: &str,
) -> (
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
) {
    match root {
        "env" => (
            &["name"],
            &[
                ("id", "name"),
                ("environment", "name"),
                ("type", "name"),
                ("kind", "name"),
            ],
        ),
        "resource" => (
            &["type", "id", "sensitivity"],
            &[
                ("kind", "type"),
                ("category", "type"),
                ("class", "type"),
                ("resource_type", "type"),
                ("name", "id"),
                ("uid", "id"),
                ("key", "id"),
                ("level", "sensitivity"),
                ("classification", "sensitivity"),
                ("label", "sensitivity"),
                ("sensitive", "sensitivity"),
            ],
        ),
        "subject" => (
            &["type", "id"],
            &[
                ("kind", "type"),
                ("role", "type"),
                ("class", "type"),
                ("name", "id"),
                ("user", "id"),
                ("uid", "id"),
            ],
        ),
        "caller" => (
            &["id"],
            &[("name", "id"), ("identity", "id"), ("uid", "id")],
        ),
        _ => (&[], &[]),
    }
}

/// A close spelling: a prefix of at least three characters either way, or an edit
/// distance of at most a third of the word (and at most 2).
fn close<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let w = word.to_lowercase();
    candidates
        .iter()
        .filter_map(|c| {
            let d = strsim::levenshtein(&w, c);
            let prefix = w.len() >= 3 && (c.starts_with(&w) || w.starts_with(c));
            (d <= 2.min(c.len().max(3) / 3 + 1) || prefix).then_some((d, *c))
        })
        .min()
        .map(|(_, c)| c)
}

fn root_of(word: &str) -> Option<&'static str> {
    let w = word.to_lowercase();
    if let Some(r) = ROOTS.iter().find(|r| **r == w) {
        return Some(r);
    }
    if let Some((_, r)) = ROOT_SYNONYMS.iter().find(|(s, _)| *s == w) {
        return Some(r);
    }
    close(&w, &ROOTS)
}

/// The fact path (or object) the author most likely meant by `path`, if any.
pub(crate) fn fact_path(path: &str) -> Option<String> {
    let (root, field) = match path.split_once('.') {
        Some((r, f)) => (r, Some(f)),
        None => (path, None),
    };
    let root = root_of(root)?;
    let Some(field) = field else {
        return Some(root.to_owned());
    };
    if root == "signals" {
        return Some(format!("signals.{field}"));
    }
    if root == "action" {
        return Some("action".to_owned());
    }
    let (names, synonyms) = fields(root);
    let f = field.to_lowercase();
    let meant = names
        .iter()
        .find(|n| **n == f)
        .copied()
        .or_else(|| synonyms.iter().find(|(s, _)| *s == f).map(|(_, n)| *n))
        .or_else(|| close(&f, names))?;
    Some(format!("{root}.{meant}"))
}

/// `did you mean `X`?` for a fact path, or an empty string.
pub(crate) fn did_you_mean_fact(path: &str) -> String {
    match fact_path(path) {
        Some(p) if p != path => format!("did you mean `{p}`?"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_name_and_meaning() {
        assert_eq!(fact_path("environment").as_deref(), Some("env"));
        assert_eq!(fact_path("signal").as_deref(), Some("signals"));
        assert_eq!(fact_path("resources").as_deref(), Some("resource"));
        assert_eq!(fact_path("resource.kind").as_deref(), Some("resource.type"));
        assert_eq!(
            fact_path("resource.sensitivty").as_deref(),
            Some("resource.sensitivity")
        );
        assert_eq!(fact_path("environment.name").as_deref(), Some("env.name"));
        assert_eq!(fact_path("subject.role").as_deref(), Some("subject.type"));
        assert_eq!(fact_path("signal.risk").as_deref(), Some("signals.risk"));
        assert_eq!(fact_path("colour"), None);
        assert_eq!(fact_path("resource.colour"), None);
        assert_eq!(did_you_mean_fact("env"), "");
    }
}
