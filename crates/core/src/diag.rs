//! Diagnostics: every problem validation finds, with a stable code, a location, the
//! rule it concerns and a fix hint; and the report that keeps errors and warnings apart.
//!
//! Rendering produces strings only (the engine does no I/O): human output with source
//! snippets through miette, and `api`'s validation report for machines.

use crate::loc::Loc;
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};
use policygate_api::{CheckedFile, Finding, FindingSeverity, RelatedLocation};
use serde_json::Value;
use std::fmt;
use std::sync::Arc;

macro_rules! codes {
    ($($variant:ident => $stage:literal, $name:literal, $doc:literal;)*) => {
        /// Stable diagnostic codes. The string form (`policygate::<stage>::<name>`) never changes meaning.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[non_exhaustive]
        pub enum Code {
            $(#[doc = $doc] $variant,)*
        }

        impl Code {
            /// Every code, for documentation and tests.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The stable string form, e.g. `policygate::validate::unknown_fact`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => concat!("policygate::", $stage, "::", $name),)*
                }
            }

            /// What the code means, in one line.
            pub fn describe(self) -> &'static str {
                match self {
                    $(Code::$variant => $doc,)*
                }
            }
        }
    };
}

codes! {
    NotUtf8 => "parse", "not_utf8", "the policy file is not UTF-8 text";
    YamlSyntax => "parse", "yaml_syntax", "the file is not well-formed YAML";
    DuplicateKey => "parse", "duplicate_key", "a mapping repeats a key";
    UnknownKey => "parse", "unknown_key", "a key that the policy language does not define";
    MissingKey => "parse", "missing_key", "a required key is missing";
    WrongType => "parse", "wrong_type", "a value has the wrong YAML type";
    OutOfRange => "parse", "out_of_range", "a number or length is outside its allowed range";
    InvalidValue => "parse", "invalid_value", "a value is not one of the allowed values or does not match its pattern";
    InexactNumber => "parse", "inexact_number", "a number cannot be held exactly (an integer beyond the 64-bit range, or a decimal with more digits than a double keeps) and would be read as another number";
    DuplicateRuleId => "validate", "duplicate_rule_id", "two rules share a rule_id";
    UnknownFact => "validate", "unknown_fact", "a condition tests a fact path that requests do not have";
    UndeclaredSignal => "validate", "undeclared_signal", "a rule tests a signal that the facts section does not declare";
    ReservedName => "validate", "reserved_name", "a signal is named like an operator or combinator and cannot be tested";
    UnknownOperator => "validate", "unknown_operator", "a matcher uses an operator the language does not have";
    MixedMatcher => "validate", "mixed_matcher", "a mapping mixes operator keys and field keys";
    InvalidLiteral => "validate", "invalid_literal", "a literal is outside the fact's domain";
    TypeMismatch => "validate", "type_mismatch", "a literal has the wrong type for the fact";
    OperatorNotApplicable => "validate", "operator_not_applicable", "an operator does not apply to the fact's type";
    SignalTypeConflict => "validate", "signal_type_conflict", "an undeclared signal is compared with literals of different types";
    InvalidRegex => "validate", "invalid_regex", "a `matches` pattern does not compile";
    RegexTooLarge => "validate", "regex_too_large", "a `matches` pattern exceeds the size limit";
    DeadRule => "validate", "dead_rule", "a rule's condition can never hold";
    RuleTooComplex => "validate", "rule_too_complex", "a rule's condition expands beyond the analysis bound";
    ObligationNotAllowed => "validate", "obligation_not_allowed", "obligations on a decision other than DEGRADE";
    ObligationMissing => "validate", "obligation_missing", "a DEGRADE decision without obligations";
    UnknownObligation => "validate", "unknown_obligation", "an obligation type the product does not define";
    InvalidObligationParams => "validate", "invalid_obligation_params", "obligation parameters are missing or out of range";
    EqualPriorityOverlap => "validate", "equal_priority_overlap", "two rules with the same priority can both match one request";
    MayOverlap => "validate", "may_overlap", "two equal-priority rules may both match; string patterns keep the analysis from deciding";
    ShadowedRule => "validate", "shadowed_rule", "a rule can hold only when a higher-priority rule holds, so it never decides";
    RationaleCodeStyle => "validate", "rationale_code_style", "a rationale code is not UPPER_SNAKE_CASE";
    DuplicateCaseName => "test", "duplicate_case_name", "two cases of a test file share a name";
    InvalidTestRequest => "test", "invalid_request", "a test case's request (with `defaults` merged in) is not one the policy would accept";
    UnknownRule => "test", "unknown_rule", "a test case expects a rule the policy does not have";
    MappingUnknownFact => "mapping", "unknown_fact", "a gateway mapping sets a fact path that requests do not have, or one only the PDP sets";
    MappingUndeclaredSignal => "mapping", "undeclared_signal", "a gateway mapping sets a signal the policy does not declare under `facts:`, so its type is unknown";
    MappingInvalidLiteral => "mapping", "invalid_literal", "a constant or default of a gateway mapping is outside the fact's domain or of the wrong type";
    MappingInvalidSource => "mapping", "invalid_source", "a value spec of a gateway mapping names no source, several sources, or options that do not apply to its source or fact";
    MappingInvalidPath => "mapping", "invalid_path_pattern", "a route's path pattern is not a valid pattern";
    MappingUnknownCapture => "mapping", "unknown_capture", "a value is read from a path capture that the route's pattern does not define";
    MappingMissingFact => "mapping", "missing_fact", "a fact every request needs (or a signal the policy requires) is not mapped for some route";
    MappingPolicyMismatch => "mapping", "policy_mismatch", "the mapping names another policy than the one it is checked against";
    MappingUnreachableRoute => "mapping", "unreachable_route", "a route comes after one that matches every request it matches, so it never applies";
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The policy is refused.
    Error,
    /// Reported; refused only under `--strict`.
    Warning,
}

impl Severity {
    fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    code: Code,
    severity: Severity,
    message: String,
    help: Option<String>,
    loc: Option<Loc>,
    label: Option<String>,
    rule_id: Option<String>,
    related: Vec<(Loc, String)>,
    witness: Option<Value>,
}

impl Diagnostic {
    pub(crate) fn error(code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            severity: Severity::Error,
            message: message.into(),
            help: None,
            loc: None,
            label: None,
            rule_id: None,
            related: Vec::new(),
            witness: None,
        }
    }

    pub(crate) fn warning(code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    pub(crate) fn at(mut self, loc: Loc) -> Diagnostic {
        self.loc = Some(loc);
        self
    }

    pub(crate) fn label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = Some(label.into());
        self
    }

    pub(crate) fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub(crate) fn rule(mut self, rule_id: Option<&str>) -> Diagnostic {
        self.rule_id = rule_id.map(str::to_owned);
        self
    }

    pub(crate) fn related(mut self, loc: Loc, label: impl Into<String>) -> Diagnostic {
        self.related.push((loc, label.into()));
        self
    }

    pub(crate) fn witness(mut self, witness: Value) -> Diagnostic {
        self.witness = Some(witness);
        self
    }

    /// The stable code.
    pub fn code(&self) -> Code {
        self.code
    }
    /// Error or warning.
    pub fn severity(&self) -> Severity {
        self.severity
    }
    /// One-line message.
    pub fn message(&self) -> &str {
        &self.message
    }
    /// How to fix it.
    pub fn help_text(&self) -> Option<&str> {
        self.help.as_deref()
    }
    /// Where.
    pub fn loc(&self) -> Option<Loc> {
        self.loc
    }
    /// The rule concerned, if any.
    pub fn rule_id(&self) -> Option<&str> {
        self.rule_id.as_deref()
    }
    /// For overlaps: a request both rules match.
    pub fn witness_request(&self) -> Option<&Value> {
        self.witness.as_ref()
    }
}

/// Everything validation found in one file; errors and warnings apart.
#[derive(Debug, Clone)]
pub struct Report {
    source: Arc<NamedSource<String>>,
    name: String,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
}

impl Report {
    pub(crate) fn new(
        name: &str,
        text: String,
        mut diags: Vec<Diagnostic>,
        strict: bool,
    ) -> Report {
        diags.sort_by(|a, b| {
            (a.loc.map(|l| (l.line(), l.column())), a.code, &a.message).cmp(&(
                b.loc.map(|l| (l.line(), l.column())),
                b.code,
                &b.message,
            ))
        });
        diags.dedup();
        let (mut errors, mut warnings): (Vec<_>, Vec<_>) = diags
            .into_iter()
            .partition(|d| d.severity == Severity::Error);
        if strict {
            for mut w in warnings.drain(..) {
                w.severity = Severity::Error;
                w.help = Some(match w.help {
                    Some(h) => format!("{h} (reported as an error because of --strict)"),
                    None => "reported as an error because of --strict".to_owned(),
                });
                errors.push(w);
            }
            errors.sort_by_key(|d| d.loc.map(|l| (l.line(), l.column())));
        }
        Report {
            source: Arc::new(NamedSource::new(name, text)),
            name: name.to_owned(),
            errors,
            warnings,
        }
    }

    /// The file name the report is about.
    pub fn file(&self) -> &str {
        &self.name
    }
    /// Errors: the policy is refused when there is any.
    pub fn errors(&self) -> &[Diagnostic] {
        &self.errors
    }
    /// Warnings.
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.warnings
    }
    /// True when there is at least one error.
    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// Human rendering: each finding with a source snippet, then a summary line.
    pub fn render_human(&self, color: bool) -> String {
        let theme = if color {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::unicode_nocolor()
        };
        let handler = GraphicalReportHandler::new_themed(theme).with_width(100);
        let mut out = String::new();
        for d in self.errors.iter().chain(&self.warnings) {
            let (line, column) = d.loc.map_or((0, 0), |l| (l.line(), l.column()));
            let rule = d
                .rule_id
                .as_deref()
                .map(|r| format!(" (rule `{r}`)"))
                .unwrap_or_default();
            out.push_str(&format!(
                "{}:{line}:{column}: {}[{}]: {}{rule}\n",
                self.name,
                d.severity.as_str(),
                d.code,
                d.message
            ));
            let view = View {
                d,
                source: &self.source,
            };
            if handler.render_report(&mut out, &view).is_err() {
                out.push_str("  (could not render the source snippet)\n");
            }
            out.push('\n');
        }
        out.push_str(&self.summary());
        out.push('\n');
        out
    }

    /// One line: valid, or how many errors and warnings.
    pub fn summary(&self) -> String {
        let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
        if self.errors.is_empty() {
            format!(
                "{}: valid ({})",
                self.name,
                plural(self.warnings.len(), "warning")
            )
        } else {
            format!(
                "{}: invalid ({}, {})",
                self.name,
                plural(self.errors.len(), "error"),
                plural(self.warnings.len(), "warning")
            )
        }
    }

    /// Machine rendering: this file's entry of `api`'s validation report (the CLI
    /// adds the policy identity and rule count when the policy loaded).
    pub fn to_file_report(&self) -> CheckedFile {
        let one = |d: &Diagnostic| Finding {
            code: d.code.as_str().to_owned(),
            column: d.loc.map(|l| l.column()),
            file: self.name.clone(),
            help: d.help.clone(),
            line: d.loc.map(|l| l.line()),
            message: d.message.clone(),
            related: d
                .related
                .iter()
                .map(|(l, m)| RelatedLocation {
                    column: l.column(),
                    line: l.line(),
                    message: m.clone(),
                })
                .collect(),
            rule_id: d.rule_id.clone(),
            severity: match d.severity {
                Severity::Error => FindingSeverity::Error,
                Severity::Warning => FindingSeverity::Warning,
            },
            witness: d.witness.clone(),
        };
        CheckedFile {
            errors: self.errors.iter().map(one).collect(),
            file: self.name.clone(),
            policy: None,
            rule_count: None,
            valid: self.errors.is_empty(),
            warnings: self.warnings.iter().map(one).collect(),
        }
    }

    /// [`Report::to_file_report`] as a JSON value.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self.to_file_report()).unwrap_or(Value::Null)
    }
}

/// A diagnostic paired with its source, as miette wants it.
struct View<'a> {
    d: &'a Diagnostic,
    source: &'a NamedSource<String>,
}

impl fmt::Debug for View<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.d.message)
    }
}

impl fmt::Display for View<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.d.message)
    }
}

impl std::error::Error for View<'_> {}

// The code is not handed to miette: the header line above each snippet carries it.
impl miette::Diagnostic for View<'_> {
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.d.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }
    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.d
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.d.loc.map(|_| self.source as &dyn miette::SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let loc = self.d.loc?;
        let span = |l: Loc| SourceSpan::new(l.offset().into(), l.span_len());
        let main = LabeledSpan::new_primary_with_span(
            Some(self.d.label.clone().unwrap_or_else(|| "here".to_owned())),
            span(loc),
        );
        let related = self
            .d
            .related
            .iter()
            .map(move |(l, m)| LabeledSpan::new_with_span(Some(m.clone()), span(*l)));
        Some(Box::new(std::iter::once(main).chain(related)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_namespaced() {
        let mut seen = std::collections::BTreeSet::new();
        for c in Code::ALL {
            assert!(c.as_str().starts_with("policygate::"));
            assert!(seen.insert(c.as_str()), "duplicate {c}");
        }
    }

    #[test]
    fn strict_promotes_warnings() {
        let d = Diagnostic::warning(Code::ShadowedRule, "x").at(Loc::new(1, 1, 0, 1));
        let r = Report::new("p.yaml", "a: 1\n".into(), vec![d.clone()], false);
        assert!(!r.has_errors());
        assert_eq!(r.warnings().len(), 1);
        let r = Report::new("p.yaml", "a: 1\n".into(), vec![d], true);
        assert!(r.has_errors());
        assert!(
            r.render_human(false)
                .contains("p.yaml:1:1: error[policygate::validate::shadowed_rule]: x")
        );
    }
}
