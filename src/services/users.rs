//! Organisers' accounts: creating them, signing in, changing passwords and roles.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use sha2::{Digest, Sha256};

use crate::db::users::User;
use crate::db::{self, Db, DbError};
use crate::domain::email::EmailAddress;
use crate::domain::field::FieldError;
use crate::domain::user::{NewPassword, Role};

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("enter a valid email address")]
    InvalidEmail,
    #[error("the password must be at least {} characters long", NewPassword::MIN_LEN)]
    WeakPassword(FieldError),
    #[error("an account with this email address exists already")]
    EmailTaken,
    #[error("the current password is not right")]
    WrongPassword,
    #[error("there is no such account")]
    NotFound,
    #[error("the last admin cannot be removed or demoted")]
    LastAdmin,
    #[error("cannot hash the password: {0}")]
    Hashing(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Hashes with Argon2id on a blocking thread: it takes tens of milliseconds on purpose.
async fn hash_password(password: &str) -> Result<String, UserError> {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|e| UserError::Hashing(e.to_string()))
    })
    .await
    .map_err(|e| UserError::Hashing(e.to_string()))?
}

async fn verify_password(password: &str, hash: &str) -> bool {
    let (password, hash) = (password.to_string(), hash.to_string());
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await
    .unwrap_or(false)
}

/// A hash that no password matches, verified when the email is unknown so that a wrong
/// address takes as long as a wrong password.
const DECOY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0i4fZvYwdPqRCUhCQXF2g0bUm1NyDZ2fMz2m3VwsUs0";

pub async fn create_user(db: &Db, email: &str, role: Role, password: &str) -> Result<User, UserError> {
    let email = EmailAddress::parse(email).map_err(|_| UserError::InvalidEmail)?;
    let password = NewPassword::parse(password).map_err(UserError::WeakPassword)?;
    let hash = hash_password(password.as_str()).await?;
    let id = db::users::insert(db, email.as_str(), &hash, role).await?.ok_or(UserError::EmailTaken)?;
    db::users::find_by_id(db, id).await?.ok_or(UserError::NotFound)
}

/// The account whose email and password these are, if any.
pub async fn authenticate(db: &Db, email: &str, password: &str) -> Result<Option<User>, UserError> {
    let Ok(email) = EmailAddress::parse(email) else {
        verify_password(password, DECOY_HASH).await;
        return Ok(None);
    };
    match db::users::find_by_email(db, email.as_str()).await? {
        Some(user) if verify_password(password, &user.password_hash).await => Ok(Some(user)),
        Some(_) => Ok(None),
        None => {
            verify_password(password, DECOY_HASH).await;
            Ok(None)
        }
    }
}

pub async fn change_password(db: &Db, user: &User, current: &str, new: &str) -> Result<User, UserError> {
    if !verify_password(current, &user.password_hash).await {
        return Err(UserError::WrongPassword);
    }
    let new = NewPassword::parse(new).map_err(UserError::WeakPassword)?;
    let hash = hash_password(new.as_str()).await?;
    db::users::set_password_hash(db, user.id, &hash).await?;
    db::users::find_by_id(db, user.id).await?.ok_or(UserError::NotFound)
}

pub async fn set_role(db: &Db, user_id: i64, role: Role) -> Result<(), UserError> {
    db::users::find_by_id(db, user_id).await?.ok_or(UserError::NotFound)?;
    if db::users::set_role(db, user_id, role).await? { Ok(()) } else { Err(UserError::LastAdmin) }
}

pub async fn delete_user(db: &Db, user_id: i64) -> Result<(), UserError> {
    db::users::find_by_id(db, user_id).await?.ok_or(UserError::NotFound)?;
    if db::users::delete(db, user_id).await? { Ok(()) } else { Err(UserError::LastAdmin) }
}

/// Changes whenever the password does: stored in a session, it signs out every other
/// session of the account when its password is changed.
pub fn session_fingerprint(user: &User) -> String {
    let digest = Sha256::digest(user.password_hash.as_bytes());
    digest.iter().take(12).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only_and_the_decoy_nothing() {
        let hash = hash_password("correct horse battery").await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &hash).await);
        assert!(!verify_password("wrong horse battery", &hash).await);
        assert!(!verify_password("correct horse battery", DECOY_HASH).await);
    }
}
