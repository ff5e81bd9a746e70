//! JWT verification for workload identity, on top of `jsonwebtoken` (ring):
//! the algorithm is pinned to the key's type, never read from the token
//! alone. Only asymmetric algorithms exist here: `none` and the HMAC family
//! are refused before a key is looked at, and a key from a JWKS or a PEM is
//! only ever a public key, so "HS256 signed with the public key" cannot
//! verify. `exp` is required; `exp`, `nbf` and `iat` are checked with
//! `SKEW` of tolerance for clocks that drift.

use base64::Engine;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

/// Tolerance for clock drift between the issuer and this server.
pub const SKEW_SECS: u64 = 30;
/// The longest token accepted (GitHub's are about 1 KiB, Kubernetes' 1-2).
pub const MAX_TOKEN_BYTES: usize = crate::api::workload::MAX_PLATFORM_TOKEN_BYTES;
/// The most keys one JWKS or static key list may hold.
pub const MAX_KEYS: usize = 32;

/// Which check refused a token: named in the audit event and the answer,
/// never with the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    Malformed,
    Alg,
    Kid,
    Signature,
    Expired,
    NotYetValid,
    IssuedInFuture,
    Issuer,
    Audience,
    Subject,
    Claim,
    /// The issuer's keys or TokenReview could not be reached.
    Unavailable,
    /// Kubernetes: TokenReview said the token is not authenticated.
    TokenReview,
    Namespace,
    ServiceAccount,
    NotConfigured,
    TrustedIp,
}

impl Check {
    pub fn as_str(self) -> &'static str {
        match self {
            Check::Malformed => "malformed",
            Check::Alg => "alg",
            Check::Kid => "kid",
            Check::Signature => "signature",
            Check::Expired => "exp",
            Check::NotYetValid => "nbf",
            Check::IssuedInFuture => "iat",
            Check::Issuer => "issuer",
            Check::Audience => "audience",
            Check::Subject => "subject",
            Check::Claim => "claim",
            Check::Unavailable => "keys-unavailable",
            Check::TokenReview => "token-review",
            Check::Namespace => "namespace",
            Check::ServiceAccount => "service-account",
            Check::NotConfigured => "not-configured",
            Check::TrustedIp => "trusted-ip",
        }
    }
}

/// The kinds of key there are, each with the algorithms it may verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    Rsa,
    P256,
    P384,
    Ed25519,
}

impl KeyKind {
    fn allows(self, alg: Algorithm) -> bool {
        use Algorithm::*;
        match self {
            KeyKind::Rsa => matches!(alg, RS256 | RS384 | RS512 | PS256 | PS384 | PS512),
            KeyKind::P256 => alg == ES256,
            KeyKind::P384 => alg == ES384,
            KeyKind::Ed25519 => alg == EdDSA,
        }
    }
}

pub struct Key {
    pub kid: Option<String>,
    /// The `alg` the JWKS pinned the key to, if it did.
    pub alg: Option<Algorithm>,
    pub kind: KeyKind,
    pub key: DecodingKey,
}

/// The verification keys of one issuer.
#[derive(Default)]
pub struct KeySet {
    pub keys: Vec<Key>,
}

impl KeySet {
    /// The signing keys of a JWKS document; keys of other kinds (symmetric
    /// `oct`, encryption keys, unknown curves) are left out. Err when the
    /// document is not a JWKS.
    pub fn from_jwks(body: &[u8]) -> Result<KeySet, String> {
        let doc: Value = serde_json::from_slice(body).map_err(|_| "the JWKS is not JSON")?;
        let list = doc["keys"]
            .as_array()
            .ok_or("the JWKS has no \"keys\" list")?;
        let mut keys = Vec::new();
        for raw in list.iter().take(MAX_KEYS) {
            if raw["use"].as_str().is_some_and(|u| u != "sig") {
                continue;
            }
            let Ok(jwk) = serde_json::from_value::<Jwk>(raw.clone()) else {
                continue;
            };
            if let Some(key) = from_jwk(&jwk, raw) {
                keys.push(key);
            }
        }
        Ok(KeySet { keys })
    }

    /// Public keys in PEM (RSA, EC P-256/P-384 or Ed25519 SubjectPublicKeyInfo).
    pub fn from_pems(pems: &[String]) -> Result<KeySet, String> {
        let mut keys = Vec::new();
        for (i, pem) in pems.iter().enumerate().take(MAX_KEYS) {
            keys.push(from_pem(pem).ok_or_else(|| {
                format!(
                    "public key {} is not an RSA, EC (P-256, P-384) or Ed25519 public key in PEM",
                    i + 1
                )
            })?);
        }
        Ok(KeySet { keys })
    }

    /// The keys a token with this header may be checked with: the one with
    /// its `kid`, or, when the token names none, every key of a fitting kind.
    fn candidates(&self, alg: Algorithm, kid: Option<&str>) -> Result<Vec<&Key>, Check> {
        let matching: Vec<&Key> = match kid {
            Some(kid) => self
                .keys
                .iter()
                .filter(|k| k.kid.as_deref() == Some(kid))
                .collect(),
            None => self.keys.iter().collect(),
        };
        if matching.is_empty() {
            return Err(Check::Kid);
        }
        let fitting: Vec<&Key> = matching
            .into_iter()
            .filter(|k| k.kind.allows(alg) && k.alg.is_none_or(|a| a == alg))
            .collect();
        if fitting.is_empty() {
            return Err(Check::Alg);
        }
        Ok(fitting)
    }

    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }
}

fn from_jwk(jwk: &Jwk, raw: &Value) -> Option<Key> {
    let kind = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => KeyKind::Rsa,
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => KeyKind::P256,
            EllipticCurve::P384 => KeyKind::P384,
            _ => return None,
        },
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
            KeyKind::Ed25519
        }
        _ => return None,
    };
    // `alg` as written, so an unknown or symmetric one drops the key.
    let alg = match raw["alg"].as_str() {
        None => None,
        Some(a) => Some(asymmetric(a)?),
    };
    Some(Key {
        kid: jwk.common.key_id.clone(),
        alg,
        kind,
        key: DecodingKey::from_jwk(jwk).ok()?,
    })
}

fn from_pem(pem: &str) -> Option<Key> {
    let pem = pem.trim().as_bytes();
    let (kind, key) = if let Ok(k) = DecodingKey::from_rsa_pem(pem) {
        (KeyKind::Rsa, k)
    } else if let Ok(k) = DecodingKey::from_ed_pem(pem) {
        (KeyKind::Ed25519, k)
    } else {
        let k = DecodingKey::from_ec_pem(pem).ok()?;
        // The curve is in the key's DER: the P-384 OID's last bytes.
        let text = std::str::from_utf8(pem).ok()?;
        let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body.trim())
            .ok()?;
        const P384_OID: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
        let kind = if der.windows(P384_OID.len()).any(|w| w == P384_OID) {
            KeyKind::P384
        } else {
            KeyKind::P256
        };
        (kind, k)
    };
    Some(Key {
        kid: None,
        alg: None,
        kind,
        key,
    })
}

/// The asymmetric algorithm named `name`; None for `none`, HMAC and
/// anything unknown.
fn asymmetric(name: &str) -> Option<Algorithm> {
    use Algorithm::*;
    Some(match name {
        "RS256" => RS256,
        "RS384" => RS384,
        "RS512" => RS512,
        "PS256" => PS256,
        "PS384" => PS384,
        "PS512" => PS512,
        "ES256" => ES256,
        "ES384" => ES384,
        "EdDSA" => EdDSA,
        _ => return None,
    })
}

/// What a token's header says, read without trusting it.
pub struct Header {
    pub alg: Algorithm,
    pub kid: Option<String>,
}

/// Reads the header: the algorithm must be an asymmetric one.
pub fn header(token: &str) -> Result<Header, Check> {
    if token.len() > MAX_TOKEN_BYTES || token.split('.').count() != 3 {
        return Err(Check::Malformed);
    }
    let first = token.split('.').next().unwrap_or_default();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(first.trim_end_matches('='))
        .map_err(|_| Check::Malformed)?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| Check::Malformed)?;
    let alg = value["alg"].as_str().ok_or(Check::Malformed)?;
    let alg = asymmetric(alg).ok_or(Check::Alg)?;
    let kid = match &value["kid"] {
        Value::Null => None,
        Value::String(s) if s.len() <= 256 => Some(s.clone()),
        _ => return Err(Check::Malformed),
    };
    Ok(Header { alg, kid })
}

/// Verifies the signature (with a key the header's `kid` and algorithm fit)
/// and the times; returns the claims. `now`: Unix seconds.
pub fn verify(
    token: &str,
    header: &Header,
    keys: &KeySet,
    now: u64,
) -> Result<Map<String, Value>, Check> {
    let candidates = keys.candidates(header.alg, header.kid.as_deref())?;
    let mut validation = Validation::new(header.alg);
    validation.leeway = SKEW_SECS;
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp"]);
    let mut last = Check::Signature;
    for key in candidates {
        match jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, &validation) {
            Ok(data) => {
                let claims = data.claims;
                check_times(&claims, now)?;
                return Ok(claims);
            }
            Err(e) => {
                use jsonwebtoken::errors::ErrorKind as K;
                last = match e.kind() {
                    K::ExpiredSignature => return Err(Check::Expired),
                    K::ImmatureSignature => return Err(Check::NotYetValid),
                    K::InvalidAlgorithm => Check::Alg,
                    K::InvalidSignature => Check::Signature,
                    K::MissingRequiredClaim(_) => return Err(Check::Expired),
                    _ => Check::Malformed,
                };
            }
        }
    }
    Err(last)
}

/// `iat` in the future (beyond the skew) is refused; `exp`/`nbf` were
/// checked by the decoder, but a non-numeric one is refused here.
fn check_times(claims: &Map<String, Value>, now: u64) -> Result<(), Check> {
    for (name, check) in [
        ("exp", Check::Expired),
        ("nbf", Check::NotYetValid),
        ("iat", Check::IssuedInFuture),
    ] {
        match claims.get(name) {
            None | Some(Value::Null) if name != "exp" => {}
            Some(v) if v.is_number() => {}
            _ => return Err(check),
        }
    }
    if let Some(iat) = claims.get("iat").and_then(Value::as_f64) {
        if iat > (now + SKEW_SECS) as f64 {
            return Err(Check::IssuedInFuture);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header as JwtHeader};
    use ring::rand::SystemRandom;
    use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
    use serde_json::json;

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    /// A P-256 key: (PKCS#8 for signing, its JWK with `crv`).
    fn p256(kid: &str, crv: &str) -> (Vec<u8>, Value) {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let pk = pair.public_key().as_ref();
        let jwk = json!({ "kty": "EC", "crv": crv, "kid": kid,
            "x": b64(&pk[1..33]), "y": b64(&pk[33..65]) });
        (pkcs8.as_ref().to_vec(), jwk)
    }

    fn sign(pkcs8: &[u8], kid: &str, claims: &Value) -> String {
        let mut h = JwtHeader::new(Algorithm::ES256);
        h.kid = Some(kid.into());
        jsonwebtoken::encode(&h, claims, &EncodingKey::from_ec_der(pkcs8)).unwrap()
    }

    fn claims(now: u64) -> Value {
        json!({ "sub": "x", "exp": now + 60, "iat": now })
    }

    #[test]
    fn symmetric_and_encryption_keys_are_left_out() {
        let (_, ec) = p256("ec", "P-256");
        let set = json!({ "keys": [
            { "kty": "oct", "k": "c2VjcmV0", "kid": "hmac" },
            { "kty": "EC", "crv": "P-256", "use": "enc", "kid": "enc", "x": ec["x"], "y": ec["y"] },
            { "kty": "EC", "crv": "P-256", "alg": "HS256", "kid": "pinned-hmac", "x": ec["x"], "y": ec["y"] },
            ec,
        ]});
        let keys = KeySet::from_jwks(set.to_string().as_bytes()).unwrap();
        assert_eq!(keys.keys.len(), 1);
        assert!(keys.has_kid("ec"));
        assert!(KeySet::from_jwks(b"{}").is_err());
    }

    #[test]
    fn headers_refuse_none_and_hmac() {
        let none = format!("{}.{}.", b64(br#"{"alg":"none"}"#), b64(b"{}"));
        assert_eq!(header(&none).err(), Some(Check::Alg));
        let hs = format!(
            "{}.{}.sig",
            b64(br#"{"alg":"HS256","kid":"k"}"#),
            b64(b"{}")
        );
        assert_eq!(header(&hs).err(), Some(Check::Alg));
        assert_eq!(header("not-a-jwt").err(), Some(Check::Malformed));
        let big = "a".repeat(MAX_TOKEN_BYTES + 1);
        assert_eq!(header(&big).err(), Some(Check::Malformed));
    }

    #[test]
    fn signature_kind_and_times() {
        let (pkcs8, jwk) = p256("k1", "P-256");
        let keys = KeySet::from_jwks(json!({ "keys": [jwk] }).to_string().as_bytes()).unwrap();
        // jsonwebtoken checks exp against the real clock: mint relative to it.
        let real = (crate::time_ids::now_ms() / 1000) as u64;
        let good = sign(&pkcs8, "k1", &claims(real));
        let h = header(&good).unwrap();
        assert!(verify(&good, &h, &keys, real).is_ok());
        assert_eq!(
            verify(
                &sign(&pkcs8, "k2", &claims(real)),
                &header(&sign(&pkcs8, "k2", &claims(real))).unwrap(),
                &keys,
                real
            )
            .err(),
            Some(Check::Kid)
        );
        let (other, _) = p256("k1", "P-256");
        let forged = sign(&other, "k1", &claims(real));
        assert_eq!(
            verify(&forged, &header(&forged).unwrap(), &keys, real).err(),
            Some(Check::Signature)
        );
        let expired = sign(&pkcs8, "k1", &json!({ "exp": real - 3600 }));
        assert_eq!(
            verify(&expired, &header(&expired).unwrap(), &keys, real).err(),
            Some(Check::Expired)
        );
        let no_exp = sign(&pkcs8, "k1", &json!({ "sub": "x" }));
        assert_eq!(
            verify(&no_exp, &header(&no_exp).unwrap(), &keys, real).err(),
            Some(Check::Expired)
        );
        let future = sign(
            &pkcs8,
            "k1",
            &json!({ "exp": real + 600, "iat": real + 300 }),
        );
        assert_eq!(
            verify(&future, &header(&future).unwrap(), &keys, real).err(),
            Some(Check::IssuedInFuture)
        );
        // The same key published as P-384: an ES256 token does not fit it.
        let (_, jwk) = p256("k1", "P-384");
        let p384 = KeySet::from_jwks(json!({ "keys": [jwk] }).to_string().as_bytes()).unwrap();
        assert_eq!(verify(&good, &h, &p384, real).err(), Some(Check::Alg));
    }
}
