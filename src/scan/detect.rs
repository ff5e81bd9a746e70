//! One blob in, findings out: runs the detectors, drops matches on lines
//! that say `hush:allow`, and builds excerpts with every match redacted.

use super::known::KnownValues;
use super::rules::RuleSet;
use super::{Blob, Finding, SecretRef};

/// The inline marker that silences findings on its line.
pub const ALLOW_MARKER: &[u8] = b"hush:allow";
/// Excerpts are cut to this many characters.
const EXCERPT_CHARS: usize = 120;
pub const KNOWN_RULE: &str = "known-secret";

pub struct Detectors {
    pub known: Option<KnownValues>,
    pub rules: Option<RuleSet>,
}

struct Hit {
    start: usize,
    end: usize,
    rule: String,
    secret: Option<SecretRef>,
}

pub fn scan_blob(det: &Detectors, blob: &Blob) -> Vec<Finding> {
    let data = &blob.data;
    let mut hits: Vec<Hit> = Vec::new();
    if let Some(known) = &det.known {
        hits.extend(known.find(data).into_iter().map(|m| Hit {
            start: m.start,
            end: m.end,
            rule: KNOWN_RULE.to_owned(),
            secret: Some(m.secret.clone()),
        }));
    }
    if let Some(rules) = &det.rules {
        // One finding per span: a known value already names its key, and of
        // two rules matching the same bytes the earlier in the rule file
        // wins (the built-in generic rule comes last).
        let mut taken = Taken::default();
        for h in &hits {
            taken.insert(h.start, h.end);
        }
        for m in rules.find(data) {
            if !taken.insert(m.start, m.end) {
                continue;
            }
            hits.push(Hit {
                start: m.start,
                end: m.end,
                rule: m.rule.id.clone(),
                secret: None,
            });
        }
    }
    if hits.is_empty() {
        return Vec::new();
    }
    let lines = LineIndex::new(data);
    hits.retain(|h| {
        !lines
            .line_bytes(data, h.start)
            .windows(ALLOW_MARKER.len())
            .any(|w| w == ALLOW_MARKER)
    });
    let spans: Vec<(usize, usize)> = hits.iter().map(|h| (h.start, h.end)).collect();
    let mut findings: Vec<Finding> = hits
        .into_iter()
        .map(|h| {
            let (line, column) = lines.position(data, h.start);
            Finding {
                path: blob.path.clone(),
                commit: None,
                line,
                column,
                rule: h.rule,
                secret: h.secret,
                excerpt: excerpt(data, &lines, h.start, &spans),
            }
        })
        .collect();
    findings.sort();
    findings.dedup();
    findings
}

/// Byte ranges already reported, as disjoint intervals (start -> end), so
/// that a file with many matches costs a lookup per match, not a pass over
/// every earlier one.
#[derive(Default)]
struct Taken {
    spans: std::collections::BTreeMap<usize, usize>,
}

impl Taken {
    /// Records `start..end`, merged with what it overlaps; false if it
    /// overlapped something already there.
    fn insert(&mut self, mut start: usize, mut end: usize) -> bool {
        let mut fresh = true;
        // Disjoint intervals sorted by start are sorted by end too: only
        // those starting before `end` and ending after `start` overlap.
        while let Some((&s, &e)) = self.spans.range(..end).next_back() {
            if e <= start {
                break;
            }
            fresh = false;
            self.spans.remove(&s);
            start = start.min(s);
            end = end.max(e);
        }
        self.spans.insert(start, end);
        fresh
    }
}

struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(data: &[u8]) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(memchr::memchr_iter(b'\n', data).map(|p| p + 1));
        LineIndex { starts }
    }

    fn line_of(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s <= offset) - 1
    }

    /// 1-based line and column (column in characters of the line).
    fn position(&self, data: &[u8], offset: usize) -> (usize, usize) {
        let n = self.line_of(offset);
        let start = self.starts[n];
        let col = String::from_utf8_lossy(&data[start..offset.min(data.len())])
            .chars()
            .count();
        (n + 1, col + 1)
    }

    fn bounds(&self, data: &[u8], offset: usize) -> (usize, usize) {
        let n = self.line_of(offset);
        let end = self
            .starts
            .get(n + 1)
            .map_or(data.len(), |&s| s.saturating_sub(1));
        (self.starts[n], end)
    }

    fn line_bytes<'d>(&self, data: &'d [u8], offset: usize) -> &'d [u8] {
        let (s, e) = self.bounds(data, offset);
        &data[s..e]
    }
}

/// The line of `at` with every span that touches it replaced by `***`,
/// control characters dropped, cut around the finding.
fn excerpt(data: &[u8], lines: &LineIndex, at: usize, spans: &[(usize, usize)]) -> String {
    let (ls, le) = lines.bounds(data, at);
    let mut out: Vec<u8> = Vec::new();
    let mut i = ls;
    let mut at_out = 0;
    while i < le {
        if let Some(&(_, end)) = spans
            .iter()
            .filter(|&&(s, e)| s <= i && i < e)
            .max_by_key(|s| s.1)
        {
            if i == at {
                at_out = out.len();
            }
            out.extend_from_slice(b"***");
            i = end;
            continue;
        }
        out.push(data[i]);
        i += 1;
    }
    let text: String = String::from_utf8_lossy(&out)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= EXCERPT_CHARS {
        return text.trim().to_owned();
    }
    let center = String::from_utf8_lossy(&out[..at_out.min(out.len())])
        .chars()
        .count();
    let from = center.saturating_sub(EXCERPT_CHARS / 2);
    let to = (from + EXCERPT_CHARS).min(chars.len());
    let from = to.saturating_sub(EXCERPT_CHARS);
    let mut s: String = chars[from..to].iter().collect();
    if from > 0 {
        s.insert(0, '…');
    }
    if to < chars.len() {
        s.push('…');
    }
    s.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::rules::RuleSet;

    fn blob(text: &str) -> Blob {
        Blob {
            path: "f.txt".into(),
            object: None,
            data: text.as_bytes().to_vec(),
        }
    }

    #[test]
    fn positions_excerpts_and_allow_comments() {
        let det = Detectors {
            known: None,
            rules: Some(RuleSet::builtin()),
        };
        let key = "AKIAABCDEFGHIJKLMNOP";
        let text = format!("first\n  aws = \"{key}\" # prod\nok = \"{key}\" # hush:allow\n");
        let found = scan_blob(&det, &blob(&text));
        assert_eq!(found.len(), 1);
        let f = &found[0];
        assert_eq!((f.line, f.column), (2, 10));
        assert_eq!(f.rule, "aws-access-key-id");
        assert_eq!(f.excerpt, "aws = \"***\" # prod");
        assert!(!f.excerpt.contains(key));
    }

    #[test]
    fn taken_spans_merge() {
        let mut t = Taken::default();
        assert!(t.insert(10, 20));
        assert!(t.insert(20, 25), "touching is not overlapping");
        assert!(t.insert(0, 5));
        assert!(!t.insert(4, 11));
        assert!(!t.insert(24, 30));
        assert!(t.insert(30, 31));
        let spans: Vec<(usize, usize)> = t.spans.into_iter().collect();
        assert_eq!(spans, vec![(0, 20), (20, 30), (30, 31)]);
    }

    #[test]
    fn one_finding_per_span() {
        let det = Detectors {
            known: None,
            rules: Some(RuleSet::builtin()),
        };
        // Both github-token and generic-secret-assignment match the token.
        let text = "GITHUB_TOKEN = \"ghp_BOjEri1ZjU3JXQJREqzjWllnDjdECjwUGU83\"\n";
        let found = scan_blob(&det, &blob(text));
        let rules: Vec<&str> = found.iter().map(|f| f.rule.as_str()).collect();
        assert_eq!(rules, vec!["github-token"]);
    }
}
