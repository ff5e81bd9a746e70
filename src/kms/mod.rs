//! Encryption as a service (issue 25): Infisical's KMS API. A project's KMS
//! keys are 256-bit AES-GCM keys made and kept by the server (sealed under
//! the project's data key, `service::kms`); callers hand plaintext in and get
//! ciphertext back, and never see a key. `ciphertext` is the wire format,
//! `limits` the bounds.

pub mod ciphertext;
pub mod limits;
