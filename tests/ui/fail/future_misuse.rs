#[tg4p::trace(future)]
fn not_a_future() -> u32 {
    1
}

#[tg4p::trace_args(future)]
fn args_moved(x: u32) -> impl std::future::Future<Output = u32> {
    async move { x }
}

fn main() {}
