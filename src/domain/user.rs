//! Organisers' accounts: their roles and what each role may do.

use crate::domain::field::FieldError;

/// What an organiser may do. Admins: everything. Editors: campaigns, pages and their
/// content, actions and exports; not scripts blocks, not users. Viewers: pages and
/// figures only, never personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Editor,
    Viewer,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Editor, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Editor => "editor",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(input: &str) -> Option<Self> {
        Role::ALL.into_iter().find(|role| role.as_str() == input)
    }

    pub fn can_edit_pages(self) -> bool {
        matches!(self, Role::Admin | Role::Editor)
    }

    /// Scripts blocks run code on the public page: admins only.
    pub fn can_edit_scripts(self) -> bool {
        self == Role::Admin
    }

    pub fn can_manage_users(self) -> bool {
        self == Role::Admin
    }

    /// Names, emails, messages, and exports of them.
    pub fn can_see_personal_data(self) -> bool {
        matches!(self, Role::Admin | Role::Editor)
    }
}

/// A password that is long enough to resist guessing. Length beats composition rules.
pub struct NewPassword(String);

impl NewPassword {
    pub const MIN_LEN: usize = 12;
    pub const MAX_LEN: usize = 1024;

    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let length = input.chars().count();
        if length == 0 {
            Err(FieldError::Required)
        } else if length > Self::MAX_LEN {
            Err(FieldError::TooLong { max: Self::MAX_LEN })
        } else if length < Self::MIN_LEN {
            Err(FieldError::TooShort { min: Self::MIN_LEN })
        } else {
            Ok(Self(input.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_admins_touch_scripts_and_users_and_viewers_see_no_personal_data() {
        assert!(Role::Admin.can_edit_scripts() && Role::Admin.can_manage_users());
        assert!(Role::Editor.can_edit_pages() && !Role::Editor.can_edit_scripts() && !Role::Editor.can_manage_users());
        assert!(!Role::Viewer.can_edit_pages() && !Role::Viewer.can_see_personal_data());
        assert_eq!(Role::parse("editor"), Some(Role::Editor));
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn passwords_must_be_long_enough() {
        assert_eq!(NewPassword::parse("short").err(), Some(FieldError::TooShort { min: 12 }));
        assert!(NewPassword::parse("correct horse battery").is_ok());
    }
}
