//! `hush scan`: find secrets before they are committed. The options live
//! here; the scanning itself is `crate::scan`.

use super::context::{resolve_optional_token, Resolved};
use super::error::{CliError, EXIT_USAGE};
use super::Target;
use crate::api::secrets::{History, Listed, SecretList};
use crate::scan::detect::{scan_blob, Detectors};
use crate::scan::known::KnownValues;
use crate::scan::report::{self, Summary};
use crate::scan::rules::{RuleSet, MAX_RULE_FILE_BYTES};
use crate::scan::walk::{self, IgnoreList};
use crate::scan::{git, hook, is_binary, is_env_file, Blob, Finding, Limits, SecretRef, Skipped};
use clap::{Args, Subcommand};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use zeroize::Zeroizing;

/// Exit status when a scan finds something (0 when clean, 2 on error).
pub const EXIT_FOUND: i32 = 1;

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ScanArgs {
    #[command(subcommand)]
    pub action: Option<ScanAction>,
    /// Directory or file to scan, `-` for stdin [default: .]
    #[arg(value_name = "PATH")]
    pub root: Option<PathBuf>,
    /// Scan what `git commit` would add (the index), not the working tree
    #[arg(long, conflicts_with = "git")]
    pub staged: bool,
    /// Scan every blob of the git history (each once)
    #[arg(long)]
    pub git: bool,
    /// With --git: only commits after REF
    #[arg(long, value_name = "REF", requires = "git")]
    pub since: Option<String>,
    /// Also look for credential formats (always on when not logged in)
    #[arg(long)]
    pub patterns: bool,
    /// Do not fetch secret values: pattern mode only
    #[arg(long)]
    pub offline: bool,
    /// Extra rules in hush's TOML rule format (implies --patterns)
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
    /// Another scope whose values to look for, ENV:PATH (repeatable; the
    /// scope of --env/--path is always included)
    #[arg(long = "scope", value_name = "ENV:PATH")]
    pub scopes: Vec<String>,
    /// Also look for the earlier versions of each value (rotated-away or
    /// overwritten ones, as far as the server keeps history)
    #[arg(long, conflicts_with = "offline")]
    pub versions: bool,
    /// Machine-readable findings
    #[arg(long, conflicts_with = "sarif")]
    pub json: bool,
    /// SARIF 2.1.0 for code scanning
    #[arg(long)]
    pub sarif: bool,
    /// Skip files (and blobs) larger than this many bytes
    #[arg(long, value_name = "BYTES", default_value_t = 1024 * 1024)]
    pub max_file_size: u64,
    /// Stop reading after this many bytes in all
    #[arg(long, value_name = "BYTES", default_value_t = 512 * 1024 * 1024)]
    pub max_total_size: u64,
    #[command(flatten)]
    pub target: Target,
}

#[derive(Subcommand)]
pub enum ScanAction {
    /// Write a git pre-commit hook that runs `hush scan --staged`
    InstallHook {
        /// Replace a pre-commit hook that hush did not write
        #[arg(long)]
        force: bool,
        /// The repository [default: .]
        #[arg(value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

fn fail(message: impl Into<String>, hint: &str) -> anyhow::Error {
    let hint = (!hint.is_empty()).then(|| hint.to_owned());
    CliError::new(EXIT_USAGE, message, hint).into()
}

pub async fn scan(args: ScanArgs) -> anyhow::Result<i32> {
    if let Some(ScanAction::InstallHook { force, dir }) = &args.action {
        return install_hook(dir.as_deref().unwrap_or(Path::new(".")), *force);
    }
    let detectors = detectors(&args).await?;
    let limits = Limits {
        max_file_bytes: args.max_file_size,
        max_total_bytes: args.max_total_size,
    };
    let root = args.root.clone().unwrap_or_else(|| PathBuf::from("."));
    let mut skipped = Skipped::default();
    let mut scanned = (0u64, 0u64);
    let mut findings = if root.as_os_str() == "-" {
        let blob = read_stdin(&limits)?;
        scanned = (1, blob.data.len() as u64);
        scan_blob(&detectors, &blob)
    } else if args.staged || args.git {
        scan_git(
            &args,
            &root,
            &detectors,
            &limits,
            &mut skipped,
            &mut scanned,
        )?
    } else {
        scan_tree(&root, &detectors, &limits, &mut skipped, &mut scanned)?
    };
    findings.sort();
    let skipped_keys = detectors
        .known
        .as_ref()
        .map(|k| k.skipped.clone())
        .unwrap_or_default();
    let summary = Summary {
        findings: &findings,
        scanned_files: scanned.0,
        scanned_bytes: scanned.1,
        skipped: &skipped,
        skipped_keys: &skipped_keys,
    };
    let mut out = std::io::stdout().lock();
    let written = if args.sarif {
        let doc = crate::scan::sarif::sarif(&findings, detectors.rules.as_ref());
        serde_json::to_writer_pretty(&mut out, &doc)
            .map_err(std::io::Error::other)
            .and_then(|_| writeln!(out))
    } else if args.json {
        report::json(&mut out, &summary)
    } else {
        report::human(&mut out, &summary)
    };
    written
        .and_then(|_| out.flush())
        .map_err(|e| fail(format!("cannot write the report: {e}"), ""))?;
    Ok(if findings.is_empty() { 0 } else { EXIT_FOUND })
}

/// Known values when logged in (unless --offline); patterns when asked,
/// when rules are given, or when there are no values to look for.
async fn detectors(args: &ScanArgs) -> anyhow::Result<Detectors> {
    let mut known = None;
    if !args.offline {
        match resolve_optional_token(&args.target) {
            Ok(ctx) if ctx.has_token => {
                let mut values = fetch_values(&ctx.inner, &args.scopes).await?;
                if args.versions {
                    let earlier = fetch_versions(&ctx.inner, &values).await?;
                    values.extend(earlier);
                }
                let set = KnownValues::new(values);
                if !set.skipped.is_empty() {
                    eprintln!(
                        "hush: note: not searching for {} value(s) too short or common to be secrets: {}",
                        set.skipped.len(),
                        set.skipped.join(", ")
                    );
                }
                known = Some(set);
            }
            _ if !args.scopes.is_empty() || args.versions => {
                return Err(fail(
                    "--scope and --versions need a login to fetch values",
                    "run 'hush login' or set HUSH_TOKEN, or drop them",
                ));
            }
            _ => eprintln!("hush: note: not logged in: looking for credential formats only"),
        }
    }
    let want_rules = args.patterns || args.rules.is_some() || known.is_none();
    let rules = if want_rules {
        let mut set = RuleSet::builtin();
        if let Some(file) = &args.rules {
            let text = read_bounded(file, MAX_RULE_FILE_BYTES as u64)
                .map_err(|e| fail(format!("cannot read rules {}: {e}", file.display()), ""))?;
            set.extend_from(&text).map_err(|e| {
                fail(
                    format!("bad rules file {}: {e}", file.display()),
                    "see README, 'hush scan', for the rule format",
                )
            })?;
        }
        Some(set)
    } else {
        None
    };
    Ok(Detectors { known, rules })
}

fn read_bounded(path: &Path, max: u64) -> std::io::Result<String> {
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(max + 1)
        .read_to_string(&mut text)?;
    Ok(text)
}

/// The values of every scope: `--env`/`--path` (or their defaults) and each
/// `--scope ENV:PATH`, folders below included.
async fn fetch_values(
    ctx: &Resolved,
    scopes: &[String],
) -> anyhow::Result<Vec<(SecretRef, Zeroizing<String>)>> {
    let mut wanted = vec![(ctx.env.clone(), ctx.path.clone())];
    for s in scopes {
        let (env, path) = s.split_once(':').unwrap_or((s.as_str(), "/"));
        if env.is_empty() || !path.starts_with('/') {
            return Err(fail(
                format!("bad --scope {s:?}"),
                "write ENV:PATH, e.g. prod:/api",
            ));
        }
        wanted.push((env.to_owned(), path.to_owned()));
    }
    let mut values = Vec::new();
    for (env, path) in wanted {
        let q = vec![
            ("workspaceId", ctx.project.clone()),
            ("environment", env.clone()),
            ("secretPath", path.clone()),
            ("recursive", "true".to_owned()),
            ("viewSecretValue", "true".to_owned()),
            ("expandSecretReferences", "true".to_owned()),
            ("include_imports", "true".to_owned()),
        ];
        let list: SecretList = ctx
            .client
            .get_as("/api/v3/secrets/raw", &q)
            .await
            .map_err(|e| {
                let e = CliError::from(e);
                fail(
                    format!("cannot fetch the values of {env}:{path}: {}", e.message),
                    "check --env/--path, or scan with --offline for formats only",
                )
            })?;
        let imported = list.imports.iter().flat_map(|i| i.secrets.iter());
        for s in list.secrets.iter().chain(imported) {
            let folder = match s {
                Listed::Whole(w) => w.secret_path.to_string(),
                Listed::Pair(_) => path.clone(),
            };
            values.push((
                SecretRef {
                    key: s.key().to_owned(),
                    env: env.clone(),
                    path: folder,
                    version: None,
                },
                Zeroizing::new(s.value().to_owned()),
            ));
        }
    }
    Ok(values)
}

/// The earlier versions of every value in `current`, each secret's history
/// read once (`reveal`, audited by the server as a read of each version).
/// A version whose value is the current one, or repeats a newer version's,
/// is left out; a secret whose history this login may not read is skipped
/// with a note, as is one deleted since the list.
async fn fetch_versions(
    ctx: &Resolved,
    current: &[(SecretRef, Zeroizing<String>)],
) -> anyhow::Result<Vec<(SecretRef, Zeroizing<String>)>> {
    let mut out = Vec::new();
    let mut denied: Vec<String> = Vec::new();
    let mut seen_secrets: Vec<&SecretRef> = Vec::new();
    for (secret, value) in current {
        if seen_secrets.iter().any(|s| s.same_secret(secret)) {
            continue;
        }
        seen_secrets.push(secret);
        let q = vec![
            ("workspaceId", ctx.project.clone()),
            ("environment", secret.env.clone()),
            ("secretPath", secret.path.clone()),
            ("reveal", "true".to_owned()),
        ];
        // A key goes into the URL's path: only a valid key name does.
        let Ok(key) = crate::secret::SecretKey::parse(&secret.key) else {
            continue;
        };
        let url = format!("/api/v1/hush/secrets/{}/history", key.as_str());
        let history: History = match ctx.client.get_as(&url, &q).await {
            Ok(h) => h,
            Err(e) if matches!(e.status(), Some(403) | Some(404)) => {
                if e.status() == Some(403) {
                    denied.push(format!("{} ({}:{})", secret.key, secret.env, secret.path));
                }
                continue;
            }
            Err(e) => {
                let e = CliError::from(e);
                return Err(fail(
                    format!(
                        "cannot fetch the history of {} ({}:{}): {}",
                        secret.key, secret.env, secret.path, e.message
                    ),
                    "scan without --versions to look for current values only",
                ));
            }
        };
        // Newest first, so a value repeated by a rollback names its latest version.
        let mut versions = history.versions;
        versions.sort_by_key(|v| std::cmp::Reverse(v.secret.version));
        let mut kept: Vec<Zeroizing<String>> = vec![Zeroizing::new(value.as_str().to_owned())];
        for v in versions {
            let old = Zeroizing::new(v.secret.secret_value.into_owned());
            if v.secret.secret_value_hidden || kept.iter().any(|k| **k == *old) {
                continue;
            }
            kept.push(old.clone());
            out.push((
                SecretRef {
                    version: Some(v.secret.version),
                    ..secret.clone()
                },
                old,
            ));
        }
    }
    if !denied.is_empty() {
        eprintln!(
            "hush: note: no access to the history of {} secret(s), current values only: {}",
            denied.len(),
            denied.join(", ")
        );
    }
    Ok(out)
}

fn read_stdin(limits: &Limits) -> anyhow::Result<Blob> {
    let mut data = Vec::new();
    std::io::stdin()
        .lock()
        .take(limits.max_file_bytes + 1)
        .read_to_end(&mut data)
        .map_err(|e| fail(format!("cannot read stdin: {e}"), ""))?;
    if data.len() as u64 > limits.max_file_bytes {
        return Err(fail(
            format!("stdin is larger than {} bytes", limits.max_file_bytes),
            "raise --max-file-size",
        ));
    }
    Ok(Blob {
        path: "-".into(),
        object: None,
        data,
    })
}

fn env_finding(path: &str, rule: &str, excerpt: &str) -> Finding {
    Finding {
        path: path.to_owned(),
        commit: None,
        line: 1,
        column: 1,
        rule: rule.to_owned(),
        secret: None,
        excerpt: excerpt.to_owned(),
    }
}

const TRACKED_ENV: &str =
    "git tracks this .env file: `git rm --cached` it and add it to .gitignore";
const UNIGNORED_ENV: &str = ".gitignore does not cover this .env file: add it";

fn scan_tree(
    root: &Path,
    det: &Detectors,
    limits: &Limits,
    skipped: &mut Skipped,
    scanned: &mut (u64, u64),
) -> anyhow::Result<Vec<Finding>> {
    let meta = std::fs::metadata(root)
        .map_err(|e| fail(format!("cannot scan {}: {e}", root.display()), ""))?;
    if meta.is_file() {
        let data = read_bounded_bytes(root, limits.max_file_bytes)
            .map_err(|e| fail(format!("cannot read {}: {e}", root.display()), ""))?;
        let Some(data) = data else {
            skipped.too_large += 1;
            return Ok(Vec::new());
        };
        *scanned = (1, data.len() as u64);
        let blob = Blob {
            path: root.to_string_lossy().into_owned(),
            object: None,
            data,
        };
        return Ok(scan_blob(det, &blob));
    }
    let ignore = IgnoreList::load(root).map_err(|e| fail(e, "fix or remove the file"))?;
    let files = walk::list(root).map_err(|e| fail(e.to_string(), ""))?;
    let mut findings = Vec::new();
    let mut todo = Vec::new();
    for f in files {
        if ignore.ignores(&f.rel) {
            skipped.ignored += 1;
            continue;
        }
        if is_env_file(&f.rel) {
            match f.tracked {
                Some(true) => findings.push(env_finding(&f.rel, "env-file-tracked", TRACKED_ENV)),
                Some(false) => {
                    findings.push(env_finding(&f.rel, "env-file-not-ignored", UNIGNORED_ENV))
                }
                None => {}
            }
        }
        todo.push(f.rel);
    }
    // Files are read by the workers, so at most one per thread is in memory;
    // the shared counter stops reading once the total cap is reached.
    let total = AtomicU64::new(0);
    let results = parallel(&todo, |rel| {
        let path = root.join(rel);
        let size = std::fs::symlink_metadata(&path)
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len());
        match size {
            None => Outcome::Gone,
            Some(n) if n > limits.max_file_bytes => Outcome::TooLarge,
            Some(n) if total.fetch_add(n, Ordering::Relaxed) + n > limits.max_total_bytes => {
                Outcome::OverTotal
            }
            Some(_) => match read_bounded_bytes(&path, limits.max_file_bytes) {
                Ok(Some(data)) if is_binary(&data) => Outcome::Binary,
                Ok(Some(data)) => {
                    let blob = Blob {
                        path: rel.clone(),
                        object: None,
                        data,
                    };
                    Outcome::Scanned(blob.data.len() as u64, scan_blob(det, &blob))
                }
                Ok(None) => Outcome::TooLarge,
                Err(_) => Outcome::Gone,
            },
        }
    });
    for r in results {
        match r {
            Outcome::Scanned(bytes, found) => {
                scanned.0 += 1;
                scanned.1 += bytes;
                findings.extend(found);
            }
            Outcome::Binary => skipped.binary += 1,
            Outcome::TooLarge => skipped.too_large += 1,
            Outcome::OverTotal => skipped.over_total += 1,
            Outcome::Gone => {}
        }
    }
    Ok(findings)
}

enum Outcome {
    Scanned(u64, Vec<Finding>),
    Binary,
    TooLarge,
    OverTotal,
    Gone,
}

/// `None` when the file is larger than `max` (it may grow while read).
fn read_bounded_bytes(path: &Path, max: u64) -> std::io::Result<Option<Vec<u8>>> {
    let mut data = Vec::new();
    std::fs::File::open(path)?
        .take(max + 1)
        .read_to_end(&mut data)?;
    Ok((data.len() as u64 <= max).then_some(data))
}

/// Runs `job` over `items` on all cores, results in input order.
fn parallel<T: Sync, R: Send>(items: &[T], job: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(16);
    let chunk = items.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| s.spawn(|| part.iter().map(&job).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

fn scan_git(
    args: &ScanArgs,
    root: &Path,
    det: &Detectors,
    limits: &Limits,
    skipped: &mut Skipped,
    scanned: &mut (u64, u64),
) -> anyhow::Result<Vec<Finding>> {
    if !git::is_work_tree(root) {
        return Err(fail(
            format!("{} is not in a git work tree", root.display()),
            "run it inside a repository, or scan the directory without --staged/--git",
        ));
    }
    let git_err = |e: git::GitError| fail(e.to_string(), "");
    let blobs = if args.staged {
        git::staged(root, limits, skipped).map_err(git_err)?
    } else {
        git::history(root, args.since.as_deref(), limits, skipped).map_err(git_err)?
    };
    let ignore = IgnoreList::load(root).map_err(|e| fail(e, "fix or remove the file"))?;
    let mut findings = Vec::new();
    let mut todo = Vec::new();
    for blob in blobs {
        if ignore.ignores(&blob.path) {
            skipped.ignored += 1;
            continue;
        }
        if args.staged && is_env_file(&blob.path) {
            findings.push(env_finding(&blob.path, "env-file-tracked", TRACKED_ENV));
        }
        if is_binary(&blob.data) {
            skipped.binary += 1;
            continue;
        }
        scanned.0 += 1;
        scanned.1 += blob.data.len() as u64;
        todo.push(blob);
    }
    let results = parallel(&todo, |blob| (blob.object.clone(), scan_blob(det, blob)));
    for (object, mut found) in results {
        if args.git && !found.is_empty() {
            let commit = object.as_deref().and_then(|o| git::introduced_by(root, o));
            for f in &mut found {
                f.commit = commit.clone();
            }
        }
        findings.extend(found);
    }
    Ok(findings)
}

fn install_hook(dir: &Path, force: bool) -> anyhow::Result<i32> {
    let hooks = git::hooks_dir(dir).map_err(|e| {
        fail(
            format!("cannot find the git hooks of {}: {e}", dir.display()),
            "run it inside a git repository",
        )
    })?;
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("hush"));
    let path = hook::install(&hooks, &exe, force).map_err(|e| match e {
        hook::HookError::Foreign(_) => fail(
            e.to_string(),
            "add `hush scan --staged` to it yourself, or pass --force to replace it",
        ),
        hook::HookError::Io(..) => fail(e.to_string(), ""),
    })?;
    eprintln!("hush: installed {}", path.display());
    Ok(0)
}
