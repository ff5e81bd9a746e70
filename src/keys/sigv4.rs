//! AWS Signature Version 4 for the few requests `awskms` makes: a small
//! signer over the existing HTTP client instead of the AWS SDK. Checked
//! against AWS's published SigV4 test suite (see the tests).
//!
//! The caller gives the canonical path (already URI-encoded), the query
//! and the headers to sign (`host` and `x-amz-date` among them); the
//! signer builds the canonical request, the string to sign and the
//! `Authorization` header.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::fmt;
use zeroize::Zeroizing;

/// An access key; Debug shows only the key id.
#[derive(Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: Zeroizing<String>,
    pub session_token: Option<Zeroizing<String>>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// What is signed: one request.
pub struct Request<'a> {
    pub method: &'a str,
    /// URI-encoded path, e.g. `/`.
    pub path: &'a str,
    /// `name=value` pairs joined by `&`, URI-encoded; sorted here.
    pub query: &'a str,
    /// Every header to sign, `host` and `x-amz-date` included.
    pub headers: &'a [(String, String)],
    pub payload: &'a [u8],
}

/// Where and when: the credential scope's parts.
pub struct Scope<'a> {
    pub region: &'a str,
    pub service: &'a str,
    /// `YYYYMMDDTHHMMSSZ`, the value of the `x-amz-date` header.
    pub amz_date: &'a str,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC takes a key of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Header names lowercased and sorted, values trimmed with inner runs of
/// spaces collapsed; repeated names joined with commas.
fn canonical_headers(headers: &[(String, String)]) -> (String, String) {
    let mut sorted: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| {
            let value = v.split_whitespace().collect::<Vec<_>>().join(" ");
            (k.to_ascii_lowercase(), value)
        })
        .collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut canonical = String::new();
    let mut names: Vec<String> = Vec::new();
    for (name, value) in sorted {
        if names.last() == Some(&name) {
            // Same name again: append to the line just written.
            canonical.pop();
            canonical.push(',');
            canonical.push_str(&value);
            canonical.push('\n');
        } else {
            canonical.push_str(&format!("{name}:{value}\n"));
            names.push(name);
        }
    }
    (canonical, names.join(";"))
}

fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(&str, &str)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The canonical request and the signed header names.
pub fn canonical_request(req: &Request<'_>) -> (String, String) {
    let (headers, signed) = canonical_headers(req.headers);
    let canonical = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        req.path,
        canonical_query(req.query),
        headers,
        signed,
        sha256_hex(req.payload)
    );
    (canonical, signed)
}

/// The `Authorization` header's value.
pub fn authorization(creds: &Credentials, scope: &Scope<'_>, req: &Request<'_>) -> String {
    let (canonical, signed) = canonical_request(req);
    let date = &scope.amz_date[..8.min(scope.amz_date.len())];
    let credential_scope = format!("{date}/{}/{}/aws4_request", scope.region, scope.service);
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{}\n{credential_scope}\n{}",
        scope.amz_date,
        sha256_hex(canonical.as_bytes())
    );
    let secret = Zeroizing::new(format!("AWS4{}", creds.secret_access_key.as_str()));
    let k_date = Zeroizing::new(hmac(secret.as_bytes(), date.as_bytes()));
    let k_region = Zeroizing::new(hmac(k_date.as_ref(), scope.region.as_bytes()));
    let k_service = Zeroizing::new(hmac(k_region.as_ref(), scope.service.as_bytes()));
    let k_signing = Zeroizing::new(hmac(k_service.as_ref(), b"aws4_request"));
    let signature = hex::encode(hmac(k_signing.as_ref(), string_to_sign.as_bytes()));
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{credential_scope}, SignedHeaders={signed}, Signature={signature}",
        creds.access_key_id
    )
}

/// `YYYYMMDDTHHMMSSZ` for a time.
pub fn amz_date(at: std::time::SystemTime) -> String {
    let t = time::OffsetDateTime::from(at);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The credentials, scope and time of AWS's SigV4 test suite
    /// (aws-sig-v4-test-suite): AKIDEXAMPLE, us-east-1, service "service",
    /// 2015-08-30T12:36:00Z.
    fn example() -> Credentials {
        Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: Zeroizing::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into()),
            session_token: None,
        }
    }

    const SCOPE: Scope<'static> = Scope {
        region: "us-east-1",
        service: "service",
        amz_date: "20150830T123600Z",
    };

    fn base_headers() -> Vec<(String, String)> {
        vec![
            ("Host".into(), "example.amazonaws.com".into()),
            ("X-Amz-Date".into(), "20150830T123600Z".into()),
        ]
    }

    fn sign(method: &str, path: &str, query: &str) -> String {
        let headers = base_headers();
        authorization(
            &example(),
            &SCOPE,
            &Request {
                method,
                path,
                query,
                headers: &headers,
                payload: b"",
            },
        )
    }

    #[test]
    fn get_vanilla() {
        let headers = base_headers();
        let req = Request {
            method: "GET",
            path: "/",
            query: "",
            headers: &headers,
            payload: b"",
        };
        let (canonical, signed) = canonical_request(&req);
        assert_eq!(
            canonical,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(signed, "host;x-amz-date");
        assert_eq!(
            sha256_hex(canonical.as_bytes()),
            "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"
        );
        assert_eq!(
            authorization(&example(), &SCOPE, &req),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    #[test]
    fn query_order_post_and_utf8_path() {
        // get-vanilla-query-order-key-case: the query is sorted before signing.
        assert!(sign("GET", "/", "Param2=value2&Param1=value1").ends_with(
            "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
        ));
        // post-vanilla
        assert!(sign("POST", "/", "").ends_with(
            "Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"
        ));
        // get-utf8: the path is signed as given, already encoded.
        assert!(sign("GET", "/%E1%88%B4", "").ends_with(
            "Signature=8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"
        ));
    }

    #[test]
    fn header_values_are_trimmed_and_repeats_joined() {
        let headers = vec![
            ("My-Header1".into(), "  a   b   c  ".into()),
            ("Host".into(), "example.amazonaws.com".into()),
            ("my-header1".into(), "d".into()),
        ];
        let (canonical, signed) = canonical_headers(&headers);
        assert_eq!(
            canonical,
            "host:example.amazonaws.com\nmy-header1:a b c,d\n"
        );
        assert_eq!(signed, "host;my-header1");
    }

    #[test]
    fn dates_and_redaction() {
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_440_938_160);
        assert_eq!(amz_date(at), "20150830T123600Z");
        let shown = format!("{:?}", example());
        assert!(shown.contains("AKIDEXAMPLE") && !shown.contains("wJalr"));
    }
}
