//! Pattern mode: credential formats as regexes, loaded from TOML (the
//! built-in set in `builtin_rules.toml`, plus `--rules FILE`).
//!
//! Every rule file is bounded (size, rule count, regex size) because a rule
//! file may come from a repository the user does not control.

use regex::bytes::{Regex, RegexBuilder};
use serde::Deserialize;

const BUILTIN: &str = include_str!("builtin_rules.toml");
/// A rule file larger than this is refused.
pub const MAX_RULE_FILE_BYTES: usize = 256 * 1024;
/// At most this many rules in all.
pub const MAX_RULES: usize = 200;
/// Compiled size of one regex (regex crate's own limit, in bytes).
const MAX_REGEX_BYTES: usize = 1024 * 1024;
const MAX_REGEX_SOURCE: usize = 1000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    rule: Vec<RuleSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    id: String,
    #[serde(default)]
    description: String,
    regex: String,
    #[serde(default)]
    secret_group: usize,
    min_entropy: Option<f64>,
    allow: Option<String>,
}

pub struct Rule {
    pub id: String,
    pub description: String,
    regex: Regex,
    secret_group: usize,
    min_entropy: Option<f64>,
    /// A secret this matches is a known example or placeholder, not reported.
    allow: Option<Regex>,
}

#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("rule file is larger than {MAX_RULE_FILE_BYTES} bytes")]
    TooLarge,
    #[error("rule file is not valid TOML: {0}")]
    Toml(String),
    #[error("more than {MAX_RULES} rules")]
    TooMany,
    #[error("rule {0}: {1}")]
    Bad(String, String),
}

pub struct RuleSet {
    pub rules: Vec<Rule>,
}

/// A match: byte range of the whole secret within the blob.
pub struct RuleMatch<'r> {
    pub rule: &'r Rule,
    pub start: usize,
    pub end: usize,
}

impl RuleSet {
    pub fn builtin() -> RuleSet {
        // The built-in file is part of the binary and covered by tests.
        RuleSet {
            rules: parse(BUILTIN).unwrap_or_default(),
        }
    }

    /// Adds the rules of a user file; a rule with an existing id replaces it.
    pub fn extend_from(&mut self, text: &str) -> Result<(), RuleError> {
        if text.len() > MAX_RULE_FILE_BYTES {
            return Err(RuleError::TooLarge);
        }
        for rule in parse(text)? {
            self.rules.retain(|r| r.id != rule.id);
            self.rules.push(rule);
        }
        if self.rules.len() > MAX_RULES {
            return Err(RuleError::TooMany);
        }
        Ok(())
    }

    pub fn find<'r>(&'r self, data: &[u8]) -> Vec<RuleMatch<'r>> {
        let mut out = Vec::new();
        for rule in &self.rules {
            for caps in rule.regex.captures_iter(data) {
                let Some(m) = caps.get(rule.secret_group).or_else(|| caps.get(0)) else {
                    continue;
                };
                if let Some(min) = rule.min_entropy {
                    if shannon_entropy(m.as_bytes()) < min {
                        continue;
                    }
                }
                if rule
                    .allow
                    .as_ref()
                    .is_some_and(|a| a.is_match(m.as_bytes()))
                {
                    continue;
                }
                out.push(RuleMatch {
                    rule,
                    start: m.start(),
                    end: m.end(),
                });
            }
        }
        out
    }
}

fn parse(text: &str) -> Result<Vec<Rule>, RuleError> {
    let file: RuleFile = toml::from_str(text).map_err(|e| {
        // toml's message can quote the offending line; keep its first line only.
        RuleError::Toml(e.message().lines().next().unwrap_or("").to_owned())
    })?;
    if file.rule.len() > MAX_RULES {
        return Err(RuleError::TooMany);
    }
    file.rule
        .into_iter()
        .map(|spec| {
            let bad = |why: String| RuleError::Bad(spec.id.clone(), why);
            if spec.id.is_empty() || spec.id.len() > 100 {
                return Err(bad("id must be 1 to 100 characters".into()));
            }
            let compile = |field: &str, source: &str| {
                if source.len() > MAX_REGEX_SOURCE {
                    return Err(bad(format!("{field} is longer than {MAX_REGEX_SOURCE}")));
                }
                RegexBuilder::new(source)
                    .size_limit(MAX_REGEX_BYTES)
                    .dfa_size_limit(MAX_REGEX_BYTES)
                    .build()
                    .map_err(|e| bad(format!("invalid {field} ({})", last_line(&e.to_string()))))
            };
            let regex = compile("regex", &spec.regex)?;
            let allow = spec
                .allow
                .as_deref()
                .map(|a| compile("allow", a))
                .transpose()?;
            if spec.secret_group >= regex.captures_len() {
                return Err(bad("secret_group is not a group of the regex".into()));
            }
            Ok(Rule {
                id: spec.id,
                description: spec.description,
                regex,
                secret_group: spec.secret_group,
                min_entropy: spec.min_entropy,
                allow,
            })
        })
        .collect()
}

fn last_line(s: &str) -> String {
    s.lines().last().unwrap_or("").trim().to_owned()
}

/// Shannon entropy in bits per byte.
pub fn shannon_entropy(data: &[u8]) -> f64 {
    if data.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in data {
        counts[b as usize] += 1;
    }
    let n = data.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(set: &RuleSet, text: &str) -> Vec<String> {
        set.find(text.as_bytes())
            .iter()
            .map(|m| m.rule.id.clone())
            .collect()
    }

    #[test]
    fn builtin_rules_all_compile() {
        let parsed = parse(BUILTIN).map(|r| r.len()).map_err(|e| e.to_string());
        assert_eq!(parsed, Ok(10));
    }

    #[test]
    fn builtin_rules_find_their_formats() {
        let set = RuleSet::builtin();
        let gh = format!("ghp_{}", "a1B2".repeat(9));
        assert_eq!(ids(&set, &format!("token = {gh}")), vec!["github-token"]);
        assert_eq!(ids(&set, "AKIAABCDEFGHIJKLMNOP"), vec!["aws-access-key-id"]);
        assert_eq!(
            ids(&set, "-----BEGIN RSA PRIVATE KEY-----"),
            vec!["private-key"]
        );
        assert_eq!(
            ids(&set, "postgres://app:s3cr3tPw@db:5432/x"),
            vec!["connection-string-password"]
        );
        assert!(ids(&set, "postgres://app@db/x and AKIA123").is_empty());
        assert_eq!(
            ids(&set, "redis://:s3cr3tPw@cache:6379/0"),
            vec!["connection-string-password"]
        );
        let slack = "xoxb-7345981258244-4749988325423-9oGfAr2Dv1qsuw2jekIZtv90";
        assert_eq!(ids(&set, slack), vec!["slack-token"]);
        assert_eq!(
            ids(
                &set,
                "aws_secret_access_key = VoeUKo4CtYZIE7PNuJhLmFprjuOxE4WmrHjTuxtR"
            ),
            vec!["aws-secret-access-key"]
        );
    }

    /// Documentation examples and placeholders have the formats' shape but
    /// are not secrets (each was a false positive in the peer benchmark).
    #[test]
    fn examples_and_placeholders_are_not_reported() {
        let set = RuleSet::builtin();
        for text in [
            "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "DATABASE_URL=postgres://user:password@localhost:5432/mydb",
            "mysql://root:changeme@db/app",
            "SLACK_TOKEN=xoxb-your-token-here",
            "export GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "api_key = \"YOUR_API_KEY_PLACEHOLDER_abcdefgh\"",
            "password = os.environ[\"DB_PASSWORD\"]",
            "token: ${GITHUB_TOKEN}",
        ] {
            assert!(ids(&set, text).is_empty(), "{text}: {:?}", ids(&set, text));
        }
    }

    #[test]
    fn allow_is_a_checked_regex() {
        let mut set = RuleSet::builtin();
        set.extend_from(
            "[[rule]]\nid = \"acme\"\nregex = 'acme_[0-9a-z]{8}'\nallow = '^acme_0+$'\n",
        )
        .unwrap();
        assert_eq!(ids(&set, "acme_12345678"), vec!["acme"]);
        assert!(ids(&set, "acme_00000000").is_empty());
        let bad = set.extend_from("[[rule]]\nid = \"b\"\nregex = 'b'\nallow = '('\n");
        assert!(
            matches!(&bad, Err(RuleError::Bad(id, why)) if id == "b" && why.starts_with("invalid allow")),
            "{:?}",
            bad.err()
        );
    }

    #[test]
    fn entropy_only_where_asked() {
        let set = RuleSet::builtin();
        assert!(ids(&set, "password = aaaaaaaaaaaaaaaaaaaaaaaa").is_empty());
        assert_eq!(
            ids(&set, "api_key = 9fK2xQ7mZ4pL8vR1tY6wB3nC"),
            vec!["generic-secret-assignment"]
        );
    }

    #[test]
    fn user_rules_extend_and_are_bounded() {
        let mut set = RuleSet::builtin();
        set.extend_from("[[rule]]\nid = \"acme\"\nregex = 'acme_[0-9]{8}'\n")
            .unwrap();
        assert_eq!(ids(&set, "x acme_12345678"), vec!["acme"]);
        assert!(set
            .extend_from("[[rule]]\nid = \"bad\"\nregex = '('\n")
            .is_err());
        assert!(set
            .extend_from("[[rule]]\nid = \"g\"\nregex = 'a'\nsecret_group = 3\n")
            .is_err());
        assert!(matches!(
            set.extend_from(&"#".repeat(MAX_RULE_FILE_BYTES + 1)),
            Err(RuleError::TooLarge)
        ));
    }
}
