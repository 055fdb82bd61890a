//! Configuration errors that point at the file, line and key.

use std::ops::Range;
use std::path::{Path, PathBuf};

/// A configuration file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        /// The config file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML, or a value has the wrong type or an unknown key.
    #[error("{}:{line}:{column}: {message}{}", path.display(), key_suffix(key))]
    Invalid {
        /// The config file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The key at that place, when one can be named.
        key: Option<String>,
        /// What is wrong.
        message: String,
    },
}

/// A semantic error found after parsing, with the span of the offending value.
#[derive(Debug)]
pub(crate) struct Misplaced {
    pub(crate) span: Range<usize>,
    pub(crate) message: String,
}

impl Misplaced {
    pub(crate) fn new(span: Range<usize>, message: impl Into<String>) -> Self {
        Self {
            span,
            message: message.into(),
        }
    }

    pub(crate) fn locate(self, path: &Path, text: &str) -> ConfigError {
        invalid_at(path, text, self.span.start, self.message)
    }
}

impl ConfigError {
    pub(crate) fn from_toml(path: &Path, text: &str, error: &toml::de::Error) -> Self {
        let offset = error.span().map_or(0, |span| span.start);
        invalid_at(path, text, offset, error.message().trim().to_owned())
    }
}

fn invalid_at(path: &Path, text: &str, offset: usize, message: String) -> ConfigError {
    let (line, column) = line_column(text, offset);
    let key = key_on_line(text, line);
    ConfigError::Invalid {
        path: path.to_owned(),
        line,
        column,
        key,
        message,
    }
}

fn key_suffix(key: &Option<String>) -> String {
    key.as_ref()
        .map(|k| format!(" (key `{k}`)"))
        .unwrap_or_default()
}

/// 1-based line and column of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |nl| before.len() - nl - 1)
        + 1;
    (line, column)
}

/// The key assigned on a line such as `names = [...]`, or the table a header names.
fn key_on_line(text: &str, line: usize) -> Option<String> {
    let content = text.lines().nth(line - 1)?.trim();
    if let Some(header) = content.strip_prefix('[') {
        // N.B. up to the first `]`: a comment may follow the header.
        let name = header.trim_start_matches('[').split(']').next()?;
        return Some(name.trim().to_owned());
    }
    let (key, _) = content.split_once('=')?;
    Some(key.trim().to_owned()).filter(|k| !k.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_lines_and_columns_from_one() {
        assert_eq!(line_column("a\nbc\n", 3), (2, 2));
        assert_eq!(line_column("abc", 0), (1, 1));
    }

    #[test]
    fn a_header_with_a_comment_names_only_the_table() {
        let text = "[propagation]  # PowerDNS [answers] here\n[[dns_provider]] # x\n";
        assert_eq!(key_on_line(text, 1).as_deref(), Some("propagation"));
        assert_eq!(key_on_line(text, 2).as_deref(), Some("dns_provider"));
    }

    #[test]
    fn names_the_key_on_an_assignment_line() {
        assert_eq!(
            key_on_line("x = 1\n  port = \"a\"\n", 2).as_deref(),
            Some("port")
        );
        assert_eq!(
            key_on_line("[[certificate]]\n", 1).as_deref(),
            Some("certificate")
        );
    }
}
