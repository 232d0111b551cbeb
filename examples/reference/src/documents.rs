//! CHANGE: the business side of the example — a document store and a stand-in model.
//!
//! Replace both with your own: your storage (where a document's sensitivity comes from)
//! and your inference call (which must accept a `max_tokens` limit so that an
//! `OUTPUT_CAP` can be honoured). Nothing here knows about policy.

use policygate_pep::api::Sensitivity;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A document and what the business knows about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Document {
    /// Its id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// How sensitive it is (a fact the policy decides on).
    pub sensitivity: Sensitivity,
    /// Whether it holds personal data (another fact, sent as the `pii_detected` signal).
    pub contains_pii: bool,
    /// Its text.
    pub text: String,
}

impl Document {
    /// How many words (the stand-in model's tokens) the document has.
    pub fn word_count(&self) -> usize {
        self.text.split_whitespace().count()
    }
}

/// A read-only, in-memory document store.
#[derive(Debug, Clone)]
pub struct DocumentStore {
    documents: Arc<BTreeMap<String, Document>>,
}

impl DocumentStore {
    /// A store holding `documents`.
    pub fn new(documents: impl IntoIterator<Item = Document>) -> DocumentStore {
        DocumentStore {
            documents: Arc::new(documents.into_iter().map(|d| (d.id.clone(), d)).collect()),
        }
    }

    /// The example's documents: one per sensitivity, and a restricted one with personal
    /// data.
    pub fn sample() -> DocumentStore {
        let doc = |id: &str, title: &str, sensitivity, contains_pii, text: &str| Document {
            id: id.into(),
            title: title.into(),
            sensitivity,
            contains_pii,
            text: text.into(),
        };
        DocumentStore::new([
            doc(
                "handbook",
                "Employee handbook",
                Sensitivity::Public,
                false,
                "Welcome to the company. This handbook explains how we work together: our \
                 office hours, how to request leave, how expenses are reimbursed, which tools \
                 we use for chat and documents, how to report a security concern, and where \
                 to find help when something is unclear. Read it once, then keep it close.",
            ),
            doc(
                "roadmap",
                "Product roadmap 2027",
                Sensitivity::Internal,
                false,
                "Next year the platform team ships three things: a faster search index, \
                 single sign-on for every internal tool, and a self-service data export. \
                 Search comes first because support tickets about slow queries doubled. \
                 Sign-on follows in the second quarter. The export ships last, after the \
                 privacy review of the new storage layout is complete.",
            ),
            doc(
                "incident-42",
                "Incident 42 post-mortem",
                Sensitivity::Restricted,
                false,
                "On the night of the outage a configuration change disabled the rate \
                 limiter of the public gateway. Traffic from a misbehaving client then \
                 exhausted the connection pool of the billing service. Recovery took two \
                 hours because the rollback procedure had not been rehearsed since the \
                 migration.",
            ),
            doc(
                "payroll",
                "Payroll export March",
                Sensitivity::Restricted,
                true,
                "Employee 1041, Jane Doe, account DE89 3704 0044 0532 0130 00, gross salary \
                 6200. Employee 1042, John Roe, account DE12 5001 0517 0648 4898 90, gross \
                 salary 5800.",
            ),
        ])
    }

    /// The document with this id.
    pub fn get(&self, id: &str) -> Option<&Document> {
        self.documents.get(id)
    }

    /// Every document, by id.
    pub fn all(&self) -> impl Iterator<Item = &Document> {
        self.documents.values()
    }
}

/// The stand-in model: a deterministic "summary" made of the first `max_tokens` words.
///
/// Replace it with your model call. What matters for enforcement is only that it honours
/// `max_tokens`, the parameter an `OUTPUT_CAP` lowers.
pub fn summarise(text: &str, max_tokens: u32) -> String {
    let n = usize::try_from(max_tokens).unwrap_or(usize::MAX);
    text.split_whitespace()
        .take(n)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_honours_max_tokens() {
        assert_eq!(summarise("a  b c\nd", 3), "a b c");
        assert_eq!(summarise("a b", 10), "a b");
        assert_eq!(summarise("a b", 0), "");
    }

    #[test]
    fn the_sample_store_has_every_sensitivity() {
        let store = DocumentStore::sample();
        for s in Sensitivity::ALL {
            assert!(store.all().any(|d| d.sensitivity == s), "{s}");
        }
        assert!(store.get("payroll").is_some_and(|d| d.contains_pii));
        assert!(store.all().all(|d| d.word_count() > 20));
    }
}
