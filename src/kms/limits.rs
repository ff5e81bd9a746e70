//! Bounds of the KMS API (issue 25).

/// Largest plaintext `encrypt` takes, in bytes (after base64 decoding):
/// 4 KiB, as AWS KMS's `Encrypt`; a KMS key protects small secrets such as
/// data keys, not files.
pub const MAX_PLAINTEXT_BYTES: usize = 4096;

/// Longest ciphertext `decrypt` takes, in base64 characters: what the
/// largest plaintext encrypts to, with room to spare.
pub const MAX_CIPHERTEXT_CHARS: usize = 8192;

/// Longest key name, in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 500;

/// Keys per project.
pub const MAX_PER_PROJECT: i64 = 100;

/// Body limit of the KMS routes: a ciphertext or base64 plaintext and JSON.
pub const BODY_LIMIT: usize = 16 * 1024;
