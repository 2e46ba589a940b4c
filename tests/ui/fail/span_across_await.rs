// `span!`'s guard belongs to the thread's track: held across an `.await`, it
// makes the future not `Send`, so a multi-thread executor rejects it. The docs
// point to `async_span!`, whose guard is `Send`.
fn spawn<F: std::future::Future + Send + 'static>(_: F) {}

async fn step() {}

#[tg4p::trace]
async fn handler() {
    let _scope = tg4p::span!("parse");
    step().await;
}

async fn untraced() {
    let _scope = tg4p::span!("parse");
    step().await;
}

async fn fine() {
    let _scope = tg4p::async_span!("parse");
    step().await;
}

fn main() {
    spawn(handler());
    spawn(untraced());
    spawn(fine());
}
