//! The web app's user accounts, pure: who a user is (`UserId`, `Email`, `DisplayName`), what
//! a new password must be (`check_new_password`), and what a user may do in a tenant
//! (`Role`). Every refusal is a `UserError` whose message can be shown next to the form field
//! it names.
//!
//! A user is global (one email, one password) and belongs to tenants through memberships, each
//! with its own role. Not here: hashing passwords (`crate::service::password`), storage
//! (`crate::store`), sessions and login throttling (`domain::throttle`). Tests at the bottom.

use crate::limits::{
    DISPLAY_NAME_CHARS_MAX, EMAIL_BYTES_MAX, PASSWORD_BYTES_MAX, PASSWORD_BYTES_MIN,
};
use std::fmt;

/// A user's row id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UserId(pub i64);

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Shortest email address, in bytes (`a@b` is the shortest text with a local part and a
/// domain; the rule on the domain's `.` then asks for more).
const EMAIL_BYTES_MIN: usize = 3;

/// An email address as a login name. Invariant: trimmed, ASCII letters lowercased (other
/// characters kept), 3 to `EMAIL_BYTES_MAX` bytes, exactly one `@` with a non-empty local part
/// before it and a domain after it that contains a `.` neither first nor last, no whitespace
/// and no control characters. Not a full RFC 5322 check: whether the address receives mail is
/// for a confirmation message to find out.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Email(String);

impl Email {
    /// Checks `text` against the rules of the type, after trimming and lowercasing it, so
    /// `Ann@Example.COM ` and `ann@example.com` are one address.
    pub fn parse(text: &str) -> Result<Email, UserError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(UserError::EmailMissing);
        }
        if text.len() > EMAIL_BYTES_MAX {
            return Err(UserError::EmailTooLong);
        }
        let clean = !text.chars().any(|c| c.is_whitespace() || c.is_control());
        let shaped = match text.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            }
            None => false,
        };
        if text.len() < EMAIL_BYTES_MIN || !clean || !shaped {
            return Err(UserError::EmailMalformed);
        }
        Ok(Email(text.to_ascii_lowercase()))
    }

    /// The address as stored and compared.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a user is called in the app. Invariant: trimmed, 1 to `DISPLAY_NAME_CHARS_MAX`
/// characters, no control characters.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DisplayName(String);

impl DisplayName {
    /// Checks `text` against the rules of the type, after trimming it.
    pub fn parse(text: &str) -> Result<DisplayName, UserError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(UserError::NameMissing);
        }
        // Counting stops one past the limit, so a huge text costs no more than a long name.
        if text.chars().take(DISPLAY_NAME_CHARS_MAX + 1).count() > DISPLAY_NAME_CHARS_MAX {
            return Err(UserError::NameTooLong);
        }
        if text.chars().any(char::is_control) {
            return Err(UserError::NameControl);
        }
        Ok(DisplayName(text.to_owned()))
    }

    /// The name as given, trimmed.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks a password a user is setting: `PASSWORD_BYTES_MIN` to `PASSWORD_BYTES_MAX` bytes,
/// anything else allowed (spaces, any script). Not trimmed: a password is taken as typed.
/// Logging in checks nothing of this: a password is only compared with the stored hash.
pub fn check_new_password(password: &str) -> Result<(), UserError> {
    if password.len() < PASSWORD_BYTES_MIN {
        return Err(UserError::PasswordTooShort);
    }
    if password.len() > PASSWORD_BYTES_MAX {
        return Err(UserError::PasswordTooLong);
    }
    Ok(())
}

/// What a member may do in a tenant. Owners manage the members; accountants write the books;
/// viewers read them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Owner,
    Accountant,
    Viewer,
}

impl Role {
    /// Every role, from the most to the least allowed (for a form's choices).
    pub const ALL: [Role; 3] = [Role::Owner, Role::Accountant, Role::Viewer];

    /// The stored and displayed name: `owner`, `accountant` or `viewer`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Accountant => "accountant",
            Role::Viewer => "viewer",
        }
    }

    /// `owner`, `accountant` or `viewer`, exactly.
    pub fn parse(text: &str) -> Result<Role, UserError> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == text)
            .ok_or(UserError::RoleUnknown)
    }

    /// Whether the role may change the books (owner, accountant).
    pub fn can_write(self) -> bool {
        matches!(self, Role::Owner | Role::Accountant)
    }

    /// Whether the role may add members and change their roles (owner only).
    pub fn can_manage_users(self) -> bool {
        matches!(self, Role::Owner)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a sign-up or account form was refused. `Display` is a sentence for the person filling
/// the form in; `field` names the form field it belongs next to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserError {
    /// The email field is empty (or only spaces).
    EmailMissing,
    /// The email address is over `EMAIL_BYTES_MAX` bytes.
    EmailTooLong,
    /// The text is not shaped like an email address.
    EmailMalformed,
    /// The name field is empty (or only spaces).
    NameMissing,
    /// The name is over `DISPLAY_NAME_CHARS_MAX` characters.
    NameTooLong,
    /// The name holds a control character (a line break, a tab...).
    NameControl,
    /// The password is under `PASSWORD_BYTES_MIN` bytes.
    PasswordTooShort,
    /// The password is over `PASSWORD_BYTES_MAX` bytes.
    PasswordTooLong,
    /// Not one of the roles.
    RoleUnknown,
}

impl UserError {
    /// The form field the error belongs to: `email`, `name`, `password` or `role`.
    pub fn field(&self) -> &'static str {
        match self {
            UserError::EmailMissing | UserError::EmailTooLong | UserError::EmailMalformed => {
                "email"
            }
            UserError::NameMissing | UserError::NameTooLong | UserError::NameControl => "name",
            UserError::PasswordTooShort | UserError::PasswordTooLong => "password",
            UserError::RoleUnknown => "role",
        }
    }
}

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UserError::EmailMissing => f.write_str("Enter your email address."),
            UserError::EmailTooLong => write!(
                f,
                "An email address can be at most {EMAIL_BYTES_MAX} bytes long."
            ),
            UserError::EmailMalformed => {
                f.write_str("Enter an email address like name@example.com, without spaces.")
            }
            UserError::NameMissing => f.write_str("Enter your name."),
            UserError::NameTooLong => write!(
                f,
                "A name can be at most {DISPLAY_NAME_CHARS_MAX} characters long."
            ),
            UserError::NameControl => {
                f.write_str("A name cannot contain line breaks, tabs or other control characters.")
            }
            UserError::PasswordTooShort => write!(
                f,
                "Choose a password of at least {PASSWORD_BYTES_MIN} characters."
            ),
            UserError::PasswordTooLong => write!(
                f,
                "A password can be at most {PASSWORD_BYTES_MAX} bytes long."
            ),
            UserError::RoleUnknown => f.write_str("Choose a role: owner, accountant or viewer."),
        }
    }
}

impl std::error::Error for UserError {}

#[cfg(test)]
mod tests {
    use super::*;

    /// An address of exactly `bytes` bytes: `a…a@example.com`.
    fn email_of(bytes: usize) -> String {
        let domain = "@example.com";
        format!("{}{domain}", "a".repeat(bytes - domain.len()))
    }

    #[test]
    fn emails_are_trimmed_and_lowercased() {
        let email = Email::parse("  Ann.Lee+Books@Example.COM \n").expect("valid");
        assert_eq!(email.as_str(), "ann.lee+books@example.com");
        assert_eq!(email.to_string(), "ann.lee+books@example.com");
        assert_eq!(
            Email::parse(email.as_str()),
            Ok(email),
            "parsing is idempotent"
        );
        // Only ASCII letters are folded; other characters are kept as written.
        assert_eq!(
            Email::parse("ÉLodie@Exemple.fr").expect("valid").as_str(),
            "Élodie@exemple.fr"
        );
    }

    #[test]
    fn malformed_emails_are_refused() {
        let cases = [
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "ann@.example.com",
            "ann@example.com.",
            "ann@@example.com",
            "ann@bob@example.com",
            "ann lee@example.com",
            "ann\u{a0}lee@example.com",
            "ann@exa\tmple.com",
            "ann\u{0}@example.com",
            "a@",
        ];
        for case in cases {
            assert_eq!(
                Email::parse(case),
                Err(UserError::EmailMalformed),
                "{case:?}"
            );
        }
        assert_eq!(Email::parse(""), Err(UserError::EmailMissing));
        assert_eq!(Email::parse("   "), Err(UserError::EmailMissing));
        assert!(
            Email::parse("a@b.c").is_ok(),
            "the shortest shape that passes"
        );
    }

    #[test]
    fn email_length_limit() {
        let longest = email_of(EMAIL_BYTES_MAX);
        assert_eq!(longest.len(), EMAIL_BYTES_MAX);
        assert!(Email::parse(&longest).is_ok());
        assert!(
            Email::parse(&format!("  {longest}  ")).is_ok(),
            "spaces are trimmed first"
        );
        assert_eq!(
            Email::parse(&email_of(EMAIL_BYTES_MAX + 1)),
            Err(UserError::EmailTooLong)
        );
        // Below the minimum: nothing that short is an address.
        assert_eq!(Email::parse("a@"), Err(UserError::EmailMalformed));
        assert_eq!("a@".len(), EMAIL_BYTES_MIN - 1);
    }

    #[test]
    fn display_names() {
        let name = DisplayName::parse("  Ann Lee ").expect("valid");
        assert_eq!(name.as_str(), "Ann Lee");
        assert_eq!(name.to_string(), "Ann Lee");
        assert!(DisplayName::parse("李小龍").is_ok());
        assert_eq!(DisplayName::parse(""), Err(UserError::NameMissing));
        assert_eq!(DisplayName::parse(" \t "), Err(UserError::NameMissing));
        assert_eq!(DisplayName::parse("Ann\nLee"), Err(UserError::NameControl));
        assert_eq!(DisplayName::parse("Ann\u{7f}"), Err(UserError::NameControl));
    }

    #[test]
    fn display_name_length_limit_counts_characters() {
        let longest = "é".repeat(DISPLAY_NAME_CHARS_MAX);
        assert!(
            longest.len() > DISPLAY_NAME_CHARS_MAX,
            "more bytes than characters"
        );
        assert!(DisplayName::parse(&longest).is_ok());
        assert_eq!(
            DisplayName::parse(&"é".repeat(DISPLAY_NAME_CHARS_MAX + 1)),
            Err(UserError::NameTooLong)
        );
        assert_eq!(
            DisplayName::parse(&"x".repeat(1_000_000)),
            Err(UserError::NameTooLong)
        );
    }

    #[test]
    fn password_length_limits() {
        assert_eq!(
            check_new_password(&"p".repeat(PASSWORD_BYTES_MIN - 1)),
            Err(UserError::PasswordTooShort)
        );
        assert_eq!(check_new_password(&"p".repeat(PASSWORD_BYTES_MIN)), Ok(()));
        assert_eq!(check_new_password(&"p".repeat(PASSWORD_BYTES_MAX)), Ok(()));
        assert_eq!(
            check_new_password(&"p".repeat(PASSWORD_BYTES_MAX + 1)),
            Err(UserError::PasswordTooLong)
        );
        assert_eq!(check_new_password(""), Err(UserError::PasswordTooShort));
        // Taken as typed: spaces count, nothing is trimmed.
        assert_eq!(check_new_password("          "), Ok(()));
    }

    #[test]
    fn roles() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Ok(role));
            assert_eq!(role.to_string(), role.as_str());
        }
        assert_eq!(
            Role::ALL.map(Role::as_str),
            ["owner", "accountant", "viewer"]
        );
        for bad in ["", "Owner", "admin", " viewer"] {
            assert_eq!(Role::parse(bad), Err(UserError::RoleUnknown), "{bad:?}");
        }
        assert_eq!(Role::ALL.map(Role::can_write), [true, true, false]);
        assert_eq!(Role::ALL.map(Role::can_manage_users), [true, false, false]);
    }

    #[test]
    fn every_error_names_its_field_and_says_what_to_do() {
        let cases = [
            (UserError::EmailMissing, "email"),
            (UserError::EmailTooLong, "email"),
            (UserError::EmailMalformed, "email"),
            (UserError::NameMissing, "name"),
            (UserError::NameTooLong, "name"),
            (UserError::NameControl, "name"),
            (UserError::PasswordTooShort, "password"),
            (UserError::PasswordTooLong, "password"),
            (UserError::RoleUnknown, "role"),
        ];
        for (error, field) in cases {
            assert_eq!(error.field(), field);
            let message = error.to_string();
            assert!(message.ends_with('.'), "{message}");
            assert!(message.starts_with(char::is_uppercase), "{message}");
        }
        assert_eq!(
            UserError::PasswordTooShort.to_string(),
            "Choose a password of at least 10 characters."
        );
        assert_eq!(
            UserError::EmailTooLong.to_string(),
            "An email address can be at most 254 bytes long."
        );
    }

    #[test]
    fn user_ids_display_as_numbers() {
        assert_eq!(UserId(42).to_string(), "42");
    }
}
