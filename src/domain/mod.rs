//! Pure types and rules of an action page: what a page is made of, what a supporter may
//! submit, how a letter is composed and how the counter is computed. No HTTP, no SQL.

pub mod action;
pub mod counter;
pub mod country;
mod country_table;
pub mod email;
pub mod field;
pub mod letter;
pub mod locale;
pub mod markdown;
pub mod merge;
pub mod page;
pub mod postal_code;
pub mod slug;
mod text;
pub mod user;
