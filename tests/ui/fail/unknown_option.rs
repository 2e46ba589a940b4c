#[tg4p::trace(nmae = "x")]
fn a() {}

#[tg4p::trace_args(skip_al)]
fn b(_x: u32) {}

#[tg4p::trace(skip(x))]
fn c(_x: u32) {}

fn main() {}
