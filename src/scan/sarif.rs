//! SARIF 2.1.0 for code-scanning services (GitHub code scanning and the
//! like): one run, one rule per rule id seen, one result per finding.

use super::report::label;
use super::rules::RuleSet;
use super::Finding;
use serde_json::{json, Value};
use std::collections::BTreeSet;

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

pub fn sarif(findings: &[Finding], rules: Option<&RuleSet>) -> Value {
    let ids: BTreeSet<&str> = findings.iter().map(|f| f.rule.as_str()).collect();
    let describe = |id: &str| -> String {
        rules
            .and_then(|r| r.rules.iter().find(|r| r.id == id))
            .map(|r| r.description.clone())
            .unwrap_or_else(|| match id {
                super::detect::KNOWN_RULE => "A value stored in hush".to_owned(),
                "env-file-tracked" => "A .env file tracked by git".to_owned(),
                "env-file-not-ignored" => "A .env file not covered by .gitignore".to_owned(),
                other => other.to_owned(),
            })
    };
    let rules_json: Vec<Value> = ids
        .iter()
        .map(|id| json!({ "id": id, "shortDescription": { "text": describe(id) } }))
        .collect();
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            let mut message = format!("{} found", label(f));
            if let Some(c) = &f.commit {
                message.push_str(&format!(" in commit {c}"));
            }
            json!({
                "ruleId": f.rule,
                "level": "error",
                "message": { "text": message },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": f.path },
                        "region": { "startLine": f.line, "startColumn": f.column }
                    }
                }]
            })
        })
        .collect();
    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "hush scan",
                "informationUri": "https://github.com/hush/hush",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules_json
            }},
            "results": results
        }]
    })
}
