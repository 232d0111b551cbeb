//! A generic YAML tree with a source position on every node.
//!
//! The events come from granit-parser (the parser under serde-saphyr), which reports
//! positions for every node; this module builds the tree, resolves plain scalars (the
//! YAML 1.2 core schema, plus the prototype's `yes`/`no`/`on`/`off` booleans), and refuses what a policy must not contain: duplicate
//! keys (which other loaders silently resolve), anchors and aliases, complex keys,
//! non-finite numbers and multiple documents. Building the tree from events keeps
//! loading a 10,000-rule policy cheap, and lets the structural stage walk it while
//! collecting every problem.

use crate::loc::Loc;
use granit_parser::{Event, Parser, ScalarStyle, Span};
use std::collections::BTreeMap;

/// One YAML node and where it is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub kind: Kind,
    pub loc: Loc,
}

/// The value of a node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    Null,
    /// A boolean, and how it was written (see [`Spelling`]).
    Bool(bool, Spelling),
    Int(i64),
    /// A decimal or exponent literal that names its double exactly (see [`is_exact_float`]).
    Float(f64),
    /// A number the engine cannot hold exactly: an integer beyond the 64-bit range, or
    /// a decimal with more digits than a double keeps (it would be read as another
    /// number). Kept as written, so that the stage that reads it can refuse it.
    Inexact(String),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

/// How a plain boolean was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Spelling {
    /// `true` or `false` (lower, title or upper case): a boolean in every YAML version.
    Core,
    /// One of the YAML 1.1 words (`yes`, `no`, `on`, `off`, any case), as written. Read
    /// as a boolean for the prototype's sake, but a string to YAML 1.2 loaders and
    /// easily meant as one, so the checker warns where it may have been meant as text.
    Yaml11(&'static str),
}

/// The YAML 1.1 boolean words that [`resolve_plain`] reads as booleans, with their values.
const YAML11_WORDS: [(&str, bool); 12] = [
    ("yes", true),
    ("Yes", true),
    ("YES", true),
    ("on", true),
    ("On", true),
    ("ON", true),
    ("no", false),
    ("No", false),
    ("NO", false),
    ("off", false),
    ("Off", false),
    ("OFF", false),
];

/// A mapping entry: the key (always read as a string) and its value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub key: String,
    pub key_loc: Loc,
    pub value: Node,
}

impl Kind {
    /// How the kind is named in messages.
    pub fn describe(&self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool(..) => "a boolean",
            Kind::Int(_) => "an integer",
            Kind::Float(_) => "a number",
            Kind::Inexact(_) => "a number that cannot be held exactly",
            Kind::Str(_) => "a string",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }
}

/// Why the text is not a YAML document we can read.
#[derive(Debug, Clone)]
pub(crate) struct SyntaxError {
    pub message: String,
    pub loc: Option<Loc>,
    pub duplicate_key: bool,
}

impl SyntaxError {
    fn at(message: impl Into<String>, loc: Loc) -> SyntaxError {
        SyntaxError {
            message: message.into(),
            loc: Some(loc),
            duplicate_key: false,
        }
    }
}

/// Deepest nesting accepted (a policy needs a handful of levels).
pub(crate) const MAX_DEPTH: usize = 64;

fn loc_of(span: &Span) -> Loc {
    let start = span.start.byte_offset().unwrap_or(0);
    let end = span.end.byte_offset().unwrap_or(start);
    Loc::new(
        u32::try_from(span.start.line()).unwrap_or(u32::MAX),
        u32::try_from(span.start.col() + 1).unwrap_or(u32::MAX),
        start,
        end.saturating_sub(start),
    )
}

enum Frame {
    Seq {
        items: Vec<Node>,
        loc: Loc,
    },
    Map {
        entries: Vec<Entry>,
        loc: Loc,
        pending: Option<(String, Loc)>,
        /// The keys seen so far, once the mapping is too large for a scan of
        /// `entries` (most mappings of a policy have a handful of keys).
        seen: Option<BTreeMap<String, Loc>>,
    },
}

/// Mappings with more keys than this look duplicates up in a map, smaller ones scan.
const SCAN_KEYS: usize = 16;

/// Where `key` is already a key of the mapping being built (`pending` is `None` here).
fn first_seen(
    entries: &[Entry],
    seen: &mut Option<BTreeMap<String, Loc>>,
    key: &str,
) -> Option<Loc> {
    if seen.is_none() && entries.len() >= SCAN_KEYS {
        *seen = Some(entries.iter().map(|e| (e.key.clone(), e.key_loc)).collect());
    }
    match seen {
        Some(map) => map.get(key).copied(),
        None => entries.iter().find(|e| e.key == key).map(|e| e.key_loc),
    }
}

/// Parses one YAML document.
pub(crate) fn parse(text: &str) -> Result<Node, SyntaxError> {
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Node> = None;
    let mut documents = 0usize;
    for item in Parser::new_from_str(text) {
        let (event, span) = item.map_err(|e| {
            let m = e.marker();
            let loc = Loc::new(
                u32::try_from(m.line()).unwrap_or(u32::MAX),
                u32::try_from(m.col() + 1).unwrap_or(u32::MAX),
                m.byte_offset().unwrap_or(0),
                1,
            );
            SyntaxError::at(e.info(), loc)
        })?;
        let loc = loc_of(&span);
        let node = match event {
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => continue,
            Event::DocumentStart(..) => {
                documents += 1;
                if documents > 1 {
                    return Err(SyntaxError::at(
                        "a policy file holds exactly one YAML document",
                        loc,
                    ));
                }
                continue;
            }
            Event::Alias(_) | Event::UnresolvedAlias(_) | Event::Anchor(..) => {
                return Err(SyntaxError::at(
                    "anchors and aliases are not supported in policy files",
                    loc,
                ));
            }
            Event::Scalar(value, style, anchor, tag) => {
                if anchor != 0 {
                    return Err(SyntaxError::at(
                        "anchors and aliases are not supported in policy files",
                        loc,
                    ));
                }
                refuse_tag(tag.as_deref(), loc)?;
                // A key: kept as written.
                if let Some(Frame::Map {
                    entries,
                    pending: pending @ None,
                    seen,
                    ..
                }) = stack.last_mut()
                {
                    let key = value.into_owned();
                    if let Some(first) = first_seen(entries, seen, &key) {
                        return Err(SyntaxError {
                            message: format!(
                                "duplicate key `{key}` (first at line {})",
                                first.line()
                            ),
                            loc: Some(loc),
                            duplicate_key: true,
                        });
                    }
                    if let Some(map) = seen {
                        map.insert(key.clone(), loc);
                    }
                    *pending = Some((key, loc));
                    continue;
                }
                let is_str_tag = tag
                    .as_ref()
                    .is_some_and(|t| t.is_yaml_core_schema_tag("str"));
                let kind = if style == ScalarStyle::Plain && !is_str_tag {
                    resolve_plain(&value).map_err(|m| SyntaxError::at(m, loc))?
                } else {
                    Kind::Str(value.into_owned())
                };
                Node { kind, loc }
            }
            Event::SequenceStart(_, anchor, _) | Event::MappingStart(_, anchor, _)
                if anchor != 0 =>
            {
                return Err(SyntaxError::at(
                    "anchors and aliases are not supported in policy files",
                    loc,
                ));
            }
            Event::SequenceStart(_, _, Some(tag)) | Event::MappingStart(_, _, Some(tag)) => {
                return Err(tag_error(&tag, loc));
            }
            Event::SequenceStart(..) => {
                open(
                    &mut stack,
                    Frame::Seq {
                        items: Vec::new(),
                        loc,
                    },
                    loc,
                )?;
                continue;
            }
            Event::MappingStart(..) => {
                open(
                    &mut stack,
                    Frame::Map {
                        entries: Vec::new(),
                        loc,
                        pending: None,
                        seen: None,
                    },
                    loc,
                )?;
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                // Without the spare capacity of growth: the tree of a large policy
                // is the peak of its load.
                Some(Frame::Seq { mut items, loc }) => {
                    items.shrink_to_fit();
                    Node {
                        kind: Kind::Seq(items),
                        loc,
                    }
                }
                Some(Frame::Map {
                    mut entries, loc, ..
                }) => {
                    entries.shrink_to_fit();
                    Node {
                        kind: Kind::Map(entries),
                        loc,
                    }
                }
                None => return Err(SyntaxError::at("unbalanced collection end", loc)),
            },
            // Comments and any future presentation-only events carry no data.
            _ => continue,
        };
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries, pending, ..
            }) => match pending.take() {
                Some((key, key_loc)) => entries.push(Entry {
                    key,
                    key_loc,
                    value: node,
                }),
                None => {
                    return Err(SyntaxError::at(
                        "mapping keys must be plain strings, not lists or mappings",
                        node.loc,
                    ));
                }
            },
        }
    }
    Ok(root.unwrap_or(Node {
        kind: Kind::Null,
        loc: Loc::new(1, 1, 0, 0),
    }))
}

/// A scalar may carry the core schema's `!!str` (a string, as quoting does); any other
/// tag (`!!binary`, `!!int`, a local `!tag`) is refused rather than ignored, so that a
/// value never means something other than what it looks like.
fn refuse_tag(tag: Option<&granit_parser::Tag>, loc: Loc) -> Result<(), SyntaxError> {
    match tag {
        Some(t) if !t.is_yaml_core_schema_tag("str") => Err(tag_error(t, loc)),
        _ => Ok(()),
    }
}

fn tag_error(tag: &granit_parser::Tag, loc: Loc) -> SyntaxError {
    SyntaxError::at(
        format!(
            "YAML tag `{}{}` is not supported in policy files; write the value without a tag (quote it to make it a string)",
            tag.original_handle(),
            tag.suffix()
        ),
        loc,
    )
}

fn open(stack: &mut Vec<Frame>, frame: Frame, loc: Loc) -> Result<(), SyntaxError> {
    if let Some(Frame::Map { pending: None, .. }) = stack.last() {
        return Err(SyntaxError::at(
            "mapping keys must be plain strings, not lists or mappings",
            loc,
        ));
    }
    if stack.len() >= MAX_DEPTH {
        return Err(SyntaxError::at(
            format!("nesting deeper than {MAX_DEPTH} levels"),
            loc,
        ));
    }
    stack.push(frame);
    Ok(())
}

/// Resolves a plain scalar: null, booleans (`true`/`false`/`yes`/`no`/`on`/`off` in
/// lower, title or upper case, as the prototype's PyYAML read them; `y` and `n` stay
/// strings), integers (decimal, `0o`, `0x`), floats. A number that would be rounded
/// (an integer beyond `i64`, a decimal with more digits than a double keeps) becomes
/// [`Kind::Inexact`], never a nearby value.
fn resolve_plain(s: &str) -> Result<Kind, String> {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Ok(Kind::Null),
        "true" | "True" | "TRUE" => return Ok(Kind::Bool(true, Spelling::Core)),
        "false" | "False" | "FALSE" => return Ok(Kind::Bool(false, Spelling::Core)),
        _ => {}
    }
    // Booleans as the Python prototype's loader read them (YAML 1.1 words, but not
    // `y`/`n`), so that version-1 policies keep their meaning.
    if let Some((word, value)) = YAML11_WORDS.iter().find(|(w, _)| *w == s) {
        return Ok(Kind::Bool(*value, Spelling::Yaml11(word)));
    }
    match s {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF"
        | ".nan" | ".NaN" | ".NAN" => {
            return Err(format!(
                "non-finite number `{s}` is not allowed in a policy"
            ));
        }
        _ => {}
    }
    let digits = |t: &str, radix: u32| !t.is_empty() && t.chars().all(|c| c.is_digit(radix));
    let unsigned = s.strip_prefix(['-', '+']).unwrap_or(s);
    if digits(unsigned, 10) {
        return Ok(match s.parse::<i64>() {
            Ok(i) => Kind::Int(i),
            Err(_) => Kind::Inexact(s.to_owned()),
        });
    }
    if let Some(h) = s.strip_prefix("0x").filter(|h| digits(h, 16)) {
        return Ok(
            i64::from_str_radix(h, 16).map_or_else(|_| Kind::Inexact(s.to_owned()), Kind::Int)
        );
    }
    if let Some(o) = s.strip_prefix("0o").filter(|o| digits(o, 8)) {
        return Ok(
            i64::from_str_radix(o, 8).map_or_else(|_| Kind::Inexact(s.to_owned()), Kind::Int)
        );
    }
    if is_core_float(unsigned)
        && let Ok(f) = s.parse::<f64>()
    {
        if !f.is_finite() {
            return Err(format!("number `{s}` is out of range"));
        }
        return Ok(if is_exact_float(s, f) {
            Kind::Float(f)
        } else {
            Kind::Inexact(s.to_owned())
        });
    }
    Ok(Kind::Str(s.to_owned()))
}

/// A decimal literal as (negative, significant digits without leading or trailing
/// zeros, exponent): the value is `digits × 10^exponent`. Zero has no digits.
fn decimal_parts(s: &str) -> Option<(bool, String, i64)> {
    let negative = s.starts_with('-');
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (s.get(..i)?, s.get(i + 1..)?.parse::<i64>().ok()?),
        None => (s, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut exponent = exponent.checked_sub(i64::try_from(frac.len()).ok()?)?;
    let all = format!("{int}{frac}");
    let trimmed = all.trim_start_matches('0');
    let digits = trimmed.trim_end_matches('0');
    exponent = exponent.checked_add(i64::try_from(trimmed.len() - digits.len()).ok()?)?;
    if digits.is_empty() {
        return Some((false, String::new(), 0));
    }
    Some((negative, digits.to_owned(), exponent))
}

/// Does the decimal text name the double `f` exactly, in the sense that matters to a
/// reader: its value is the value of the shortest decimal that reads back as `f`
/// (`0.1`, `1e20`, `2.50`), so no digit the author wrote is lost? `9007199254740993.0`
/// (read as `9007199254740992`), `0.10000000000000000001` and `1e-400` (read as 0) are not.
pub(crate) fn is_exact_float(text: &str, f: f64) -> bool {
    // `{:e}` prints the shortest digits that read back as `f`.
    let shortest = format!("{f:e}");
    match (decimal_parts(text), decimal_parts(&shortest)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?` of the core schema.
fn is_core_float(s: &str) -> bool {
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (s.get(..i).unwrap_or(""), s.get(i + 1..)),
        None => (s, None),
    };
    let all_digits = |t: &str| t.chars().all(|c| c.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => {
            all_digits(int) && all_digits(frac) && !(int.is_empty() && frac.is_empty())
        }
        None => !mantissa.is_empty() && all_digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && all_digits(e)
    });
    mantissa_ok && exponent_ok
}

/// The entry of a mapping with key `key`, if any (keys are unique: duplicates are
/// refused when the tree is built).
pub(crate) fn get<'e>(entries: &'e [Entry], key: &str) -> Option<&'e Entry> {
    entries.iter().find(|e| e.key == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_positions_and_order() {
        let n = parse("a: 1\nb:\n  - x\n  - '2'\n").unwrap();
        let Kind::Map(entries) = n.kind else {
            panic!("map")
        };
        assert_eq!(entries[0].key, "a");
        assert_eq!(
            (entries[1].key_loc.line(), entries[1].key_loc.column()),
            (2, 1)
        );
        let Kind::Seq(items) = &entries[1].value.kind else {
            panic!("seq")
        };
        assert_eq!(items[1].kind, Kind::Str("2".into()));
        assert_eq!((items[1].loc.line(), items[1].loc.column()), (4, 5));
        assert_eq!(items[1].loc.offset(), 18);
    }

    #[test]
    fn large_mappings_find_duplicates_before_and_after_the_scan_limit() {
        // Keys k0..k29, then a repeat: of a key seen before the map of keys is built
        // (k3) and of one added to it afterwards (k25).
        let mut text: String = (0..30).map(|i| format!("k{i}: {i}\n")).collect();
        for (dup, first_line) in [("k3", 4), ("k25", 26)] {
            let with_dup = format!("{text}{dup}: again\n");
            let e = parse(&with_dup).unwrap_err();
            assert!(e.duplicate_key, "{dup}: {}", e.message);
            assert_eq!(e.loc.map(|l| l.line()), Some(31));
            assert!(
                e.message.contains(&format!(
                    "duplicate key `{dup}` (first at line {first_line})"
                )),
                "{}",
                e.message
            );
        }
        text.push_str("k30: 30\n");
        let Kind::Map(entries) = parse(&text).unwrap().kind else {
            panic!("not a mapping");
        };
        assert_eq!(entries.len(), 31);
    }

    #[test]
    fn refuses_duplicate_keys_with_a_location() {
        let e = parse("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert!(e.duplicate_key);
        assert_eq!(e.loc.map(|l| l.line()), Some(3));
        assert!(
            e.message.contains("duplicate key `a` (first at line 1)"),
            "{}",
            e.message
        );
        let e = parse("r: {x: 1, x: 2}\n").unwrap_err();
        assert!(e.duplicate_key);
    }

    #[test]
    fn syntax_errors_have_a_location() {
        let e = parse("a: [1\n").unwrap_err();
        assert!(!e.duplicate_key);
        assert!(e.loc.is_some());
        assert!(!e.message.is_empty());
    }

    #[test]
    fn refuses_aliases_documents_and_complex_keys() {
        assert!(
            parse("a: &x 1\nb: *x\n")
                .unwrap_err()
                .message
                .contains("aliases")
        );
        assert!(
            parse("a: 1\n---\nb: 2\n")
                .unwrap_err()
                .message
                .contains("one YAML document")
        );
        assert!(parse("? [a]\n: 1\n").unwrap_err().message.contains("keys"));
        assert!(
            parse("a: .inf\n")
                .unwrap_err()
                .message
                .contains("non-finite")
        );
    }

    #[test]
    fn core_schema_scalars() {
        let kinds: Vec<Kind> = [
            "~",
            "null",
            "true",
            "False",
            "yes",
            "n",
            "on",
            "12",
            "-3",
            "0x1F",
            "0o17",
            "1.5",
            "-.5",
            "1e3",
            "1.",
            "010",
            "1_000",
            "12abc",
            "99999999999999999999",
        ]
        .iter()
        .map(|s| resolve_plain(s).unwrap())
        .collect();
        assert_eq!(
            kinds,
            vec![
                Kind::Null,
                Kind::Null,
                Kind::Bool(true, Spelling::Core),
                Kind::Bool(false, Spelling::Core),
                Kind::Bool(true, Spelling::Yaml11("yes")),
                Kind::Str("n".into()),
                Kind::Bool(true, Spelling::Yaml11("on")),
                Kind::Int(12),
                Kind::Int(-3),
                Kind::Int(31),
                Kind::Int(15),
                Kind::Float(1.5),
                Kind::Float(-0.5),
                Kind::Float(1000.0),
                Kind::Float(1.0),
                Kind::Int(10),
                Kind::Str("1_000".into()),
                Kind::Str("12abc".into()),
                Kind::Inexact("99999999999999999999".into()),
            ]
        );
        let quoted = parse("a: '12'\nb: !!str 13\nc: \"true\"\n").unwrap();
        let Kind::Map(entries) = quoted.kind else {
            panic!("map")
        };
        assert!(
            entries.iter().all(|e| matches!(e.value.kind, Kind::Str(_))),
            "{entries:?}"
        );
    }

    #[test]
    fn numbers_that_would_be_rounded_are_kept_as_written() {
        let kind = |s: &str| resolve_plain(s).unwrap();
        assert_eq!(kind("9223372036854775807"), Kind::Int(i64::MAX));
        assert_eq!(kind("-9223372036854775808"), Kind::Int(i64::MIN));
        assert_eq!(kind("9007199254740993"), Kind::Int(9_007_199_254_740_993));
        for s in [
            "9223372036854775808",
            "-9223372036854775809",
            "0x8000000000000000",
            "9007199254740993.0",
            "0.30000000000000000001",
            "1e-400",
            "3.9999999999999999",
        ] {
            assert_eq!(kind(s), Kind::Inexact(s.to_owned()), "{s}");
        }
        for (s, f) in [
            ("0.1", 0.1),
            ("2.50", 2.5),
            ("1e20", 1e20),
            ("-0.0", -0.0),
            ("9007199254740992.0", 9_007_199_254_740_992.0),
            ("0.30000000000000004", 0.1 + 0.2),
            ("1E3", 1000.0),
            ("+.5", 0.5),
        ] {
            assert_eq!(kind(s), Kind::Float(f), "{s}");
        }
    }
}
