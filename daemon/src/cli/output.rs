//! Tables for people. Scripts use `--json`, which prints the API's answer unchanged.

use serde_json::Value;

/// Print an API answer of the given kind as a table or a short block.
pub(super) fn print(kind: &str, value: &Value) {
    match kind {
        "accounts" => table(
            value,
            &[
                ("NAME", "name"),
                ("EMAIL", "email"),
                ("CA", "ca"),
                ("VENDOR", "vendor"),
                ("STATUS", "status"),
                ("DIRECTORY", "directory_url"),
                ("CREATED", "created_at"),
                ("ID", "id"),
            ],
        ),
        "csrs" => table(
            value,
            &[
                ("ID", "id"),
                ("NAMES", "names"),
                ("KEY", "key_type"),
                ("CREATED", "created_at"),
            ],
        ),
        "orders" => table(
            value,
            &[
                ("ID", "id"),
                ("STATUS", "status"),
                ("NAMES", "names"),
                ("CHALLENGE", "challenge"),
                ("DNS", "dns"),
                ("ERROR", "error"),
            ],
        ),
        "challenges" => table(
            value,
            &[
                ("NAME", "record_name"),
                ("PROVIDER", "provider"),
                ("TTL", "ttl"),
                ("VALUE", "value"),
                ("STATUS", "status"),
                ("ORDER", "order_id"),
                ("ERROR", "error"),
            ],
        ),
        "certs" => table(
            value,
            &[
                ("NAME", "name"),
                ("NAMES", "names"),
                ("ISSUER", "issuer"),
                ("NOT AFTER", "not_after"),
                ("STATUS", "status"),
                ("NEXT RENEWAL", "next_renewal"),
                ("REVOKED", "revoked_at"),
                ("ID", "id"),
                ("RENEWAL ERROR", "renewal_error"),
            ],
        ),
        "exported" => {
            if let Some(path) = value["wrote"].as_str() {
                eprintln!("wrote {path}");
            }
        }
        "plugins" => plugins(value),
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

fn plugins(value: &Value) {
    table(
        value,
        &[
            ("NAME", "name"),
            ("KIND", "kind"),
            ("VERSION", "version"),
            ("CONTRACT", "contract_version"),
            ("SHA256", "sha256"),
            ("LOADED", "loaded_at"),
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
    let mut widths: Vec<usize> = columns.iter().map(|(h, _)| h.len()).collect();
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    // One write for the whole table: stdout flushes at every newline, which for 10,000 rows
    // cost more than building them.
    let mut out = String::new();
    let mut line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(padded.join("  ").trim_end());
        out.push('\n');
    };
    line(columns.iter().map(|(h, _)| (*h).to_owned()).collect());
    rows.into_iter().for_each(line);
    print!("{out}");
}

fn cell(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}
