//! rustc's `dead_code` lint still sees traced functions that nothing calls.
#![deny(dead_code)]

#[tg4p::trace]
fn never_called() {}

#[tg4p::trace_args(ret)]
fn never_called_either(x: u32) -> u32 { x }

#[tg4p::trace]
async fn never_awaited() {}

fn main() {}
