//! Use cases shared by the public site, the command line and, later, the organisers'
//! workspace and the API. Handlers call these; business rules never live in handlers.

pub mod actions;
pub mod compose;
pub mod demo;
pub mod digests;
pub mod exports;
pub mod page_edits;
pub mod page_views;
pub mod pages;
pub mod targets;
pub mod users;
