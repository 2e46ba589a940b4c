#![deny(warnings)]
//! Every kind of function `#[trace]` / `#[trace_args]` accepts.
use std::fmt::Debug;
use std::pin::Pin;

static TOP: tg4p::Track = tg4p::Track::new("TOP");

#[derive(Debug, Default)]
struct S {
    n: u32,
}

impl S {
    #[tg4p::trace]
    fn new() -> Self {
        S::default()
    }
    #[tg4p::trace_args]
    fn by_ref(&self) -> u32 {
        self.n
    }
    #[tg4p::trace_args(name = "S::by_mut", track = TOP)]
    fn by_mut(&mut self, by: u32) -> &mut Self {
        self.n += by;
        self
    }
    #[tg4p::trace_args]
    fn by_value(self) -> u32 {
        self.n
    }
    #[tg4p::trace_args]
    fn boxed(self: Box<Self>) -> u32 {
        self.n
    }
    #[tg4p::trace_args(skip(self))]
    fn pinned(self: Pin<&mut Self>) -> u32 {
        self.n
    }
}

trait Named {
    fn name(&self) -> String;
    #[tg4p::trace]
    fn greet(&self) -> String {
        format!("hi {}", self.name())
    }
}

impl Named for S {
    #[tg4p::trace_args]
    fn name(&self) -> String {
        self.n.to_string()
    }
}

#[tg4p::trace_args]
fn generic<'a, T, const N: usize>(xs: &'a [T; N], extra: impl Debug) -> Option<&'a T>
where
    T: Debug + PartialOrd,
{
    let _ = extra;
    xs.iter().fold(None, |m, x| match m {
        Some(m) if m >= x => Some(m),
        _ => Some(x),
    })
}

#[tg4p::trace]
fn question(s: &str) -> Result<u32, std::num::ParseIntError> {
    if s.is_empty() {
        return Ok(0);
    }
    let v: u32 = s.parse()?;
    Ok(v)
}

#[tg4p::trace]
fn returns_impl() -> impl Iterator<Item = u8> {
    0..3
}

#[tg4p::trace]
fn inferred() -> Vec<u8> {
    (0..3).collect()
}

/// # Safety
/// None needed; `unsafe` is kept.
#[tg4p::trace]
#[inline]
#[must_use]
unsafe fn unsafe_fn() -> u8 {
    1
}

#[tg4p::trace_args]
async fn async_fn(x: u32) -> u32 {
    x
}

impl S {
    #[tg4p::trace_args(skip(self))]
    async fn async_method(&self, y: u32) -> u32 {
        self.n + y
    }
}

#[tg4p::trace(future)]
fn impl_future(x: u32) -> impl std::future::Future<Output = u32> + Send {
    async move { x }
}

#[tg4p::trace]
fn boxed_future(x: &u32) -> Pin<Box<dyn std::future::Future<Output = u32> + Send + '_>> {
    Box::pin(async move { *x })
}

#[tg4p::trace(crate = ::tg4p)]
fn with_crate_path() {}

// `ret`: the return value recorded; inference, `?`, `return`, borrows from the
// receiver and `impl Trait` keep working, and futures stay `Send`.
#[derive(Debug)]
struct R {
    v: Vec<u32>,
}

impl R {
    #[tg4p::trace(ret)]
    fn first_mut(&mut self) -> Option<&mut u32> {
        self.v.first_mut()
    }

    #[tg4p::trace_args(ret)]
    fn name(&self) -> &str {
        if self.v.is_empty() {
            return "empty";
        }
        "full"
    }

    #[tg4p::trace(ret)]
    async fn total(&self) -> u32 {
        self.v.iter().sum()
    }
}

#[tg4p::trace_args(ret)]
fn generic_ret<'a, T: std::fmt::Debug + Clone, const N: usize>(x: &'a [T; N]) -> Vec<T>
where
    T: 'a,
{
    x.iter().cloned().collect()
}

#[tg4p::trace(ret)]
fn question_ret(s: &str) -> Result<u32, Box<dyn std::error::Error>> {
    Ok(s.parse::<u32>()?)
}

#[tg4p::trace(ret)]
fn impl_ret() -> impl Iterator<Item = u8> + std::fmt::Debug {
    (0..3).collect::<Vec<u8>>().into_iter()
}

#[tg4p::trace(ret)]
unsafe fn unsafe_ret(p: *const u32) -> u32 {
    // SAFETY: the caller's contract.
    unsafe { *p }
}

#[tg4p::trace(ret)]
async fn async_question(s: String) -> Result<u32, std::num::ParseIntError> {
    Ok(s.parse::<u32>()? + 1)
}

#[tg4p::trace(ret)]
fn boxed_ret(x: &u32) -> Pin<Box<dyn std::future::Future<Output = u32> + Send + '_>> {
    Box::pin(async move { *x })
}

// `async fn`s become functions returning their future: lifetimes (named, elided,
// of the receiver), argument patterns, `mut` arguments, traits.
struct Guard;

#[tg4p::trace]
async fn borrows<'a>(x: &'a str, y: &str) -> &'a str {
    let _ = y.len();
    x
}

#[tg4p::trace]
async fn patterns((a, b): (u32, u32), _: Guard, mut c: u32, _unused: Guard) -> u32 {
    c += a + b;
    c
}

trait Service {
    async fn call(&self, x: &str) -> usize;

    #[tg4p::trace]
    async fn default_call(&self, x: &str) -> usize {
        x.len()
    }
}

impl Service for S {
    #[tg4p::trace_args(skip(self), ret)]
    async fn call(&self, x: &str) -> usize {
        x.len() + self.n as usize
    }
}

#[tg4p::trace]
async fn awaits_traced(s: &S) -> usize {
    use tg4p::Traced;
    let scope = tg4p::async_span!("scope", n = s.n);
    let n = s.call("ab").await + s.default_call("c").await;
    drop(scope);
    let m = async { 1 }.traced("block").ret().await;
    n + m + borrows("x", "y").await.len()
}

// Another attribute macro after `#[trace]` (here `#[trace]` itself) may expect an
// `async fn`: the outer one keeps it one.
#[tg4p::trace(name = "outer")]
#[tg4p::trace(ret)]
async fn traced_twice(x: u32, (y, _): (u32, u32)) -> u32 {
    x + y
}

fn assert_send<T: Send>(_: T) {}

fn main() {
    let mut s = S::new();
    s.by_mut(1);
    let _ = (s.by_ref(), s.greet());
    let _ = Box::new(S::new()).boxed();
    let _ = Pin::new(&mut s).pinned();
    let _ = generic(&[1, 2], "x");
    let _ = (question("1"), returns_impl().count(), inferred());
    // SAFETY: no contract.
    let _ = unsafe { unsafe_fn() };
    assert_send(async_fn(1));
    assert_send(s.async_method(2));
    assert_send(impl_future(3));
    assert_send(boxed_future(&4));
    with_crate_path();
    let _ = s.by_value();
    let mut r = R { v: vec![1] };
    let _ = r.first_mut().map(|x| *x += 1);
    let _ = r.name();
    assert_send(r.total());
    let _ = (generic_ret(&[1, 2]), question_ret("1"), impl_ret().count());
    // SAFETY: a live u32.
    let _ = unsafe { unsafe_ret(&1) };
    assert_send(async_question("1".into()));
    assert_send(boxed_ret(&4));
    assert_send(patterns((1, 2), Guard, 3, Guard));
    assert_send(awaits_traced(&S::new()));
    assert_send(traced_twice(1, (2, 3)));
}
