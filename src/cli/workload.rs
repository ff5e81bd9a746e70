//! Workload identity on the command line (issue 23):
//! `hush identities auth set-oidc|set-jwt|set-kubernetes|show|remove`, and
//! the platform-token logins of `hush login --method ...` and
//! `hush run --identity-id ... --method ...` (the access token then lives
//! only in hush's memory).

use super::context::{resolve, resolve_sending, Resolved};
use super::output::print_json;
use super::Target;
use crate::api::auth::{TokenResponse, WhoAmI};
use crate::api::bounded::{ClientId, Secret};
use crate::api::workload::{
    AuthMethodAnswer, BindingInput, JwtAuthInput, KubernetesAuthInput, OidcAuthInput,
    TokenSettingsInput, TrustedIp, WorkloadLogin as LoginBody,
};
use crate::cli::error::{CliError, EXIT_AUTH};
use crate::client::credentials::{self, Session};
use crate::client::ApiClient;
use crate::config::parse_duration;
use crate::service::workload::Method as AuthMethod;
use clap::{Args, Subcommand, ValueEnum};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;
use zeroize::Zeroizing;

/// Where Kubernetes mounts a pod's service-account token.
pub const KUBERNETES_TOKEN_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";
/// The largest platform token read from a file, stdin or GitHub: what the
/// server accepts.
const MAX_JWT_BYTES: u64 = crate::api::workload::MAX_PLATFORM_TOKEN_BYTES as u64;
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
    /// `oidc-auth`, as in `/api/v1/auth/oidc-auth/login`.
    fn route(self) -> &'static str {
        let method = match self {
            LoginMethod::Oidc | LoginMethod::GithubOidc => AuthMethod::Oidc,
            LoginMethod::Jwt => AuthMethod::Jwt,
            LoginMethod::Kubernetes => AuthMethod::Kubernetes,
        };
        method.route()
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
    let body = LoginBody {
        identity_id: ClientId::new(identity_id),
        jwt: Secret::new(jwt.as_str()),
    };
    let resp: TokenResponse = client
        .send_as(
            Method::POST,
            &format!("/api/v1/auth/{}/login", method.route()),
            &serde_json::to_value(&body)?,
        )
        .await?;
    let token = Zeroizing::new(resp.access_token);
    if token.is_empty() {
        return Err(CliError::new(EXIT_AUTH, "the server answered no access token", None).into());
    }
    Ok(Obtained {
        token,
        expires_in: resp.expires_in,
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
    let me: WhoAmI = ApiClient::with_tls(&ctx.server, Some(got.token.clone()), &ctx.tls)?
        .get_as("/api/v1/hush/auth/whoami", &[])
        .await?;
    let name = me.name;
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

/// `hush run --method ...`: the access token for this run only (never
/// saved), and its lifetime. A token on stdin (`--jwt -`) is read once and
/// kept in `args`, so `--watch` can log in with it again.
pub async fn token_for_run(
    target: &Target,
    args: &mut WorkloadLogin,
) -> anyhow::Result<Option<Obtained>> {
    let Some(method) = args.method else {
        return Ok(None);
    };
    if args.jwt.as_deref() == Some("-") {
        args.jwt = Some(read_limited(std::io::stdin(), "stdin")?.to_string());
    }
    let ctx = resolve_sending(
        &Target {
            token: None,
            ..target.clone()
        },
        Some("platform token"),
    )?
    .inner;
    Ok(Some(obtain(&ctx.client, method, args).await?))
}

/// What `target` resolves to, with `token` (minted by a platform-token
/// login, so no --token, HUSH_TOKEN or stored login) as the credential.
pub fn resolve_with_token(
    target: &Target,
    token: &Zeroizing<String>,
) -> Result<Resolved, CliError> {
    let mut ctx = resolve_sending(
        &Target {
            token: None,
            ..target.clone()
        },
        Some("platform token"),
    )?
    .inner;
    ctx.client = ctx.client.with_token(Some(token.clone()));
    Ok(ctx)
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
    /// `oidc-auth`, as in `/api/v1/auth/oidc-auth/identities/ID`.
    fn route(self) -> &'static str {
        let method = match self {
            ConfigMethod::Oidc => AuthMethod::Oidc,
            ConfigMethod::Jwt => AuthMethod::Jwt,
            ConfigMethod::Kubernetes => AuthMethod::Kubernetes,
        };
        method.route()
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

fn token_fields(t: &TokenFlags) -> Result<TokenSettingsInput, CliError> {
    let secs = |text: &str, flag: &str| {
        parse_duration(text)
            .map(|d| d.as_secs() as i64)
            .map_err(|e| CliError::usage(format!("{flag}: {e}")))
    };
    Ok(TokenSettingsInput {
        access_token_ttl: Some(secs(&t.ttl, "--ttl")?),
        access_token_max_ttl: Some(secs(&t.max_ttl, "--max-ttl")?),
        access_token_num_uses_limit: Some(t.num_uses),
        access_token_trusted_ips: Some(
            t.trusted_ips
                .iter()
                .map(|ip| TrustedIp {
                    ip_address: ip.clone(),
                })
                .collect(),
        ),
    })
}

fn pairs(list: &[String], flag: &str) -> Result<BTreeMap<String, String>, CliError> {
    let mut out = BTreeMap::new();
    for item in list {
        let (k, v) = item
            .split_once('=')
            .ok_or_else(|| CliError::usage(format!("{flag} {item:?}: use NAME=VALUE")))?;
        out.insert(k.trim().to_owned(), v.trim().to_owned());
    }
    Ok(out)
}

fn binding_fields(b: &BindingFlags) -> Result<BindingInput, CliError> {
    Ok(BindingInput {
        bound_issuer: b.bound_issuer.clone(),
        bound_audiences: Some(b.bound_audiences.clone()),
        bound_subject: b.bound_subject.clone(),
        bound_claims: Some(pairs(&b.bound_claims, "--bound-claim")?),
        claim_metadata_mapping: Some(pairs(&b.claim_metadata, "--claim-metadata")?),
    })
}

/// A method's settings as the answer has them (a JSON object).
fn settings_json(answer: &AuthMethodAnswer) -> Value {
    let inner = match answer {
        AuthMethodAnswer::Oidc(a) => serde_json::to_value(&a.identity_oidc_auth),
        AuthMethodAnswer::Jwt(a) => serde_json::to_value(&a.identity_jwt_auth),
        AuthMethodAnswer::Kubernetes(a) => serde_json::to_value(&a.identity_kubernetes_auth),
    };
    inner.unwrap_or_default()
}

fn print_config(answer: &AuthMethodAnswer, json: bool) {
    let config = settings_json(answer);
    if json {
        print_json(&config);
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
    let (method, identity, json, body) = match action {
        AuthAction::Show {
            identity,
            method,
            json,
        } => {
            let answer: AuthMethodAnswer = ctx
                .client
                .get_as(
                    &format!("/api/v1/auth/{}/identities/{identity}", method.route()),
                    &[],
                )
                .await?;
            print_config(&answer, json);
            return Ok(0);
        }
        AuthAction::Remove { identity, method } => {
            let _: AuthMethodAnswer = ctx
                .client
                .send_as(
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
            let body = OidcAuthInput {
                oidc_discovery_url: Some(discovery_url),
                ca_cert: ca_cert_file.map(|f| pem_file(&f)).transpose()?,
                binding: binding_fields(&binding)?,
                token: token_fields(&token)?,
            };
            (
                ConfigMethod::Oidc,
                identity,
                json,
                serde_json::to_value(&body)?,
            )
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
            let mut body = JwtAuthInput {
                binding: binding_fields(&binding)?,
                token: token_fields(&token)?,
                ..Default::default()
            };
            match jwks_url {
                Some(url) => {
                    body.configuration_type = Some("jwks".into());
                    body.jwks_url = Some(url);
                    body.jwks_ca_cert = ca_cert_file.map(|f| pem_file(&f)).transpose()?;
                }
                None => {
                    let keys = public_key_files
                        .iter()
                        .map(|f| pem_file(f))
                        .collect::<Result<Vec<_>, _>>()?;
                    body.configuration_type = Some("static".into());
                    body.public_keys = Some(keys);
                }
            }
            (
                ConfigMethod::Jwt,
                identity,
                json,
                serde_json::to_value(&body)?,
            )
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
            let (mode, kubernetes_host, jwks_url) = match (kubernetes_host, jwks_url) {
                (_, Some(url)) => ("jwks", None, Some(url)),
                (Some(host), None) => ("api", Some(host), None),
                (None, None) => {
                    return Err(CliError::usage("give --kubernetes-host or --jwks-url").into())
                }
            };
            let body = KubernetesAuthInput {
                token_review_mode: Some(mode.into()),
                kubernetes_host,
                jwks_url,
                ca_cert: ca_cert_file.map(|f| pem_file(&f)).transpose()?,
                token_reviewer_jwt: token_reviewer_jwt_file
                    .map(|f| read_file(&f).map(|t| Secret::new(t.as_str())))
                    .transpose()?,
                bound_issuer,
                allowed_namespaces,
                allowed_names,
                allowed_audience: audience,
                token: token_fields(&token)?,
            };
            (
                ConfigMethod::Kubernetes,
                identity,
                json,
                serde_json::to_value(&body)?,
            )
        }
    };
    let answer: AuthMethodAnswer = ctx
        .client
        .send_as(
            Method::POST,
            &format!("/api/v1/auth/{}/identities/{identity}", method.route()),
            &body,
        )
        .await?;
    if json {
        print_config(&answer, true);
    } else {
        println!(
            "Identity {identity} can now log in with {}: hush login --method {} --identity-id {}",
            method.route(),
            match method {
                ConfigMethod::Oidc => "oidc",
                ConfigMethod::Jwt => "jwt",
                ConfigMethod::Kubernetes => "kubernetes",
            },
            answer.meta().identity_id
        );
    }
    Ok(0)
}
