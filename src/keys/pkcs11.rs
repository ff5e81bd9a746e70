//! `pkcs11`: the root key is an AES-256 key inside an HSM (a PKCS#11
//! token), created sensitive and non-extractable: it never leaves the
//! token. hush wraps a data key with CKM_AES_GCM under it (a random 96-bit
//! IV, the project and key id as AAD) and unwraps it the same way.
//!
//! PKCS#11 calls block, so they run on the blocking pool, one at a time on
//! one logged-in session: unwraps are rare (data keys are cached). A call
//! that fails for a reason other than a bad ciphertext closes the session
//! and finalizes the module; the next call loads it, opens and logs in
//! again, so a token that was removed (a network HSM that went away) is
//! used again when it is back, without a restart.
//!
//! The PIN is not kept: it is read from its file for each login and wiped
//! right after, so a memory dump of a running server does not hold it (the
//! logged-in session does not need it). The file must therefore stay
//! readable while the server runs.

use super::settings::Pkcs11Settings;
use super::{ProviderError, RootKeyProvider};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11 as Module};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use std::sync::{Arc, Mutex};
use zeroize::Zeroizing;

const IV_LEN: usize = 12;
const TAG_BITS: u64 = 128;
const PROBE_AAD: &[u8] = b"hush-health-probe";

pub struct Pkcs11 {
    inner: Arc<Inner>,
    described: String,
}

struct Inner {
    settings: Pkcs11Settings,
    state: Mutex<State>,
}

/// The loaded module and the logged-in session; both None after a failure.
#[derive(Default)]
struct State {
    module: Option<Module>,
    open: Option<Open>,
}

impl State {
    /// Closes the session, then finalizes the module (C_Finalize), so the
    /// next call starts from a fresh C_Initialize.
    fn reset(&mut self) {
        self.open = None;
        if let Some(module) = self.module.take() {
            let _ = module.finalize();
        }
    }
}

struct Open {
    session: Session,
    key: ObjectHandle,
}

/// The PIN from its file, wiped when dropped (as is cryptoki's `AuthPin`).
fn read_pin(s: &Pkcs11Settings) -> Result<Zeroizing<String>, ProviderError> {
    super::secret_file::read(&s.pin_file, "HSM PIN").map_err(ProviderError::Refused)
}

fn ck(what: &str, e: CkError) -> String {
    match e {
        CkError::Pkcs11(rv, function) => format!("{what}: {function:?} returned {rv:?}"),
        other => format!("{what}: {other}"),
    }
}

impl Pkcs11 {
    /// Loads the module, reads the PIN, opens a session and finds the key.
    pub async fn connect(s: &Pkcs11Settings) -> Result<Self, ProviderError> {
        let refused = ProviderError::Refused;
        if s.token_label.is_some() == s.slot.is_some() {
            return Err(refused(
                "[pkcs11] needs exactly one of token_label or slot".into(),
            ));
        }
        // Read once here so a missing or unreadable PIN file stops the start.
        drop(read_pin(s)?);
        let settings = s.clone();
        let described = format!(
            "PKCS#11 key {:?} on {} via {}",
            s.key_label,
            match (&s.token_label, s.slot) {
                (Some(label), _) => format!("token {label:?}"),
                (None, slot) => format!("slot {}", slot.unwrap_or_default()),
            },
            s.module.display()
        );
        let inner = Inner {
            settings,
            state: Mutex::new(State::default()),
        };
        let provider = Self {
            inner: Arc::new(inner),
            described,
        };
        // `connect::open` checks it right away (`health`): a wrong PIN or
        // label stops the start, not the first request.
        Ok(provider)
    }

    /// Runs `op` on the blocking pool with the open session (opening one
    /// first if needed); a failure that is not the ciphertext's drops it.
    async fn run<T: Send + 'static>(
        &self,
        op: impl FnOnce(&Inner, &Open) -> Result<T, ProviderError> + Send + 'static,
    ) -> Result<T, ProviderError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            // A panic inside a PKCS#11 call cannot leave the state half
            // written (each field is replaced whole): take a poisoned lock.
            let mut state = inner.state.lock().unwrap_or_else(|e| e.into_inner());
            let result = inner.with_session(&mut state, op);
            if matches!(result, Err(ProviderError::Unavailable(_))) {
                state.reset();
            }
            result
        })
        .await
        .map_err(|e| ProviderError::Unavailable(format!("PKCS#11 task failed: {e}")))?
    }
}

/// Loads and initializes the module.
fn load(path: &std::path::Path) -> Result<Module, ProviderError> {
    let module = Module::new(path).map_err(|e| {
        ProviderError::Refused(ck(
            &format!("cannot load PKCS#11 module {}", path.display()),
            e,
        ))
    })?;
    module
        .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .map_err(|e| ProviderError::Unavailable(ck("C_Initialize", e)))?;
    Ok(module)
}

impl Inner {
    /// Runs `op` on the session, loading the module and opening the
    /// session first when a failure (or the start) left none.
    fn with_session<T>(
        &self,
        state: &mut State,
        op: impl FnOnce(&Inner, &Open) -> Result<T, ProviderError>,
    ) -> Result<T, ProviderError> {
        if state.module.is_none() {
            state.module = Some(load(&self.settings.module)?);
        }
        let Some(module) = state.module.as_ref() else {
            return Err(ProviderError::Unavailable(
                "PKCS#11 module not loaded".into(),
            ));
        };
        if state.open.is_none() {
            state.open = Some(self.open_session(module)?);
        }
        match state.open.as_ref() {
            Some(open) => op(self, open),
            None => Err(ProviderError::Unavailable("no PKCS#11 session".into())),
        }
    }

    fn slot(&self, module: &Module) -> Result<Slot, ProviderError> {
        let slots = module
            .get_slots_with_token()
            .map_err(|e| ProviderError::Unavailable(ck("C_GetSlotList", e)))?;
        let found = match (&self.settings.token_label, self.settings.slot) {
            (Some(label), _) => slots.into_iter().find(|slot| {
                module
                    .get_token_info(*slot)
                    .is_ok_and(|info| info.label().trim_end() == label)
            }),
            (None, Some(id)) => slots.into_iter().find(|slot| slot.id() == id),
            (None, None) => None,
        };
        found.ok_or_else(|| {
            ProviderError::Unavailable(match &self.settings.token_label {
                Some(label) => format!("no PKCS#11 token labelled {label:?} is present"),
                None => "no PKCS#11 token in the configured slot".into(),
            })
        })
    }

    fn open_session(&self, module: &Module) -> Result<Open, ProviderError> {
        let slot = self.slot(module)?;
        let session = module
            .open_ro_session(slot)
            .map_err(|e| ProviderError::Unavailable(ck("C_OpenSession", e)))?;
        let pin = AuthPin::from(read_pin(&self.settings)?.as_str());
        match session.login(UserType::User, Some(&pin)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
            Err(CkError::Pkcs11(rv @ (RvError::PinIncorrect | RvError::PinLocked), _)) => {
                return Err(ProviderError::Refused(format!(
                    "PKCS#11 login refused ({rv:?}): check the PIN file"
                )))
            }
            Err(e) => return Err(ProviderError::Unavailable(ck("C_Login", e))),
        }
        let key = find_key(&session, &self.settings.key_label)?;
        Ok(Open { session, key })
    }

    /// An encryption under the key: proves token, session and key work.
    fn probe(&self, open: &Open) -> Result<(), ProviderError> {
        gcm_encrypt(open, PROBE_AAD, b"probe").map(|_| ())
    }
}

/// The one AES key labelled `label`, refused unless it is sensitive and
/// cannot be extracted: a key that can leave the token protects nothing
/// more than a key file.
fn find_key(session: &Session, label: &str) -> Result<ObjectHandle, ProviderError> {
    let template = [
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Label(label.as_bytes().to_vec()),
    ];
    let keys = session
        .find_objects(&template)
        .map_err(|e| ProviderError::Unavailable(ck("C_FindObjects", e)))?;
    let key = match keys.as_slice() {
        [key] => *key,
        [] => {
            return Err(ProviderError::Refused(format!(
                "no AES key labelled {label:?} on the token; create one with: hush server create-hsm-key"
            )))
        }
        _ => {
            return Err(ProviderError::Refused(format!(
                "{} AES keys are labelled {label:?} on the token; give hush's key a label of its own",
                keys.len()
            )))
        }
    };
    let attrs = session
        .get_attributes(
            key,
            &[
                AttributeType::Extractable,
                AttributeType::Sensitive,
                AttributeType::ValueLen,
            ],
        )
        .map_err(|e| ProviderError::Unavailable(ck("C_GetAttributeValue", e)))?;
    for attr in attrs {
        match attr {
            Attribute::Extractable(true) | Attribute::Sensitive(false) => {
                return Err(ProviderError::Refused(format!(
                    "the AES key {label:?} can be extracted from the token; hush needs one created sensitive and non-extractable (hush server create-hsm-key)"
                )))
            }
            Attribute::ValueLen(len) if u64::from(len) != 32 => {
                return Err(ProviderError::Refused(format!(
                    "the AES key {label:?} is not 256 bits"
                )))
            }
            _ => {}
        }
    }
    Ok(key)
}

/// IV || ciphertext || tag.
fn gcm_encrypt(open: &Open, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, ProviderError> {
    let mut iv = [0u8; IV_LEN];
    getrandom::getrandom(&mut iv)
        .map_err(|_| ProviderError::Unavailable("system random generator failed".into()))?;
    let params = GcmParams::new(&mut iv, aad, TAG_BITS.into())
        .map_err(|e| ProviderError::Refused(ck("AES-GCM parameters", e)))?;
    let sealed = open
        .session
        .encrypt(&Mechanism::AesGcm(params), open.key, plaintext)
        .map_err(|e| ProviderError::Unavailable(ck("C_Encrypt", e)))?;
    // Some tokens choose the IV themselves and write it back into `iv`.
    let mut out = Vec::with_capacity(IV_LEN + sealed.len());
    out.extend_from_slice(&iv);
    out.extend_from_slice(&sealed);
    Ok(out)
}

fn gcm_decrypt(
    open: &Open,
    aad: &[u8],
    wrapped: &[u8],
) -> Result<Zeroizing<Vec<u8>>, ProviderError> {
    if wrapped.len() < IV_LEN + 16 {
        return Err(ProviderError::Refused("not a PKCS#11 wrapped key".into()));
    }
    let mut iv = [0u8; IV_LEN];
    iv.copy_from_slice(&wrapped[..IV_LEN]);
    let params = GcmParams::new(&mut iv, aad, TAG_BITS.into())
        .map_err(|e| ProviderError::Refused(ck("AES-GCM parameters", e)))?;
    open.session
        .decrypt(&Mechanism::AesGcm(params), open.key, &wrapped[IV_LEN..])
        .map(Zeroizing::new)
        .map_err(|e| match e {
            // The tag did not verify: not our ciphertext, or moved.
            CkError::Pkcs11(
                RvError::EncryptedDataInvalid
                | RvError::EncryptedDataLenRange
                | RvError::DataInvalid,
                _,
            ) => ProviderError::Refused("the wrapped key does not open under the HSM key".into()),
            e => ProviderError::Unavailable(ck("C_Decrypt", e)),
        })
}

#[async_trait::async_trait]
impl RootKeyProvider for Pkcs11 {
    fn kind(&self) -> &'static str {
        "pkcs11"
    }

    fn describe(&self) -> String {
        self.described.clone()
    }

    async fn wrap(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, ProviderError> {
        let (aad, plaintext) = (aad.to_vec(), Zeroizing::new(plaintext.to_vec()));
        self.run(move |_, open| gcm_encrypt(open, &aad, &plaintext))
            .await
    }

    async fn unwrap(
        &self,
        aad: &[u8],
        wrapped: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, ProviderError> {
        let (aad, wrapped) = (aad.to_vec(), wrapped.to_vec());
        self.run(move |_, open| gcm_decrypt(open, &aad, &wrapped))
            .await
    }

    async fn health(&self) -> Result<(), ProviderError> {
        self.run(|inner, open| inner.probe(open)).await
    }
}

/// `hush server create-hsm-key`: a new AES-256 key on the token, labelled
/// as configured, a token object that is sensitive, non-extractable and
/// usable only to encrypt and decrypt. Refuses when the label is taken.
pub async fn create_key(s: &Pkcs11Settings) -> Result<(), ProviderError> {
    let settings = s.clone();
    drop(read_pin(s)?);
    tokio::task::spawn_blocking(move || {
        let module = load(&settings.module)?;
        let inner = Inner {
            settings,
            state: Mutex::new(State::default()),
        };
        let result = inner.generate(&module);
        let _ = module.finalize();
        result
    })
    .await
    .map_err(|e| ProviderError::Unavailable(format!("PKCS#11 task failed: {e}")))?
}

impl Inner {
    fn generate(&self, module: &Module) -> Result<(), ProviderError> {
        let slot = self.slot(module)?;
        let session = module
            .open_rw_session(slot)
            .map_err(|e| ProviderError::Unavailable(ck("C_OpenSession", e)))?;
        session
            .login(
                UserType::User,
                Some(&AuthPin::from(read_pin(&self.settings)?.as_str())),
            )
            .map_err(|e| ProviderError::Refused(ck("C_Login", e)))?;
        let label = self.settings.key_label.as_bytes().to_vec();
        let taken = session
            .find_objects(&[Attribute::Label(label.clone())])
            .map_err(|e| ProviderError::Unavailable(ck("C_FindObjects", e)))?;
        if !taken.is_empty() {
            return Err(ProviderError::Refused(format!(
                "the token already has an object labelled {:?}",
                self.settings.key_label
            )));
        }
        session
            .generate_key(&Mechanism::AesKeyGen, &key_template(label))
            .map_err(|e| ProviderError::Refused(ck("C_GenerateKey", e)))?;
        Ok(())
    }
}

/// The attributes of hush's root key on a token.
pub fn key_template(label: Vec<u8>) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::ValueLen(32.into()),
        Attribute::Label(label),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
        Attribute::Wrap(false),
        Attribute::Unwrap(false),
        Attribute::Sign(false),
        Attribute::Verify(false),
        Attribute::Derive(false),
    ]
}
