//! Bounds on what writers may store, so that no writer can make every later
//! read of a folder (or the whole server) slow or large: value, description
//! and tag sizes, tags per secret, and live secrets per folder and per
//! project. Set by flags, `HUSH_*` variables or the config file's `[limits]`
//! table; a write past one is refused with 422 naming the bound.

use serde::Deserialize;

/// The versions a project may keep per secret (`--max-versions`, and a
/// project's own setting).
pub const MAX_VERSIONS: std::ops::RangeInclusive<i64> = 1..=1000;
/// The recovery windows a project may set, in days.
pub const RECOVERY_WINDOW_DAYS: std::ops::RangeInclusive<i64> = 1..=365;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    pub max_value_bytes: usize,
    pub max_comment_bytes: usize,
    pub max_tags: usize,
    /// A tag's `key=value`, in bytes.
    pub max_tag_bytes: usize,
    pub max_secrets_per_folder: i64,
    pub max_secrets_per_project: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_value_bytes: 1024 * 1024,
            max_comment_bytes: 16 * 1024,
            max_tags: 64,
            max_tag_bytes: 1024,
            max_secrets_per_folder: 10_000,
            max_secrets_per_project: 100_000,
        }
    }
}

/// The same bounds as flags and environment variables (flags win); unset ones
/// come from the config file, then the defaults.
#[derive(clap::Args, Default, Clone, Debug)]
pub struct LimitArgs {
    /// Largest secret value in bytes [default: 1048576]
    #[arg(long, env = "HUSH_MAX_VALUE_BYTES")]
    pub max_value_bytes: Option<usize>,
    /// Largest secret description in bytes [default: 16384]
    #[arg(long, env = "HUSH_MAX_COMMENT_BYTES")]
    pub max_comment_bytes: Option<usize>,
    /// Most tags on one secret [default: 64]
    #[arg(long, env = "HUSH_MAX_TAGS")]
    pub max_tags: Option<usize>,
    /// Largest tag (key=value) in bytes [default: 1024]
    #[arg(long, env = "HUSH_MAX_TAG_BYTES")]
    pub max_tag_bytes: Option<usize>,
    /// Most live secrets in one folder [default: 10000]
    #[arg(long, env = "HUSH_MAX_SECRETS_PER_FOLDER")]
    pub max_secrets_per_folder: Option<i64>,
    /// Most live secrets in one project [default: 100000]
    #[arg(long, env = "HUSH_MAX_SECRETS_PER_PROJECT")]
    pub max_secrets_per_project: Option<i64>,
}

impl LimitArgs {
    /// Flags over `file`; every bound must be at least 1.
    pub fn over(&self, file: Limits) -> Result<Limits, String> {
        let limits = Limits {
            max_value_bytes: self.max_value_bytes.unwrap_or(file.max_value_bytes),
            max_comment_bytes: self.max_comment_bytes.unwrap_or(file.max_comment_bytes),
            max_tags: self.max_tags.unwrap_or(file.max_tags),
            max_tag_bytes: self.max_tag_bytes.unwrap_or(file.max_tag_bytes),
            max_secrets_per_folder: self
                .max_secrets_per_folder
                .unwrap_or(file.max_secrets_per_folder),
            max_secrets_per_project: self
                .max_secrets_per_project
                .unwrap_or(file.max_secrets_per_project),
        };
        let sizes = [
            limits.max_value_bytes,
            limits.max_comment_bytes,
            limits.max_tags,
            limits.max_tag_bytes,
        ];
        if sizes.contains(&0)
            || limits.max_secrets_per_folder < 1
            || limits.max_secrets_per_project < 1
        {
            return Err("every limit must be at least 1".into());
        }
        Ok(limits)
    }
}

/// Cuts `text` to at most `max` bytes on a character boundary (error texts
/// kept in the database: a stream's, a rotation's).
pub fn cut_to(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}
