#[tg4p::trace_args]
fn f((a, b): (u32, u32)) -> u32 {
    a + b
}

trait T {
    #[tg4p::trace]
    fn no_body(&self);
}

fn main() {}
