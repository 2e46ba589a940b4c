//! What users write most, built with warnings denied: no warning of tg4p's may
//! appear in a user's build.
#![deny(warnings)]

static TOP: tg4p::Track = tg4p::Track::new("TOP");
static ACTIVE: tg4p::Counter = tg4p::Counter::new("active");

// One-expression bodies: their braces are not "unnecessary".
#[tg4p::trace]
fn one_expression(x: u32) -> u32 { x + 1 }

#[tg4p::trace(ret)]
fn one_expression_ret(x: u32) -> u32 { x * 2 }

#[tg4p::trace(track = TOP)]
fn one_expression_on_track(x: &[u32]) -> bool { x.is_sorted() }

#[tg4p::trace]
async fn one_expression_async(x: u32) -> u32 { x + 1 }

#[tg4p::trace(future)]
fn one_expression_future(x: u32) -> impl std::future::Future<Output = u32> { async move { x } }

#[derive(Debug)]
struct S(u32);

impl S {
    #[tg4p::trace]
    fn get(&self) -> u32 { self.0 }

    #[tg4p::trace_args(ret)]
    async fn get_async(&self) -> u32 { self.0 }
}

// Arguments only `#[trace_args]` uses, and an empty body.
#[tg4p::trace_args]
fn recorded_only(x: &mut [u32], a: &[u32], b: &[u32]) {}

fn main() {
    let _ = one_expression(1) + one_expression_ret(2);
    let _ = one_expression_on_track(&[1, 2]);
    drop(one_expression_async(1));
    drop(one_expression_future(1));
    let s = S(3);
    let _ = s.get();
    drop(s.get_async());
    recorded_only(&mut [0; 2], &[1], &[2]);
    let [flow] = tg4p::instant!("INVOKE", outgoing = 1);
    let _span = tg4p::span!(TOP, "SORT", n = 3).incoming(&[flow]);
    tg4p::count!(ACTIVE += 1);
    tg4p::count!(ACTIVE = 2);
    tg4p::count!("queue_depth" = 7.5);
}
