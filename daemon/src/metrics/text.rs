//! The Prometheus text exposition format (version 0.0.4): `# TYPE` once per family, then one
//! `name{label="value"} number` line per sample.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One sample line, as the tests read it back.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Metric name (with `_bucket`, `_sum` or `_count` for histogram parts).
    pub name: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Value.
    pub value: f64,
}

/// A page being written: families keep the order they first appear in.
#[derive(Debug, Default)]
pub struct Exposition {
    families: Vec<(String, String, String)>,
}

impl Exposition {
    /// Add one sample of a counter or gauge family.
    pub fn sample(&mut self, family: &str, kind: &str, labels: &[(&str, &str)], value: f64) {
        let line = line(family, labels, value);
        self.push(family, kind, line);
    }

    /// Add one line of histogram `family` (`suffix` is `_bucket`, `_sum` or `_count`).
    pub fn histogram_part(&mut self, family: &str, suffix: &str, labels: &[(&str, &str)], v: f64) {
        let line = line(&format!("{family}{suffix}"), labels, v);
        self.push(family, "histogram", line);
    }

    /// Declare a family with no samples yet, so scrapers see it exists.
    pub fn declare(&mut self, family: &str, kind: &str) {
        self.push(family, kind, String::new());
    }

    fn push(&mut self, family: &str, kind: &str, line: String) {
        match self.families.iter_mut().find(|(f, _, _)| f == family) {
            Some((_, _, body)) => body.push_str(&line),
            None => self.families.push((family.into(), kind.into(), line)),
        }
    }

    /// The page.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (family, kind, body) in &self.families {
            let _ = writeln!(out, "# TYPE {family} {kind}");
            out.push_str(body);
        }
        out
    }
}

fn line(name: &str, labels: &[(&str, &str)], value: f64) -> String {
    let mut out = name.to_owned();
    if !labels.is_empty() {
        let parts: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
            .collect();
        let _ = write!(out, "{{{}}}", parts.join(","));
    }
    let _ = writeln!(out, " {value}");
    out
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Read a page back into samples; `None` for a line that is not the format.
pub fn parse(page: &str) -> Option<Vec<Sample>> {
    page.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(parse_line)
        .collect()
}

fn parse_line(line: &str) -> Option<Sample> {
    let (head, value) = line.rsplit_once(' ')?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        v => v.parse().ok()?,
    };
    let (name, labels) = match head.split_once('{') {
        Some((name, rest)) => (name, parse_labels(rest.strip_suffix('}')?)?),
        None => (head, BTreeMap::new()),
    };
    Some(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

fn parse_labels(mut rest: &str) -> Option<BTreeMap<String, String>> {
    let mut labels = BTreeMap::new();
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next()? {
                (i, '"') => break i,
                (_, '\\') => value.push(match chars.next()?.1 {
                    'n' => '\n',
                    c => c,
                }),
                (_, c) => value.push(c),
            }
        };
        labels.insert(key.trim_start_matches(',').to_owned(), value);
        rest = after[end + 1..].trim_start_matches(',');
    }
    Some(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rendered_page_parses_back_with_escaped_labels_intact() {
        let mut page = Exposition::default();
        page.sample("a_total", "counter", &[("x", "q\"uo\\te"), ("y", "2")], 3.0);
        page.sample("a_total", "counter", &[], 1.5);
        page.declare("empty", "gauge");
        let text = page.render();
        assert_eq!(text.matches("# TYPE a_total counter").count(), 1);
        let samples = parse(&text).expect("parses");
        assert_eq!(samples.len(), 2);
        assert_eq!(samples[0].labels["x"], "q\"uo\\te");
        assert_eq!(samples[0].value, 3.0);
        assert_eq!(samples[1].value, 1.5);
    }

    #[test]
    fn a_line_without_a_value_is_not_the_format() {
        assert!(parse("metric_without_value\n").is_none());
    }
}
