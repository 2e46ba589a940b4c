//! Categories on every macro, with and without tracks, args and flows: they
//! compile without a warning.
#![deny(warnings)]

static QUERIES: tg4p::Track = tg4p::Track::new("queries").category("db");
static POOL: tg4p::Counter = tg4p::Counter::new("pool").category("db");

#[tg4p::trace(category = "db")]
fn query(n: u32) -> u32 {
    n + 1
}

#[tg4p::trace(category = "db", track = QUERIES, ret, name = "on track")]
fn on_track() -> u8 {
    1
}

#[tg4p::trace_args(category = "db", skip(secret))]
fn with_args(key: u32, secret: &str) -> usize {
    key as usize + secret.len()
}

#[tg4p::trace(category = "net")]
async fn fetch() -> u32 {
    let _s = tg4p::async_span!("parse", category = "net", bytes = 10);
    3
}

fn main() {
    query(1);
    on_track();
    with_args(1, "x");
    let _ = fetch();
    let _s = tg4p::span!("s", category = "db", rows = 3);
    let _t = tg4p::span!(QUERIES, "scan", category = "cache");
    let [flow] = tg4p::instant!("i", category = "db", outgoing = 1, n = 2);
    tg4p::instant!(QUERIES, "row", incoming = [flow], category = "db");
    tg4p::count!("queue" = 3, category = "db");
    tg4p::count!("queue" += 1, category = "db");
    tg4p::count!(POOL += 1);
}
