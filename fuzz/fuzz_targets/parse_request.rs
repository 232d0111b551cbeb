//! The request parser's two paths agree (`EvaluateRequest::parse` = the one-pass fast
//! path, else the unique-key `Value` read and the walk), on arbitrary bytes and on
//! libFuzzer's mutations of the valid bodies in the seed corpus:
//! - whatever the fast path accepts, the slow path accepts as the same request;
//! - `parse` answers exactly as the slow path alone (same acceptance, same request, the
//!   same refusal with the same audit facts);
//! - a body holding a key twice in any object is refused as `invalid_json`, and so is
//!   every accepted body once a key of it is repeated;
//! - an accepted request, written back as JSON, parses to the same request.
#![no_main]

use libfuzzer_sys::fuzz_target;
use policygate_api::{EvaluateRequest, RequestError};
use policygate_fuzz::has_duplicate_key;

fuzz_target!(|body: &[u8]| {
    let fast = EvaluateRequest::from_json_fast(body);
    let slow = EvaluateRequest::parse_slow_path(body);
    if let Some(fast) = &fast {
        assert_eq!(
            slow.as_ref().ok(),
            Some(fast),
            "the fast path accepted what the slow path does not"
        );
    }
    assert_eq!(EvaluateRequest::parse(body), slow);
    if has_duplicate_key(body) == Some(true) {
        assert_refused_as_duplicate(body);
    }
    let Ok(request) = slow else { return };

    let written = serde_json::to_string(&request).unwrap_or_default();
    assert_eq!(
        EvaluateRequest::parse(written.as_bytes()).ok(),
        Some(request.clone()),
        "{written}"
    );
    // The same body with one of its keys repeated (first at the top level, then in
    // `signals`) is refused on both paths.
    for (object, key) in [("", "action"), ("", "resource"), ("\"signals\":", "")] {
        let Some(duplicated) = repeat_key(&written, object, key) else {
            continue;
        };
        assert_refused_as_duplicate(duplicated.as_bytes());
    }
});

/// `written` with a member repeated: `key` of the top-level object (`object` empty),
/// or the first member of the object after `object` (`key` empty).
fn repeat_key(written: &str, object: &str, key: &str) -> Option<String> {
    let open = if object.is_empty() {
        0
    } else {
        written.find(object)? + object.len()
    };
    if written.get(open..=open)? != "{" {
        return None;
    }
    let member = if key.is_empty() {
        let rest = &written[open + 1..];
        let end = rest.find("\":")?;
        if end == 0 {
            return None;
        }
        format!("{}:null,", &rest[..=end])
    } else {
        format!("\"{key}\":null,")
    };
    let mut out = written.to_owned();
    out.insert_str(open + 1, &member);
    Some(out)
}

fn assert_refused_as_duplicate(body: &[u8]) {
    assert!(
        EvaluateRequest::from_json_fast(body).is_none(),
        "fast path took a duplicate key"
    );
    match EvaluateRequest::parse(body) {
        Err(rejection) => match &rejection.error {
            RequestError::Malformed(message) if message.contains("duplicate key") => {}
            other => panic!("a duplicate key was refused for another reason: {other:?}"),
        },
        Ok(request) => panic!("a duplicate key was accepted: {request:?}"),
    }
}
