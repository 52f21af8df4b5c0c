//! Undersigned: self-hostable action pages for advocacy campaigns.
//!
//! - [`domain`]: pure types and rules (pages, blocks, submissions, letters, counters).
//! - [`db`]: storage on SQLite (default) or PostgreSQL, chosen by the database URL.
//! - [`services`]: use cases shared by the public site, the command line and, later, the
//!   organisers' workspace and the API (`take_action`, `import_page`, ...).
//! - [`web`] and [`api`]: thin HTTP adapters over the services.
//! - [`config`], [`startup`] and [`telemetry`]: configuration and the server's assembly.

pub mod admin;
pub mod api;
pub mod config;
pub mod db;
pub mod domain;
pub mod email;
pub mod jobs;
pub mod services;
pub mod signing;
pub mod startup;
pub mod telemetry;
pub mod web;
