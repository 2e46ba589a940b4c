#[tg4p::trace_args(skip(secret, y))]
fn f(secret: u32, x: u32) -> u32 {
    secret + x
}

fn main() {}
