//! Kubernetes auth: who a service-account token belongs to, asked of the
//! cluster (TokenReview) or read from a token verified against the cluster
//! issuer's keys, then checked against the allowed namespaces, names and
//! audience.

use super::config::KubernetesConfig;
use super::fetch;
use super::jwt::Check;
use serde_json::{json, Map, Value};

/// The service account a token proved.
#[derive(Debug, PartialEq, Eq)]
pub struct ServiceAccount {
    pub namespace: String,
    pub name: String,
}

/// `system:serviceaccount:NAMESPACE:NAME`.
pub fn parse_username(username: &str) -> Option<ServiceAccount> {
    let rest = username.strip_prefix("system:serviceaccount:")?;
    let (namespace, name) = rest.split_once(':')?;
    if namespace.is_empty() || name.is_empty() || name.contains(':') {
        return None;
    }
    Some(ServiceAccount {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
    })
}

/// Asks the cluster's TokenReview API about `jwt`, authenticating with the
/// reviewer token (or, without one, with `jwt` itself: its service account
/// then needs the `system:auth-delegator` role). Err: the check that
/// failed and why (never a token).
pub async fn token_review(
    config: &KubernetesConfig,
    reviewer: Option<&str>,
    jwt: &str,
) -> Result<ServiceAccount, (Check, String)> {
    let unavailable = |e: String| (Check::Unavailable, e);
    let url = format!(
        "{}/apis/authentication.k8s.io/v1/tokenreviews",
        config.kubernetes_host.trim_end_matches('/')
    );
    let ca = Some(config.ca_cert.as_str()).filter(|c| !c.trim().is_empty());
    let client = fetch::client(&url, ca).map_err(unavailable)?;
    let mut spec = json!({ "token": jwt });
    if !config.allowed_audience.is_empty() {
        spec["audiences"] = json!([config.allowed_audience]);
    }
    let body = json!({
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenReview",
        "spec": spec,
    });
    let answer = fetch::send(
        client
            .post(&url)
            .bearer_auth(reviewer.unwrap_or(jwt))
            .json(&body),
    )
    .await
    .map_err(unavailable)?;
    if !(200..300).contains(&answer.status) {
        return Err(unavailable(format!(
            "the Kubernetes TokenReview API answered HTTP {}",
            answer.status
        )));
    }
    let review: Value = serde_json::from_slice(&answer.body)
        .map_err(|_| unavailable("the TokenReview answer is not JSON".into()))?;
    let status = &review["status"];
    if status["authenticated"].as_bool() != Some(true) {
        return Err((
            Check::TokenReview,
            "the cluster did not authenticate this service-account token".into(),
        ));
    }
    if !config.allowed_audience.is_empty() {
        let ok = status["audiences"].as_array().is_some_and(|l| {
            l.iter()
                .any(|a| a.as_str() == Some(&config.allowed_audience))
        });
        if !ok {
            return Err((
                Check::Audience,
                "the token was not minted for the allowed audience".into(),
            ));
        }
    }
    let username = status["user"]["username"].as_str().unwrap_or_default();
    parse_username(username).ok_or((
        Check::ServiceAccount,
        "the token does not belong to a service account".into(),
    ))
}

/// The service account of a token verified offline: its `sub`.
pub fn from_claims(claims: &Map<String, Value>) -> Option<ServiceAccount> {
    parse_username(claims.get("sub")?.as_str()?)
}

/// The allowed namespaces and names (empty lists allow any).
pub fn check_allowed(
    config: &KubernetesConfig,
    account: &ServiceAccount,
) -> Result<(), (Check, String)> {
    let namespaces = config.namespaces();
    if !namespaces.is_empty() && !namespaces.contains(&account.namespace) {
        return Err((
            Check::Namespace,
            format!(
                "namespace {:?} is not allowed to log in as this identity",
                account.namespace
            ),
        ));
    }
    let names = config.names();
    if !names.is_empty() && !names.contains(&account.name) {
        return Err((
            Check::ServiceAccount,
            format!(
                "service account {:?} is not allowed to log in as this identity",
                account.name
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert_eq!(
            parse_username("system:serviceaccount:prod:web"),
            Some(ServiceAccount {
                namespace: "prod".into(),
                name: "web".into()
            })
        );
        assert_eq!(parse_username("system:node:n1"), None);
        assert_eq!(parse_username("system:serviceaccount:prod"), None);
    }
}
