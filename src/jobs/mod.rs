//! Background work: delivering the outbox.

pub mod outbox;
