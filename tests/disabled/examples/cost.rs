//! Cost of a `#[trace]`d empty function with instrumentation compiled out, against
//! the same function untraced, measured in one run:
//! `CARGO_TARGET_DIR=target/disabled cargo run --release --manifest-path tests/disabled/Cargo.toml --example cost`.

use std::hint::black_box;
use std::time::Instant;
use tg4p_disabled_check::{plain_empty, traced_empty};

fn ns_per_call(f: fn()) -> f64 {
    const N: u32 = 50_000_000;
    (0..5)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..N {
                black_box(f)();
            }
            t.elapsed().as_nanos() as f64 / N as f64
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let traced = ns_per_call(traced_empty);
    let plain = ns_per_call(plain_empty);
    println!("disabled build: #[trace] empty fn {traced:.3} ns/call, untraced {plain:.3} ns/call");
}
