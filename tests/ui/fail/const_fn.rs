#[tg4p::trace]
const fn f() -> u32 {
    1
}

fn main() {}
