//! Tables for people. Scripts use `--json`, which prints the API's answer unchanged.

use std::collections::HashMap;
use std::io::Write;

use anyhow::Context;
use serde_json::Value;
use serde_json::value::RawValue;

/// The columns of each listing: header and field.
fn columns(kind: &str) -> Option<&'static [(&'static str, &'static str)]> {
    Some(match kind {
        "accounts" => &[
            ("NAME", "name"),
            ("EMAIL", "email"),
            ("CA", "ca"),
            ("VENDOR", "vendor"),
            ("STATUS", "status"),
            ("DIRECTORY", "directory_url"),
            ("CREATED", "created_at"),
            ("ID", "id"),
        ],
        "csrs" => &[
            ("ID", "id"),
            ("NAMES", "names"),
            ("KEY", "key_type"),
            ("CREATED", "created_at"),
        ],
        "orders" => &[
            ("ID", "id"),
            ("STATUS", "status"),
            ("NAMES", "names"),
            ("CHALLENGE", "challenge"),
            ("DNS", "dns"),
            ("ERROR", "error"),
        ],
        "challenges" => &[
            ("NAME", "record_name"),
            ("PROVIDER", "provider"),
            ("TTL", "ttl"),
            ("VALUE", "value"),
            ("STATUS", "status"),
            ("ORDER", "order_id"),
            ("ERROR", "error"),
        ],
        "certs" => &[
            ("NAME", "name"),
            ("NAMES", "names"),
            ("ISSUER", "issuer"),
            ("NOT AFTER", "not_after"),
            ("STATUS", "status"),
            ("NEXT RENEWAL", "next_renewal"),
            ("REVOKED", "revoked_at"),
            ("ID", "id"),
            ("RENEWAL ERROR", "renewal_error"),
            ("DEPLOY ERROR", "deploy_error"),
        ],
        "plugins" => &[
            ("NAME", "name"),
            ("KIND", "kind"),
            ("VERSION", "version"),
            ("CONTRACT", "contract_version"),
            ("SHA256", "sha256"),
            ("LOADED", "loaded_at"),
        ],
        _ => return None,
    })
}

/// Print a listing (a JSON array of objects) from the daemon's bytes: with `json`, the answer
/// itself, indented; otherwise the table of its columns, reading only their fields. Neither
/// builds a `Value` tree of the whole answer: for 10,000 certificates (4 MB) that tree was
/// most of `cert list`'s time.
pub(super) fn print_listing(kind: &str, body: &[u8], json: bool) -> anyhow::Result<()> {
    let columns = columns(kind).expect("every listing kind has columns");
    let not_a_list = "the daemon's answer is not a JSON list of objects";
    let mut out = std::io::stdout().lock();
    if json {
        // N.B. checked first, so `indent` walks well-formed JSON.
        serde_json::from_slice::<Vec<serde::de::IgnoredAny>>(body).context(not_a_list)?;
        let mut text = indent(body);
        text.push(b'\n');
        return Ok(out.write_all(&text)?);
    }
    let rows: Vec<HashMap<&str, &RawValue>> = serde_json::from_slice(body).context(not_a_list)?;
    let cells = rows
        .iter()
        .map(|row| {
            let cell = |key: &str| row.get(key).map_or_else(|| "-".to_owned(), |v| raw_cell(v));
            columns.iter().map(|(_, key)| cell(key)).collect()
        })
        .collect();
    Ok(out.write_all(render(columns, cells).as_bytes())?)
}

/// Compact JSON laid out as `serde_json::to_string_pretty` lays it out (two-space indent,
/// `": "` after keys, empty arrays and objects on one line), keeping the daemon's key order.
/// `json` must be well-formed.
fn indent(json: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len() + json.len() / 2);
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    let newline = |out: &mut Vec<u8>, depth: usize| {
        out.push(b'\n');
        out.resize(out.len() + 2 * depth, b' ');
    };
    let mut bytes = json.iter().copied().peekable();
    while let Some(b) = bytes.next() {
        if in_string {
            out.push(b);
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => {
                in_string = true;
                out.push(b);
            }
            b'{' | b'[' => {
                out.push(b);
                if matches!(bytes.peek(), Some(b'}' | b']')) {
                    out.push(bytes.next().expect("peeked"));
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(b);
            }
            b',' => {
                out.push(b);
                newline(&mut out, depth);
            }
            b':' => out.extend_from_slice(b": "),
            b' ' | b'\n' | b'\t' | b'\r' => {}
            _ => out.push(b),
        }
    }
    out
}

/// A table cell from one field as sent: strings without escapes are used as they are, the
/// rest go through [`cell`].
fn raw_cell(raw: &RawValue) -> String {
    let text = raw.get();
    match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        Some(plain) if !plain.contains('\\') => plain.to_owned(),
        _ => cell(&serde_json::from_str(text).unwrap_or(Value::Null)),
    }
}

/// Print an API answer of the given kind as a table or a short block.
pub(super) fn print(kind: &str, value: &Value) {
    if let Some(columns) = columns(kind) {
        return table(value, columns);
    }
    match kind {
        "exported" => {
            if let Some(path) = value["wrote"].as_str() {
                eprintln!("wrote {path}");
            }
        }
        "provider-test" => println!(
            "{}: connection test passed",
            value["provider"].as_str().unwrap_or_default()
        ),
        "order" => order(value),
        "cert" => {
            fields(
                value,
                &[
                    "name",
                    "id",
                    "names",
                    "issuer",
                    "serial",
                    "not_before",
                    "not_after",
                    "revoked_at",
                    "revocation_reason",
                    "order_id",
                ],
            );
            print!("{}", value["chain_pem"].as_str().unwrap_or_default());
        }
        "chain" => print!("{}", value["chain_pem"].as_str().unwrap_or_default()),
        "csr" => {
            fields(value, &["id", "names", "key_type", "has_key", "created_at"]);
            print!("{}", value["pem"].as_str().unwrap_or_default());
        }
        "account" => fields(
            value,
            &[
                "name",
                "id",
                "email",
                "ca",
                "vendor",
                "status",
                "directory_url",
                "account_url",
                "eab_kid",
                "created_at",
            ],
        ),
        _ => println!("deleted {}", cell(&value["id"])),
    }
}

fn order(value: &Value) {
    fields(
        value,
        &[
            "id",
            "status",
            "names",
            "challenge",
            "dns",
            "profile",
            "auto_finalize",
            "certificate_id",
            "error",
            "url",
        ],
    );
    let challenges = value["challenges"].as_array().cloned().unwrap_or_default();
    if challenges
        .iter()
        .any(|c| c["provider"] == "manual" && c["status"] == "not-ready")
    {
        println!("\nCreate these TXT records; certkeeper checks the zone's authoritative servers:");
        for c in challenges.iter().filter(|c| c["provider"] == "manual") {
            println!(
                "  {}  {}  TXT  \"{}\"",
                cell(&c["record_name"]),
                cell(&c["ttl"]),
                cell(&c["value"])
            );
        }
    }
    println!();
    table(
        &value["challenges"],
        &[
            ("IDENTIFIER", "identifier"),
            ("NAME", "record_name"),
            ("PROVIDER", "provider"),
            ("TTL", "ttl"),
            ("VALUE", "value"),
            ("STATUS", "status"),
            ("ERROR", "error"),
        ],
    );
}

fn fields(value: &Value, keys: &[&str]) {
    for key in keys {
        if !value[key].is_null() {
            println!("{key:<15} {}", cell(&value[key]));
        }
    }
}

fn table(value: &Value, columns: &[(&str, &str)]) {
    let rows: Vec<Vec<String>> = value
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| columns.iter().map(|(_, k)| cell(&item[*k])).collect())
                .collect()
        })
        .unwrap_or_default();
    print!("{}", render(columns, rows));
}

/// The table's text: a header and one line per row, columns padded to their widest cell.
fn render(columns: &[(&str, &str)], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = columns.iter().map(|(h, _)| h.len()).collect();
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    // One write for the whole table: stdout flushes at every newline, which for 10,000 rows
    // cost more than building them.
    let mut out = String::with_capacity(rows.len() * (widths.iter().sum::<usize>() + 20));
    let mut line = |cells: &[String]| {
        let start = out.len();
        for (c, w) in cells.iter().zip(&widths) {
            out.push_str(c);
            let pad = w.saturating_sub(c.chars().count()) + 2;
            out.extend(std::iter::repeat_n(' ', pad));
        }
        let kept = out[start..].trim_end().len();
        out.truncate(start + kept);
        out.push('\n');
    };
    line(
        &columns
            .iter()
            .map(|(h, _)| (*h).to_owned())
            .collect::<Vec<_>>(),
    );
    rows.iter().for_each(|row| line(row));
    out
}

fn cell(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize)]
    struct Row {
        name: &'static str,
        names: Vec<&'static str>,
        empty: Vec<u8>,
        nested: serde_json::Map<String, Value>,
        none: Option<u8>,
        n: f64,
    }

    #[test]
    fn indent_lays_out_compact_json_as_to_string_pretty_does() {
        let tricky = r#"a "quoted" {brace}, [bracket]: colon \ backslash \" é ✓"#;
        let mut nested = serde_json::Map::new();
        nested.insert("k".into(), Value::String(tricky.into()));
        nested.insert("empty".into(), serde_json::json!({}));
        let rows = vec![
            Row {
                name: tricky,
                names: vec!["a.example", "b.example"],
                empty: vec![],
                nested,
                none: None,
                n: -1.5e-3,
            },
            Row {
                name: "",
                names: vec![],
                empty: vec![],
                nested: serde_json::Map::new(),
                none: Some(7),
                n: 0.0,
            },
        ];
        let compact = serde_json::to_vec(&rows).unwrap();
        let pretty = serde_json::to_string_pretty(&rows).unwrap();
        assert_eq!(String::from_utf8(indent(&compact)).unwrap(), pretty);
        assert_eq!(indent(b"[]"), b"[]");
    }

    #[test]
    fn a_raw_cell_reads_plain_and_escaped_strings_arrays_and_null() {
        let raw = |text: &str| RawValue::from_string(text.to_owned()).unwrap();
        assert_eq!(raw_cell(&raw(r#""plain""#)), "plain");
        assert_eq!(raw_cell(&raw(r#""say \"hi\"""#)), r#"say "hi""#);
        assert_eq!(raw_cell(&raw(r#"["a","b"]"#)), "a,b");
        assert_eq!(raw_cell(&raw("null")), "-");
        assert_eq!(raw_cell(&raw("300")), "300");
    }

    #[test]
    fn a_table_pads_each_column_to_its_widest_cell_and_trims_line_ends() {
        let columns = [("NAME", "name"), ("STATUS", "status"), ("ERROR", "error")];
        let rows = vec![
            vec!["a.example".to_owned(), "ok".to_owned(), "-".to_owned()],
            vec!["é".to_owned(), "failing".to_owned(), "boom".to_owned()],
        ];
        assert_eq!(
            render(&columns, rows),
            "NAME       STATUS   ERROR\n\
             a.example  ok       -\n\
             é          failing  boom\n"
        );
    }
}
