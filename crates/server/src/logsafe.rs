//! Caller-supplied text in operational logs, made safe to print.
//!
//! A `request_id` is chosen by the caller; printed raw by the text log format, a CR/LF
//! or an escape sequence in it would forge log lines or repaint a terminal. Every
//! caller-supplied value a log line carries goes through [`Escaped`].

use std::fmt;

/// Displays a string with control characters (and `\`) escaped, e.g. a newline as
/// `\n` and ESC as `\u{1b}`; everything else as it is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Escaped<'a>(pub(crate) &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            if c.is_control() || c == '\\' {
                write!(f, "{}", c.escape_default())?;
            } else {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_cannot_forge_a_line() {
        let forged = "req-1\r\n2026-12-01T00:00:00Z  INFO fake line \u{1b}[2J\\";
        let shown = Escaped(forged).to_string();
        assert!(!shown.chars().any(char::is_control), "{shown}");
        assert_eq!(
            shown,
            "req-1\\r\\n2026-12-01T00:00:00Z  INFO fake line \\u{1b}[2J\\\\"
        );
        assert_eq!(Escaped("plain-id_1.é").to_string(), "plain-id_1.é");
    }
}
