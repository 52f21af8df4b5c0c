//! Protection against cross-site request forgery without server-side sessions: a random
//! value in an HttpOnly cookie, and in each form an HMAC of that value under the site's
//! secret key (the "signed double-submit cookie"). A forged form from another site has
//! neither the cookie's value nor the key, so it cannot produce a matching token; and no
//! database write is needed to show a page.

use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::Mac;

use crate::signing::Signer;

pub const COOKIE_NAME: &str = "undersigned_csrf";
/// Form field that carries the token.
pub const FIELD_NAME: &str = "csrf_token";

const NONCE_BYTES: usize = 32;

#[derive(Clone)]
pub struct Csrf {
    signer: Signer,
    secure_cookie: bool,
}

impl Csrf {
    /// `secure_cookie`: mark the cookie Secure (the site is served over https).
    pub fn new(key: &[u8], secure_cookie: bool) -> Self {
        Self { signer: Signer::new(key), secure_cookie }
    }

    /// The token to put in a form. Reuses the visitor's cookie when it is well formed,
    /// so that several open tabs keep working; otherwise adds a new one to the jar.
    pub fn issue(&self, jar: CookieJar) -> (CookieJar, String) {
        if let Some(nonce) = jar.get(COOKIE_NAME).map(|c| c.value().to_string()).filter(|n| well_formed(n)) {
            let token = self.sign(&nonce);
            return (jar, token);
        }
        let nonce = URL_SAFE_NO_PAD.encode(rand::random::<[u8; NONCE_BYTES]>());
        let token = self.sign(&nonce);
        let cookie = Cookie::build((COOKIE_NAME, nonce))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.secure_cookie)
            .build();
        (jar.add(cookie), token)
    }

    /// Whether `token` was issued for the visitor's cookie. Compared in constant time.
    pub fn verify(&self, jar: &CookieJar, token: &str) -> bool {
        let Some(nonce) = jar.get(COOKIE_NAME).map(|c| c.value()).filter(|n| well_formed(n)) else {
            return false;
        };
        let Ok(tag) = URL_SAFE_NO_PAD.decode(token.trim()) else {
            return false;
        };
        self.mac(nonce).verify_slice(&tag).is_ok()
    }

    fn sign(&self, nonce: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(nonce).finalize().into_bytes())
    }

    fn mac(&self, nonce: &str) -> hmac::Hmac<sha2::Sha256> {
        self.signer.mac("undersigned-csrf-v1", nonce.as_bytes())
    }
}

fn well_formed(nonce: &str) -> bool {
    URL_SAFE_NO_PAD.decode(nonce).is_ok_and(|bytes| bytes.len() == NONCE_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_verifies_only_with_its_own_cookie_and_key() {
        let csrf = Csrf::new(b"a key of the site that is long enough", false);
        let (jar, token) = csrf.issue(CookieJar::new());
        assert!(csrf.verify(&jar, &token));

        let (other_jar, other_token) = csrf.issue(CookieJar::new());
        assert!(!csrf.verify(&jar, &other_token));
        assert!(!csrf.verify(&other_jar, &token));
        assert!(!csrf.verify(&CookieJar::new(), &token));
        assert!(!csrf.verify(&jar, ""));
        assert!(!Csrf::new(b"another key", false).verify(&jar, &token));
    }

    #[test]
    fn an_existing_cookie_is_reused_so_open_tabs_keep_working() {
        let csrf = Csrf::new(b"key", true);
        let (jar, first) = csrf.issue(CookieJar::new());
        let cookie = jar.get(COOKIE_NAME).unwrap();
        assert!(cookie.http_only().unwrap() && cookie.secure().unwrap());
        let (jar, second) = csrf.issue(jar);
        assert_eq!(first, second);
        assert!(csrf.verify(&jar, &first));
    }
}
