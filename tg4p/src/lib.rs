//! tg4p
