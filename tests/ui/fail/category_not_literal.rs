//! A category is a string literal, known at compile time: each macro says so.

const DB: &str = "db";

#[tg4p::trace(category = DB)]
fn a() {}

#[tg4p::trace_args(category = concat!("d", "b"))]
fn b(_x: u32) {}

static QUEUE: tg4p::Counter = tg4p::Counter::new("queue");

fn main() {
    let _s = tg4p::span!("s", category = DB);
    tg4p::instant!("i", category = DB, n = 1);
    let _a = tg4p::async_span!("a", category = DB);
    tg4p::count!("queue_depth" = 3, category = DB);
    tg4p::count!(QUEUE += 1, category = "db");
}
