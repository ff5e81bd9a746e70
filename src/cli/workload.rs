//! Workload identity on the command line (issue 23):
//! `hush identities auth set-oidc|set-jwt|set-kubernetes|show|remove`, and
//! the platform-token logins of `hush login --method ...` and
//! `hush run --identity-id ... --method ...` (the access token then lives
//! only in hush's memory).

use super::context::{resolve, resolve_sending};
use super::output::print_json;
use super::Target;
use crate::cli::error::{CliError, EXIT_AUTH};
use crate::client::credentials::{self, Session};
use crate::client::ApiClient;
use crate::config::parse_duration;
use clap::{Args, Subcommand, ValueEnum};
use reqwest::Method;
use serde_json::{json, Map, Value};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;
use zeroize::Zeroizing;

/// Where Kubernetes mounts a pod's service-account token.
pub const KUBERNETES_TOKEN_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";
/// The largest platform token read from a file, stdin or GitHub.
const MAX_JWT_BYTES: u64 = 16 * 1024;
const GITHUB_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LoginMethod {
    /// An OIDC ID token (GitLab CI id_tokens, any OIDC issuer)
    Oidc,
    /// GitHub Actions: hush requests the job's OIDC token itself
    GithubOidc,
    /// A JWT checked against static keys or a JWKS
    Jwt,
    /// A Kubernetes service-account token (default file: the pod's)
    Kubernetes,
}

impl LoginMethod {
    fn route(self) -> &'static str {
        match self {
            LoginMethod::Oidc | LoginMethod::GithubOidc => "oidc-auth",
            LoginMethod::Jwt => "jwt-auth",
            LoginMethod::Kubernetes => "kubernetes-auth",
        }
    }
}

/// The flags of a platform-token login, shared by `login` and `run`.
#[derive(Args, Clone, Debug, Default)]
pub struct WorkloadLogin {
    /// Log a machine identity in with a platform token instead of a client secret
    #[arg(long, value_enum, requires = "identity_id")]
    pub method: Option<LoginMethod>,
    /// The machine identity's id (its client id) [env: HUSH_IDENTITY_ID]
    #[arg(long, env = "HUSH_IDENTITY_ID")]
    pub identity_id: Option<String>,
    /// The platform token, or '-' to read it from stdin [env: HUSH_JWT]
    #[arg(long, conflicts_with = "jwt_file")]
    pub jwt: Option<String>,
    /// Read the platform token from this file
    #[arg(long)]
    pub jwt_file: Option<PathBuf>,
    /// github-oidc: the audience to request (default: GitHub's, https://github.com/OWNER)
    #[arg(long)]
    pub audience: Option<String>,
}

/// An access token from a platform-token login.
pub struct Obtained {
    pub token: Zeroizing<String>,
    pub expires_in: i64,
}

fn read_limited(mut reader: impl Read, what: &str) -> Result<Zeroizing<String>, CliError> {
    let mut text = Zeroizing::new(String::new());
    reader
        .by_ref()
        .take(MAX_JWT_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| CliError::usage(format!("cannot read the token from {what}: {e}")))?;
    if text.len() as u64 > MAX_JWT_BYTES {
        return Err(CliError::usage(format!(
            "the token in {what} is longer than {MAX_JWT_BYTES} bytes"
        )));
    }
    let trimmed = Zeroizing::new(text.trim().to_owned());
    if trimmed.is_empty() {
        return Err(CliError::usage(format!("{what} holds no token")));
    }
    Ok(trimmed)
}

fn read_file(path: &Path) -> Result<Zeroizing<String>, CliError> {
    let file = std::fs::File::open(path)
        .map_err(|e| CliError::usage(format!("cannot open {}: {e}", path.display())))?;
    read_limited(file, &path.display().to_string())
}

/// Asks GitHub Actions for the job's OIDC token (the job needs
/// `permissions: id-token: write`).
async fn github_token(audience: Option<&str>) -> Result<Zeroizing<String>, CliError> {
    let (Some(url), Some(bearer)) = (
        super::context::env_var("ACTIONS_ID_TOKEN_REQUEST_URL"),
        super::context::env_var("ACTIONS_ID_TOKEN_REQUEST_TOKEN").map(Zeroizing::new),
    ) else {
        return Err(CliError::new(
            EXIT_AUTH,
            "--method github-oidc: ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set",
            Some("run inside GitHub Actions with 'permissions: id-token: write' on the job".into()),
        ));
    };
    let mut url = reqwest::Url::parse(&url)
        .map_err(|_| CliError::usage("ACTIONS_ID_TOKEN_REQUEST_URL is not a URL"))?;
    if let Some(aud) = audience {
        url.query_pairs_mut().append_pair("audience", aud);
    }
    let failed = |what: String| {
        CliError::new(
            EXIT_AUTH,
            format!("cannot get the job's OIDC token from GitHub: {what}"),
            None,
        )
    };
    let client = reqwest::Client::builder()
        .timeout(GITHUB_TIMEOUT)
        .build()
        .map_err(|_| failed("cannot build the HTTP client".into()))?;
    let resp = client
        .get(url)
        .bearer_auth(bearer.as_str())
        .header("Accept", "application/json; api-version=2.0")
        .send()
        .await
        .map_err(|e| {
            failed(if e.is_timeout() {
                "timed out".into()
            } else {
                "the request failed".into()
            })
        })?;
    let status = resp.status();
    if !status.is_success() {
        return Err(failed(format!("HTTP {status}")));
    }
    let bytes = resp
        .bytes()
        .await
        .map_err(|_| failed("the answer could not be read".into()))?;
    if bytes.len() as u64 > MAX_JWT_BYTES * 2 {
        return Err(failed("the answer is too large".into()));
    }
    let body: Value =
        serde_json::from_slice(&bytes).map_err(|_| failed("the answer is not JSON".into()))?;
    body["value"]
        .as_str()
        .filter(|v| !v.is_empty())
        .map(|v| Zeroizing::new(v.to_owned()))
        .ok_or_else(|| failed("the answer has no token".into()))
}

/// The platform token the flags name.
async fn platform_token(
    method: LoginMethod,
    args: &WorkloadLogin,
) -> Result<Zeroizing<String>, CliError> {
    match (&args.jwt, &args.jwt_file) {
        (Some(j), _) if j == "-" => read_limited(std::io::stdin(), "stdin"),
        (Some(j), _) => Ok(Zeroizing::new(j.clone())),
        (None, Some(path)) => read_file(path),
        // GitLab CI hands `id_tokens` over as environment variables.
        (None, None) if super::context::env_var("HUSH_JWT").is_some() => Ok(Zeroizing::new(
            super::context::env_var("HUSH_JWT").unwrap_or_default(),
        )),
        (None, None) => match method {
            LoginMethod::GithubOidc => github_token(args.audience.as_deref()).await,
            LoginMethod::Kubernetes => read_file(Path::new(KUBERNETES_TOKEN_FILE)),
            _ => Err(CliError::usage(
                "--method oidc/jwt needs the token: --jwt-file FILE or --jwt - (stdin)",
            )),
        },
    }
}

/// Logs in with the platform token on `client` (which carries no token).
pub async fn obtain(
    client: &ApiClient,
    method: LoginMethod,
    args: &WorkloadLogin,
) -> anyhow::Result<Obtained> {
    let identity_id = args
        .identity_id
        .as_deref()
        .ok_or_else(|| CliError::usage("--method needs --identity-id (or HUSH_IDENTITY_ID)"))?;
    let jwt = platform_token(method, args).await?;
    let resp = client
        .send(
            Method::POST,
            &format!("/api/v1/auth/{}/login", method.route()),
            &json!({ "identityId": identity_id, "jwt": jwt.as_str() }),
        )
        .await?;
    let token = Zeroizing::new(resp["accessToken"].as_str().unwrap_or_default().to_owned());
    if token.is_empty() {
        return Err(CliError::new(EXIT_AUTH, "the server answered no access token", None).into());
    }
    Ok(Obtained {
        token,
        expires_in: resp["expiresIn"].as_i64().unwrap_or(0),
    })
}

/// `hush login --method ...`: stores the identity's session.
pub async fn login(target: Target, args: WorkloadLogin) -> anyhow::Result<i32> {
    let Some(method) = args.method else {
        return Err(CliError::usage("--method is required").into());
    };
    let ctx = resolve_sending(
        &Target {
            token: None,
            ..target
        },
        Some("platform token"),
    )?
    .inner;
    let got = obtain(&ctx.client, method, &args).await?;
    let me = ApiClient::with_tls(&ctx.server, Some(got.token.clone()), &ctx.tls)?
        .get("/api/v1/hush/auth/whoami", &[])
        .await?;
    let name = me["name"].as_str().unwrap_or_default().to_owned();
    let session = Session {
        server: ctx.server.clone(),
        token: got.token.to_string(),
        kind: "identity".into(),
        name: name.clone(),
        expires_at: Some(crate::time_ids::iso(
            crate::time_ids::now_ms() + got.expires_in * 1000,
        )),
        default_project: None,
    };
    match credentials::save(&session) {
        Ok(path) => eprintln!("hush: session saved to {}", path.display()),
        Err(e) => eprintln!("hush: warning: could not save the session: {e}"),
    }
    println!("Logged in to {} as identity {name}", ctx.server);
    Ok(0)
}

/// `hush run --method ...`: the access token for this run only (never saved).
pub async fn token_for_run(
    target: &Target,
    args: &WorkloadLogin,
) -> anyhow::Result<Option<Zeroizing<String>>> {
    let Some(method) = args.method else {
        return Ok(None);
    };
    let ctx = resolve_sending(
        &Target {
            token: None,
            ..target.clone()
        },
        Some("platform token"),
    )?
    .inner;
    Ok(Some(obtain(&ctx.client, method, args).await?.token))
}

/// Access-token settings shared by every method.
#[derive(Args, Clone, Debug)]
pub struct TokenFlags {
    /// Access token lifetime, e.g. 1h
    #[arg(long, default_value = "1h")]
    ttl: String,
    /// Renewals never go past this, e.g. 30d
    #[arg(long, default_value = "30d")]
    max_ttl: String,
    /// Requests an access token may make (0: unlimited)
    #[arg(long, default_value_t = 0)]
    num_uses: i64,
    /// Address range logins may come from (repeatable), e.g. 10.0.0.0/8
    #[arg(long = "trusted-ip")]
    trusted_ips: Vec<String>,
}

/// What a token is bound to (OIDC and JWT).
#[derive(Args, Clone, Debug)]
pub struct BindingFlags {
    /// The issuer (iss) tokens must carry (OIDC: default, the discovered issuer)
    #[arg(long)]
    bound_issuer: Option<String>,
    /// Audiences (aud) accepted, comma-separated (required)
    #[arg(long, required = true)]
    bound_audiences: String,
    /// Glob the subject (sub) must match, e.g. 'repo:acme/web:ref:refs/heads/*'
    #[arg(long)]
    bound_subject: Option<String>,
    /// CLAIM=GLOB[,GLOB...] the token must carry (repeatable)
    #[arg(long = "bound-claim", value_name = "CLAIM=GLOBS")]
    bound_claims: Vec<String>,
    /// NAME=CLAIM recorded in the login's audit event (repeatable)
    #[arg(long = "claim-metadata", value_name = "NAME=CLAIM")]
    claim_metadata: Vec<String>,
}

#[derive(Subcommand, Clone, Debug)]
pub enum AuthAction {
    /// Log in with OIDC ID tokens (GitHub Actions, GitLab CI, any OIDC issuer)
    SetOidc {
        identity: String,
        /// The issuer's URL (its /.well-known/openid-configuration is read)
        #[arg(long)]
        discovery_url: String,
        /// PEM CA bundle to trust for the issuer (default: the public web PKI)
        #[arg(long)]
        ca_cert_file: Option<PathBuf>,
        #[command(flatten)]
        binding: BindingFlags,
        #[command(flatten)]
        token: TokenFlags,
        #[arg(long)]
        json: bool,
    },
    /// Log in with JWTs checked against static public keys or a JWKS URL
    SetJwt {
        identity: String,
        /// The issuer's JWKS URL
        #[arg(
            long,
            conflicts_with = "public_key_files",
            required_unless_present = "public_key_files"
        )]
        jwks_url: Option<String>,
        /// PEM CA bundle to trust for the JWKS URL
        #[arg(long)]
        ca_cert_file: Option<PathBuf>,
        /// A PEM public key file (repeatable)
        #[arg(long = "public-key-file")]
        public_key_files: Vec<PathBuf>,
        #[command(flatten)]
        binding: BindingFlags,
        #[command(flatten)]
        token: TokenFlags,
        #[arg(long)]
        json: bool,
    },
    /// Log in with Kubernetes service-account tokens
    SetKubernetes {
        identity: String,
        /// The API server, for TokenReview (e.g. https://kubernetes.default.svc)
        #[arg(long, required_unless_present = "jwks_url")]
        kubernetes_host: Option<String>,
        /// PEM CA bundle of the API server (or of the JWKS URL)
        #[arg(long)]
        ca_cert_file: Option<PathBuf>,
        /// A token allowed to call TokenReview (default: each pod's own token)
        #[arg(long)]
        token_reviewer_jwt_file: Option<PathBuf>,
        /// Instead of TokenReview: the cluster issuer's JWKS URL (needs --bound-issuer and --audience)
        #[arg(long, conflicts_with = "kubernetes_host")]
        jwks_url: Option<String>,
        /// With --jwks-url: the cluster's service-account issuer
        #[arg(long)]
        bound_issuer: Option<String>,
        /// Allowed namespaces, comma-separated (default: any)
        #[arg(long)]
        allowed_namespaces: Option<String>,
        /// Allowed service-account names, comma-separated (default: any)
        #[arg(long)]
        allowed_names: Option<String>,
        /// The audience tokens must be minted for
        #[arg(long)]
        audience: Option<String>,
        #[command(flatten)]
        token: TokenFlags,
        #[arg(long)]
        json: bool,
    },
    /// Show an identity's settings of one method
    Show {
        identity: String,
        #[arg(long, value_enum)]
        method: ConfigMethod,
        #[arg(long)]
        json: bool,
    },
    /// Remove a method from an identity (tokens it issued keep their expiry)
    Remove {
        identity: String,
        #[arg(long, value_enum)]
        method: ConfigMethod,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ConfigMethod {
    Oidc,
    Jwt,
    Kubernetes,
}

impl ConfigMethod {
    fn route(self) -> &'static str {
        match self {
            ConfigMethod::Oidc => "oidc-auth",
            ConfigMethod::Jwt => "jwt-auth",
            ConfigMethod::Kubernetes => "kubernetes-auth",
        }
    }

    fn answer_key(self) -> &'static str {
        match self {
            ConfigMethod::Oidc => "identityOidcAuth",
            ConfigMethod::Jwt => "identityJwtAuth",
            ConfigMethod::Kubernetes => "identityKubernetesAuth",
        }
    }
}

fn pem_file(path: &Path) -> Result<String, CliError> {
    let meta = std::fs::metadata(path)
        .map_err(|e| CliError::usage(format!("cannot read {}: {e}", path.display())))?;
    if meta.len() > 64 * 1024 {
        return Err(CliError::usage(format!(
            "{} is larger than 64 KiB",
            path.display()
        )));
    }
    std::fs::read_to_string(path)
        .map_err(|e| CliError::usage(format!("cannot read {}: {e}", path.display())))
}

fn token_fields(t: &TokenFlags, body: &mut Map<String, Value>) -> Result<(), CliError> {
    let secs = |text: &str, flag: &str| {
        parse_duration(text)
            .map(|d| d.as_secs() as i64)
            .map_err(|e| CliError::usage(format!("{flag}: {e}")))
    };
    body.insert("accessTokenTTL".into(), json!(secs(&t.ttl, "--ttl")?));
    body.insert(
        "accessTokenMaxTTL".into(),
        json!(secs(&t.max_ttl, "--max-ttl")?),
    );
    body.insert("accessTokenNumUsesLimit".into(), json!(t.num_uses));
    let ips: Vec<Value> = t
        .trusted_ips
        .iter()
        .map(|ip| json!({ "ipAddress": ip }))
        .collect();
    body.insert("accessTokenTrustedIps".into(), Value::Array(ips));
    Ok(())
}

fn pairs(list: &[String], flag: &str) -> Result<Map<String, Value>, CliError> {
    let mut out = Map::new();
    for item in list {
        let (k, v) = item
            .split_once('=')
            .ok_or_else(|| CliError::usage(format!("{flag} {item:?}: use NAME=VALUE")))?;
        out.insert(k.trim().to_owned(), json!(v.trim()));
    }
    Ok(out)
}

fn binding_fields(b: &BindingFlags, body: &mut Map<String, Value>) -> Result<(), CliError> {
    if let Some(i) = &b.bound_issuer {
        body.insert("boundIssuer".into(), json!(i));
    }
    body.insert("boundAudiences".into(), json!(b.bound_audiences));
    if let Some(s) = &b.bound_subject {
        body.insert("boundSubject".into(), json!(s));
    }
    body.insert(
        "boundClaims".into(),
        Value::Object(pairs(&b.bound_claims, "--bound-claim")?),
    );
    body.insert(
        "claimMetadataMapping".into(),
        Value::Object(pairs(&b.claim_metadata, "--claim-metadata")?),
    );
    Ok(())
}

fn print_config(method: ConfigMethod, answer: &Value, json: bool) {
    let config = &answer[method.answer_key()];
    if json {
        print_json(config);
        return;
    }
    let Some(fields) = config.as_object() else {
        return;
    };
    for (k, v) in fields {
        let text = match v {
            Value::String(s) if s.contains('\n') => "(PEM)".to_owned(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        println!("{k}: {text}");
    }
}

/// `hush identities auth ...`.
pub async fn configure(target: &Target, action: AuthAction) -> anyhow::Result<i32> {
    let ctx = resolve(target)?;
    let mut body = Map::new();
    let (method, identity, json) = match action {
        AuthAction::Show {
            identity,
            method,
            json,
        } => {
            let answer = ctx
                .client
                .get(
                    &format!("/api/v1/auth/{}/identities/{identity}", method.route()),
                    &[],
                )
                .await?;
            print_config(method, &answer, json);
            return Ok(0);
        }
        AuthAction::Remove { identity, method } => {
            ctx.client
                .send(
                    Method::DELETE,
                    &format!("/api/v1/auth/{}/identities/{identity}", method.route()),
                    &json!({}),
                )
                .await?;
            println!("Removed {} from identity {identity}", method.route());
            return Ok(0);
        }
        AuthAction::SetOidc {
            identity,
            discovery_url,
            ca_cert_file,
            binding,
            token,
            json,
        } => {
            body.insert("oidcDiscoveryUrl".into(), json!(discovery_url));
            if let Some(f) = ca_cert_file {
                body.insert("caCert".into(), json!(pem_file(&f)?));
            }
            binding_fields(&binding, &mut body)?;
            token_fields(&token, &mut body)?;
            (ConfigMethod::Oidc, identity, json)
        }
        AuthAction::SetJwt {
            identity,
            jwks_url,
            ca_cert_file,
            public_key_files,
            binding,
            token,
            json,
        } => {
            match jwks_url {
                Some(url) => {
                    body.insert("configurationType".into(), json!("jwks"));
                    body.insert("jwksUrl".into(), json!(url));
                    if let Some(f) = ca_cert_file {
                        body.insert("jwksCaCert".into(), json!(pem_file(&f)?));
                    }
                }
                None => {
                    let keys = public_key_files
                        .iter()
                        .map(|f| pem_file(f))
                        .collect::<Result<Vec<_>, _>>()?;
                    body.insert("configurationType".into(), json!("static"));
                    body.insert("publicKeys".into(), json!(keys));
                }
            }
            binding_fields(&binding, &mut body)?;
            token_fields(&token, &mut body)?;
            (ConfigMethod::Jwt, identity, json)
        }
        AuthAction::SetKubernetes {
            identity,
            kubernetes_host,
            ca_cert_file,
            token_reviewer_jwt_file,
            jwks_url,
            bound_issuer,
            allowed_namespaces,
            allowed_names,
            audience,
            token,
            json,
        } => {
            match (kubernetes_host, jwks_url) {
                (_, Some(url)) => {
                    body.insert("tokenReviewMode".into(), json!("jwks"));
                    body.insert("jwksUrl".into(), json!(url));
                }
                (Some(host), None) => {
                    body.insert("tokenReviewMode".into(), json!("api"));
                    body.insert("kubernetesHost".into(), json!(host));
                }
                (None, None) => {
                    return Err(CliError::usage("give --kubernetes-host or --jwks-url").into())
                }
            }
            if let Some(f) = ca_cert_file {
                body.insert("caCert".into(), json!(pem_file(&f)?));
            }
            if let Some(f) = token_reviewer_jwt_file {
                body.insert("tokenReviewerJwt".into(), json!(read_file(&f)?.as_str()));
            }
            for (k, v) in [
                ("boundIssuer", bound_issuer),
                ("allowedNamespaces", allowed_namespaces),
                ("allowedNames", allowed_names),
                ("allowedAudience", audience),
            ] {
                if let Some(v) = v {
                    body.insert(k.into(), json!(v));
                }
            }
            token_fields(&token, &mut body)?;
            (ConfigMethod::Kubernetes, identity, json)
        }
    };
    let answer = ctx
        .client
        .send(
            Method::POST,
            &format!("/api/v1/auth/{}/identities/{identity}", method.route()),
            &Value::Object(body),
        )
        .await?;
    if json {
        print_config(method, &answer, true);
    } else {
        println!(
            "Identity {identity} can now log in with {}: hush login --method {} --identity-id {}",
            method.route(),
            match method {
                ConfigMethod::Oidc => "oidc",
                ConfigMethod::Jwt => "jwt",
                ConfigMethod::Kubernetes => "kubernetes",
            },
            answer[method.answer_key()]["identityId"]
                .as_str()
                .unwrap_or("ID")
        );
    }
    Ok(0)
}
