//! The in-memory board of live challenge answers.
//!
//! The HTTP-01 listener and the built-in DNS server answer from this board, never from the store
//! directly: a lookup must be cheap and must not wait on a disk transaction. The order engine
//! keeps the board in step with the store — it posts an answer before asking the CA to validate
//! and takes it down after cleanup — and rebuilds it from the store on start.

use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;

/// Live HTTP-01 key authorizations and DNS-01 TXT values, shared by the listeners.
#[derive(Debug, Default)]
pub struct Board {
    http: RwLock<HashMap<String, String>>,
    txt: RwLock<BTreeMap<String, Vec<String>>>,
}

impl Board {
    /// An empty board.
    pub fn new() -> Self {
        Self::default()
    }

    /// Serve `key_authorization` at `/.well-known/acme-challenge/<token>`.
    pub fn add_http(&self, token: &str, key_authorization: &str) {
        let mut http = self
            .http
            .write()
            .expect("board lock poisoned only by a panic");
        http.insert(token.to_owned(), key_authorization.to_owned());
    }

    /// Stop serving `token`.
    pub fn remove_http(&self, token: &str) {
        let mut http = self
            .http
            .write()
            .expect("board lock poisoned only by a panic");
        http.remove(token);
    }

    /// The key authorization for `token`, if one is posted.
    pub fn http(&self, token: &str) -> Option<String> {
        let http = self
            .http
            .read()
            .expect("board lock poisoned only by a panic");
        http.get(token).cloned()
    }

    /// Add one TXT `value` at `name`; values already there stay (wildcard and apex share a name).
    pub fn add_txt(&self, name: &str, value: &str) {
        let mut txt = self
            .txt
            .write()
            .expect("board lock poisoned only by a panic");
        let values = txt.entry(canonical_name(name)).or_default();
        if !values.iter().any(|v| v == value) {
            values.push(value.to_owned());
        }
    }

    /// Remove exactly this TXT `value` at `name`; other values at the same name stay.
    pub fn remove_txt(&self, name: &str, value: &str) {
        let mut txt = self
            .txt
            .write()
            .expect("board lock poisoned only by a panic");
        let key = canonical_name(name);
        if let Some(values) = txt.get_mut(&key) {
            values.retain(|v| v != value);
            if values.is_empty() {
                txt.remove(&key);
            }
        }
    }

    /// The TXT values posted at `name` (any case, with or without the trailing dot).
    pub fn txt(&self, name: &str) -> Vec<String> {
        let txt = self
            .txt
            .read()
            .expect("board lock poisoned only by a panic");
        txt.get(&canonical_name(name)).cloned().unwrap_or_default()
    }

    /// Whether `name` owns TXT values or is an ancestor of a name that does (an empty
    /// non-terminal), which decides NODATA versus NXDOMAIN.
    pub fn name_exists(&self, name: &str) -> bool {
        let key = canonical_name(name);
        let suffix = format!(".{key}");
        let txt = self
            .txt
            .read()
            .expect("board lock poisoned only by a panic");
        txt.keys()
            .any(|owner| *owner == key || owner.ends_with(&suffix))
    }
}

/// Lowercase with exactly one trailing dot: the form every DNS name takes inside certkeeper.
pub fn canonical_name(name: &str) -> String {
    let trimmed = name.trim_end_matches('.');
    format!("{}.", trimmed.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_both_values_on_one_name_and_removes_only_one() {
        let board = Board::new();
        board.add_txt("_acme-challenge.Example.test", "apex");
        board.add_txt("_acme-challenge.example.test.", "wildcard");
        board.remove_txt("_ACME-challenge.example.test", "apex");
        assert_eq!(board.txt("_acme-challenge.example.test."), vec!["wildcard"]);
    }

    #[test]
    fn ancestors_of_owned_names_exist_and_siblings_do_not() {
        let board = Board::new();
        board.add_txt("_acme-challenge.a.example.test", "v");
        assert!(board.name_exists("a.example.test"));
        assert!(!board.name_exists("b.example.test"));
        assert!(!board.name_exists("xa.example.test"));
    }

    #[test]
    fn http_tokens_come_and_go() {
        let board = Board::new();
        board.add_http("tok", "tok.thumb");
        assert_eq!(board.http("tok").as_deref(), Some("tok.thumb"));
        board.remove_http("tok");
        assert_eq!(board.http("tok"), None);
    }
}
