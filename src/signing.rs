//! Tokens signed with the site's secret key, for links in emails (unsubscribe): the token
//! carries the id it is for, and a MAC that only this site can make.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

#[derive(Clone)]
pub struct Signer {
    key: Vec<u8>,
}

const TAG_BYTES: usize = 16;

impl Signer {
    pub fn new(key: &[u8]) -> Self {
        Self { key: key.to_vec() }
    }

    /// HMAC-SHA256 of `data` for `purpose`: a tag for one purpose never verifies for another.
    pub(crate) fn mac(&self, purpose: &str, data: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC accepts keys of any length");
        mac.update(purpose.as_bytes());
        mac.update(b":");
        mac.update(data);
        mac
    }

    /// A token that proves `id` was given out for `purpose`.
    pub fn sign(&self, purpose: &str, id: i64) -> String {
        let tag = self.mac(purpose, &id.to_be_bytes()).finalize().into_bytes();
        let mut bytes = id.to_be_bytes().to_vec();
        bytes.extend_from_slice(&tag[..TAG_BYTES]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The id in `token`, if this site signed it for `purpose`.
    pub fn verify(&self, purpose: &str, token: &str) -> Option<i64> {
        let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
        if bytes.len() != 8 + TAG_BYTES {
            return None;
        }
        let id = i64::from_be_bytes(bytes[..8].try_into().ok()?);
        self.mac(purpose, &id.to_be_bytes()).verify_truncated_left(&bytes[8..]).ok()?;
        Some(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_for_their_id_and_purpose_only() {
        let signer = Signer::new(b"site key");
        let token = signer.sign("unsubscribe", 42);
        assert_eq!(signer.verify("unsubscribe", &token), Some(42));
        assert_eq!(signer.verify("confirm", &token), None);
        assert_eq!(Signer::new(b"other key").verify("unsubscribe", &token), None);
        let mut tampered = URL_SAFE_NO_PAD.decode(&token).unwrap();
        tampered[7] ^= 1;
        assert_eq!(signer.verify("unsubscribe", &URL_SAFE_NO_PAD.encode(tampered)), None);
        assert_eq!(signer.verify("unsubscribe", "garbage"), None);
    }
}
