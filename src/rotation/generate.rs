//! How a rotation makes a new value: `hex:N` and `base64:N` (N random
//! bytes, encoded like `openssl rand -hex N` / `-base64 N`), `uuid` (a
//! random v4 UUID), or `chars:LEN:ALPHABET` (LEN characters drawn uniformly
//! from an alphabet: named sets joined by `+`, e.g. `alnum+symbols`, or the
//! characters themselves after `=`, e.g. `=abc123`).
//!
//! Randomness comes from the operating system; characters are drawn by
//! rejection sampling, so no character is likelier than another.

use super::limits::{MAX_ALPHABET, MAX_GENERATED, MIN_GENERATED};
use base64::Engine;
use zeroize::Zeroizing;

const SETS: [(&str, &str); 7] = [
    ("lower", "abcdefghijklmnopqrstuvwxyz"),
    ("upper", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    ("digits", "0123456789"),
    (
        "alpha",
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    ),
    (
        "alnum",
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    ),
    // Safe inside a URL's user-info, a shell word and a .env value alike.
    ("urlsafe", "-_.~"),
    ("symbols", "!#$%&()*+,-./:;<=>?@[]^_{|}~"),
];

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Generator {
    Hex(usize),
    Base64(usize),
    Uuid,
    Chars {
        len: usize,
        /// As written after the length (`alnum`, `=abc`), for display.
        spec: String,
        alphabet: Vec<u8>,
    },
}

fn length(text: &str, what: &str) -> Result<usize, String> {
    let n: usize = text
        .parse()
        .map_err(|_| format!("invalid {what} {text:?}: use a number"))?;
    if !(MIN_GENERATED..=MAX_GENERATED).contains(&n) {
        return Err(format!(
            "{what} {n} is out of range: from {MIN_GENERATED} to {MAX_GENERATED}"
        ));
    }
    Ok(n)
}

fn alphabet(spec: &str) -> Result<Vec<u8>, String> {
    let mut chars: Vec<u8> = Vec::new();
    if let Some(literal) = spec.strip_prefix('=') {
        if !literal.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("a literal alphabet takes printable ASCII characters only".into());
        }
        chars.extend(literal.bytes());
    } else {
        for name in spec.split('+') {
            let set = SETS
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, set)| set)
                .ok_or_else(|| {
                    let names: Vec<&str> = SETS.iter().map(|(n, _)| *n).collect();
                    format!(
                        "unknown alphabet {name:?}: use {} (joined by +), or =CHARACTERS",
                        names.join(", ")
                    )
                })?;
            chars.extend(set.bytes());
        }
    }
    chars.sort_unstable();
    chars.dedup();
    if chars.len() < 2 || chars.len() > MAX_ALPHABET {
        return Err(format!(
            "an alphabet needs from 2 to {MAX_ALPHABET} distinct characters"
        ));
    }
    Ok(chars)
}

impl Generator {
    pub fn parse(text: &str) -> Result<Generator, String> {
        let text = text.trim();
        if text == "uuid" {
            return Ok(Generator::Uuid);
        }
        let (kind, rest) = text.split_once(':').ok_or_else(|| {
            format!("invalid generator {text:?}: use hex:N, base64:N, uuid or chars:LEN[:ALPHABET]")
        })?;
        match kind {
            "hex" => Ok(Generator::Hex(length(rest, "byte count")?)),
            "base64" => Ok(Generator::Base64(length(rest, "byte count")?)),
            "chars" => {
                let (len, spec) = rest.split_once(':').unwrap_or((rest, "alnum"));
                Ok(Generator::Chars {
                    len: length(len, "length")?,
                    spec: spec.to_owned(),
                    alphabet: alphabet(spec)?,
                })
            }
            _ => Err(format!(
                "invalid generator {text:?}: use hex:N, base64:N, uuid or chars:LEN[:ALPHABET]"
            )),
        }
    }

    /// As stored and shown; `parse` reads it back.
    pub fn stored(&self) -> String {
        match self {
            Generator::Hex(n) => format!("hex:{n}"),
            Generator::Base64(n) => format!("base64:{n}"),
            Generator::Uuid => "uuid".into(),
            Generator::Chars { len, spec, .. } => format!("chars:{len}:{spec}"),
        }
    }

    pub fn generate(&self) -> Result<Zeroizing<String>, String> {
        let random = |n: usize| -> Result<Zeroizing<Vec<u8>>, String> {
            let mut bytes = Zeroizing::new(vec![0u8; n]);
            getrandom::getrandom(&mut bytes)
                .map_err(|e| format!("the operating system gave no randomness: {e}"))?;
            Ok(bytes)
        };
        Ok(match self {
            Generator::Hex(n) => Zeroizing::new(hex::encode(&*random(*n)?)),
            Generator::Base64(n) => {
                Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(&*random(*n)?))
            }
            Generator::Uuid => {
                let bytes = random(16)?;
                let mut b = [0u8; 16];
                b.copy_from_slice(&bytes);
                let id = uuid::Builder::from_random_bytes(b).into_uuid();
                b.fill(0);
                Zeroizing::new(id.hyphenated().to_string())
            }
            Generator::Chars { len, alphabet, .. } => {
                // Bytes at or above `limit` would favour the first
                // characters of the alphabet: they are drawn again.
                let n = alphabet.len();
                let limit = 256 - 256 % n;
                let mut out = Zeroizing::new(String::with_capacity(*len));
                while out.len() < *len {
                    for b in random(*len * 2)?.iter() {
                        if usize::from(*b) < limit && out.len() < *len {
                            out.push(char::from(alphabet[usize::from(*b) % n]));
                        }
                    }
                }
                out
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_has_its_shape() {
        let hex = Generator::parse("hex:16").unwrap().generate().unwrap();
        assert!(hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()));
        let b64 = Generator::parse("base64:33").unwrap().generate().unwrap();
        assert_eq!(b64.len(), 44);
        let id = Generator::parse("uuid").unwrap().generate().unwrap();
        assert_eq!(uuid::Uuid::parse_str(&id).unwrap().get_version_num(), 4);
        let pin = Generator::parse("chars:12:digits")
            .unwrap()
            .generate()
            .unwrap();
        assert!(pin.len() == 12 && pin.bytes().all(|b| b.is_ascii_digit()));
        let lit = Generator::parse("chars:64:=ab")
            .unwrap()
            .generate()
            .unwrap();
        assert!(lit.bytes().all(|b| b == b'a' || b == b'b'));
        let g = Generator::parse("chars:40").unwrap();
        assert_eq!(g.stored(), "chars:40:alnum");
        assert_eq!(Generator::parse(&g.stored()).unwrap(), g);
        assert_ne!(g.generate().unwrap(), g.generate().unwrap());
    }

    #[test]
    fn refuses_weak_or_unknown_specs() {
        for bad in [
            "hex:4",
            "hex:x",
            "base64:5000",
            "chars:7",
            "chars:20:emoji",
            "chars:20:=a",
            "chars:20:=a b",
            "md5:8",
            "",
            "uuid:4",
        ] {
            assert!(Generator::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn draws_every_character_of_the_alphabet() {
        let g = Generator::parse("chars:1024:=abc").unwrap();
        let v = g.generate().unwrap();
        for c in ['a', 'b', 'c'] {
            assert!(v.chars().filter(|x| *x == c).count() > 200);
        }
    }
}
