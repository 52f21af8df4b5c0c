//! Integration tests: each starts the real server on a random port against a fresh
//! database and speaks HTTP to it.

mod admin_access;
mod admin_actions;
mod admin_builder;
mod bench_smoke;
mod browser;
mod cli;
mod counter;
mod durability;
mod email;
mod export_memory;
mod helpers;
mod page;
mod scale;
mod take_action;
mod targeting;
