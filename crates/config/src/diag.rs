//! Diagnostics: one problem in a config file, with where it is and how to fix it.
//!
//! Rendered like a compiler error so that a person can jump to the line:
//!
//! ```text
//! error: unknown key `adress`
//!   --> gateway.yaml:3:3
//!    |
//!  3 |   adress: 127.0.0.1:8080
//!    |   ^
//!    = at: listener.adress
//!    = help: did you mean `address`?
//! ```

use std::fmt::Write as _;

use crate::yaml::Loc;

/// One problem found in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file name as given by the user.
    pub file: String,
    /// Where in the file; line 0 when the problem is about the whole file.
    pub loc: Loc,
    /// The key path, e.g. `resources./pets.GET.integration.uri`; empty for the document.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
}

impl Diagnostic {
    /// Renders the diagnostic with the offending source line from `source`.
    pub fn render(&self, source: &str) -> String {
        self.render_as("error", source)
    }

    /// Renders a warning (a problem that does not stop the config from loading).
    pub fn render_warning(&self, source: &str) -> String {
        self.render_as("warning", source)
    }

    fn render_as(&self, label: &str, source: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{label}: {}", self.message);
        if self.loc.line == 0 {
            let _ = writeln!(out, "  --> {}", self.file);
        } else {
            let _ = writeln!(
                out,
                "  --> {}:{}:{}",
                self.file, self.loc.line, self.loc.column
            );
            let line_text = usize::try_from(self.loc.line)
                .ok()
                .and_then(|n| yaml_lines(source).nth(n.saturating_sub(1)));
            if let Some(text) = line_text {
                let number = self.loc.line.to_string();
                let pad = " ".repeat(number.len());
                let col = usize::try_from(self.loc.column.max(1)).unwrap_or(1);
                let caret_pad: String = text
                    .chars()
                    .take(col.saturating_sub(1))
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                let _ = writeln!(out, " {pad} |");
                let _ = writeln!(out, " {number} | {text}");
                let _ = writeln!(out, " {pad} | {caret_pad}^");
            }
        }
        if !self.path.is_empty() {
            let _ = writeln!(out, "   = at: {}", self.path);
        }
        if let Some(help) = &self.help {
            let _ = writeln!(out, "   = help: {help}");
        }
        out
    }

    /// A one-line form: `file:line:column: path: message (help: ...)`.
    pub fn one_line(&self) -> String {
        let mut out = format!("{}:{}:{}: ", self.file, self.loc.line, self.loc.column);
        if !self.path.is_empty() {
            let _ = write!(out, "{}: ", self.path);
        }
        out.push_str(&self.message);
        if let Some(help) = &self.help {
            let _ = write!(out, " (help: {help})");
        }
        out
    }
}

/// All the problems of one file, with its text for rendering.
#[derive(Debug, Clone)]
pub struct Diagnostics {
    /// The file's text (empty if it could not be read).
    pub source: String,
    /// The problems, in document order.
    pub items: Vec<Diagnostic>,
    /// Other files (policy files) that problems point into: name and text.
    pub other_sources: Vec<(String, String)>,
}

impl Diagnostics {
    /// One problem about a file as a whole (it cannot be read, a reload task failed, ...).
    pub fn whole_file(file: &str, message: impl Into<String>, help: Option<String>) -> Self {
        Self {
            source: String::new(),
            items: vec![Diagnostic {
                file: file.to_owned(),
                loc: Loc::default(),
                path: String::new(),
                message: message.into(),
                help,
            }],
            other_sources: Vec::new(),
        }
    }

    /// Renders every problem, followed by a count line.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for d in &self.items {
            let source = self
                .other_sources
                .iter()
                .find(|(f, _)| *f == d.file)
                .map_or(self.source.as_str(), |(_, t)| t.as_str());
            out.push_str(&d.render(source));
            out.push('\n');
        }
        let n = self.items.len();
        let _ = writeln!(out, "{n} problem{} found", if n == 1 { "" } else { "s" });
        out
    }
}

impl std::fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render())
    }
}

impl std::error::Error for Diagnostics {}

/// The lines of `source` as YAML counts them (and so the parser's line numbers): a line
/// ends at `\r\n`, `\n` or a lone `\r`.
pub fn yaml_lines(source: &str) -> impl Iterator<Item = &str> {
    let mut rest = (!source.is_empty()).then_some(source);
    std::iter::from_fn(move || {
        let text = rest?;
        match text.find(['\r', '\n']) {
            Some(i) => {
                let line = text.get(..i)?;
                let skip = if text.get(i..i + 2) == Some("\r\n") {
                    2
                } else {
                    1
                };
                rest = text.get(i + skip..).filter(|r| !r.is_empty());
                Some(line)
            }
            None => {
                rest = None;
                Some(text)
            }
        }
    })
}

/// A `help:` text for an unknown `word`: "did you mean `{prefix}{closest}`?" when a candidate
/// is close enough to be a typo, `otherwise` (usually the list of valid values) when not.
pub fn did_you_mean(
    word: &str,
    candidates: &[&str],
    prefix: &str,
    otherwise: impl FnOnce() -> String,
) -> String {
    match suggest(word, candidates.iter().copied()) {
        Some(s) => format!("did you mean `{prefix}{s}`?"),
        None => otherwise(),
    }
}

/// The closest candidate to `word` by edit distance, if it is close enough to be a typo.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (edit_distance(&lower, &c.to_ascii_lowercase()), c))
        .filter(|(d, c)| *d <= (c.len() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        if let Some(first) = cur.first_mut() {
            *first = i + 1;
        }
        for (j, cb) in b.iter().enumerate() {
            let sub = prev.get(j).copied().unwrap_or(0) + usize::from(ca != *cb);
            let del = prev.get(j + 1).copied().unwrap_or(0) + 1;
            let ins = cur.get(j).copied().unwrap_or(0) + 1;
            if let Some(slot) = cur.get_mut(j + 1) {
                *slot = sub.min(del).min(ins);
            }
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lone_carriage_returns_end_lines_as_in_yaml() {
        // Found by the config fuzz target: YAML counts a lone CR as a line break, so the
        // parser's line numbers must pick the line to quote the same way.
        let source = "listen: 1\rroutes: [\rnext: x\r\nlast: y\n";
        let lines: Vec<&str> = yaml_lines(source).collect();
        assert_eq!(lines, ["listen: 1", "routes: [", "next: x", "last: y"]);
        let d = Diagnostic {
            file: "f.yaml".into(),
            loc: Loc { line: 2, column: 9 },
            path: String::new(),
            message: "bad".into(),
            help: None,
        };
        assert!(
            d.render(source).contains(" 2 | routes: ["),
            "{}",
            d.render(source)
        );
    }

    #[test]
    fn suggests_close_keys_only() {
        assert_eq!(suggest("adress", ["address", "tls"]), Some("address"));
        assert_eq!(suggest("zzz", ["address", "tls"]), None);
        assert_eq!(suggest("Timeout", ["timeout"]), Some("timeout"));
    }
}
