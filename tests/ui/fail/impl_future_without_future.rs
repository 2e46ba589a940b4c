//! `#[trace]` on a function returning `impl Future` without `future` would time
//! only the call that builds the future: a warning (an error here) that says so.
#![deny(warnings)]

#[tg4p::trace]
fn fetch(id: u32) -> impl std::future::Future<Output = u32> {
    async move { id }
}

fn main() {
    drop(fetch(1));
}
