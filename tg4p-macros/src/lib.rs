//! Attribute macros of tg4p.
