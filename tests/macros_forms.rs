//! `#[trace]` and `#[trace_args]` on every kind of function a Rust user writes:
//! methods with each receiver, associated functions, trait impls, default trait
//! methods, generics, lifetimes, `where` clauses, const generics, `impl Trait`,
//! `?` and early `return`, `unsafe fn`, kept attributes, inferred return types.
//! Each runs under a session; the trace, decoded by the oracle, has its slices with
//! the right names, args and source locations.

use std::fmt::Debug;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};
use tg4p_oracle::{Arg, DecodedTrace};

fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

fn record(name: &str, f: impl FnOnce()) -> DecodedTrace {
    let path = std::env::temp_dir().join(format!(
        "tg4p-macros-forms-{}-{name}.pftrace",
        std::process::id()
    ));
    let session = tg4p::open(&path).unwrap();
    f();
    let report = session.finish().unwrap();
    assert_eq!(report.events_dropped, 0);
    let trace = tg4p_oracle::decode_file(&path).unwrap();
    std::fs::remove_file(&path).ok();
    trace.assert_valid();
    trace
}

#[derive(Debug, Clone, Default)]
struct Counter {
    n: u64,
}

impl Counter {
    #[tg4p::trace]
    fn new() -> Self {
        Counter { n: 0 }
    }

    #[tg4p::trace_args]
    fn get(&self) -> u64 {
        self.n
    }

    #[tg4p::trace_args(name = "Counter::bump")]
    fn bump(&mut self, by: u64) -> &mut Self {
        self.n += by;
        self
    }

    #[tg4p::trace]
    fn into_inner(self) -> u64 {
        self.n
    }

    #[tg4p::trace_args]
    fn boxed(self: Box<Self>) -> u64 {
        self.n
    }

    #[tg4p::trace_args(skip(self))]
    fn pinned(self: Pin<&mut Self>, add: u64) -> u64 {
        self.get_mut().n += add;
        add
    }
}

trait Shape {
    fn area(&self) -> f64;

    #[tg4p::trace]
    fn describe(&self) -> String {
        format!("area {}", self.area())
    }
}

#[derive(Debug)]
struct Square(f64);

impl Shape for Square {
    #[tg4p::trace_args]
    fn area(&self) -> f64 {
        self.0 * self.0
    }
}

// Named lifetimes on purpose: the attribute keeps them. (Clippy sees a traced
// function as the user's own code, as it sees an untraced one.)
#[allow(clippy::needless_lifetimes)]
#[tg4p::trace_args]
fn largest<'a, T, const N: usize>(items: &'a [T; N]) -> Option<&'a T>
where
    T: PartialOrd + Clone + Debug,
{
    let mut best = items.first()?;
    for x in items {
        if x > best {
            best = x;
        }
    }
    Some(best)
}

#[tg4p::trace_args]
fn show(x: impl Debug, n: usize) -> impl Iterator<Item = usize> {
    let _ = format!("{x:?}");
    0..n
}

#[derive(Debug)]
struct ParseError;

#[tg4p::trace_args]
fn parse_sum(a: &str, b: &str) -> Result<u32, ParseError> {
    let a: u32 = a.parse().map_err(|_| ParseError)?;
    if a == 0 {
        return Ok(0);
    }
    let b: u32 = b.parse().map_err(|_| ParseError)?;
    Ok(a + b)
}

/// # Safety
/// `p` points to a readable `u32`.
#[tg4p::trace]
#[inline(never)]
#[must_use]
unsafe fn read(p: *const u32) -> u32 {
    // SAFETY: the caller's contract.
    unsafe { *p }
}

#[tg4p::trace]
fn inferred() -> Vec<u8> {
    // Only the signature says what to collect into.
    (0..3).collect()
}

#[tg4p::trace]
fn default_value() -> (u32, String) {
    Default::default()
}

struct NotDebug;

#[tg4p::trace_args(skip(secret, _unused))]
fn with_secret(id: u32, secret: NotDebug, _unused: NotDebug) -> u32 {
    let NotDebug = secret;
    id
}

#[tg4p::trace_args(skip_all)]
fn nothing_recorded(_a: NotDebug, (x, y): (u32, u32)) -> u32 {
    x + y
}

fn names(trace: &DecodedTrace) -> Vec<String> {
    trace.slices().into_iter().filter_map(|s| s.name).collect()
}

#[test]
fn methods_with_every_receiver_and_associated_functions() {
    let _s = serial();
    let trace = record("methods", || {
        let mut c = Counter::new();
        c.bump(2).bump(3);
        assert_eq!(c.get(), 5);
        assert_eq!(Box::new(c.clone()).boxed(), 5);
        let mut p = c.clone();
        assert_eq!(Pin::new(&mut p).pinned(4), 4);
        assert_eq!(p.n, 9);
        assert_eq!(c.into_inner(), 5);
    });
    let n = names(&trace);
    for want in [
        "new",
        "get",
        "Counter::bump",
        "boxed",
        "pinned",
        "into_inner",
    ] {
        assert!(n.iter().any(|x| x == want), "{want} missing from {n:?}");
    }
    let bumps = trace.slices_named("Counter::bump");
    assert_eq!(bumps.len(), 2);
    assert_eq!(bumps[0].arg("by"), Some(&Arg::Uint(2)));
    assert_eq!(
        bumps[0].arg("self"),
        Some(&Arg::Str("Counter { n: 0 }".into()))
    );
    let get = &trace.slices_named("get")[0];
    assert_eq!(get.arg("self"), Some(&Arg::Str("Counter { n: 5 }".into())));
    let boxed = &trace.slices_named("boxed")[0];
    assert_eq!(
        boxed.arg("self"),
        Some(&Arg::Str("Counter { n: 5 }".into()))
    );
    let pinned = &trace.slices_named("pinned")[0];
    assert_eq!(pinned.arg("self"), None, "skipped");
    assert_eq!(pinned.arg("add"), Some(&Arg::Uint(4)));
    // The function of a method's slice is its path, type included.
    let src = get.source.as_ref().unwrap();
    assert!(src.function.ends_with("Counter::get"), "{}", src.function);
    assert!(src.file.ends_with("macros_forms.rs"));
}

#[test]
fn trait_impls_and_default_methods() {
    let _s = serial();
    let trace = record("traits", || {
        assert_eq!(Square(3.0).describe(), "area 9");
        let dynamic: &dyn Shape = &Square(2.0);
        assert_eq!(dynamic.area(), 4.0);
    });
    let describe = &trace.slices_named("describe")[0];
    let areas = trace.slices_named("area");
    assert_eq!(areas.len(), 2);
    assert_eq!(areas[0].depth, describe.depth + 1, "area nests in describe");
    assert_eq!(areas[0].arg("self"), Some(&Arg::Str("Square(3.0)".into())));
}

#[test]
fn generics_impl_trait_question_mark_unsafe_and_inference() {
    let _s = serial();
    let trace = record("generics", || {
        assert_eq!(largest(&[3, 9, 2]), Some(&9));
        assert_eq!(largest::<u8, 0>(&[]), None);
        assert_eq!(show("x", 3).count(), 3);
        assert_eq!(parse_sum("1", "2").unwrap(), 3);
        assert!(parse_sum("x", "2").is_err());
        assert_eq!(parse_sum("0", "x").unwrap(), 0);
        assert!(parse_sum("1", "x").is_err());
        let v = 7u32;
        // SAFETY: `v` is a live u32.
        assert_eq!(unsafe { read(&v) }, 7);
        assert_eq!(inferred(), vec![0, 1, 2]);
        assert_eq!(default_value(), (0, String::new()));
        assert_eq!(with_secret(5, NotDebug, NotDebug), 5);
        assert_eq!(nothing_recorded(NotDebug, (1, 2)), 3);
    });
    let largest = trace.slices_named("largest");
    assert_eq!(largest.len(), 2, "also the early `?` return ends its slice");
    assert_eq!(largest[0].arg("items"), Some(&Arg::Str("[3, 9, 2]".into())));
    assert_eq!(trace.slices_named("parse_sum").len(), 4);
    assert!(
        trace
            .slices_named("parse_sum")
            .iter()
            .all(|s| s.end_ts.is_some())
    );
    let show = &trace.slices_named("show")[0];
    assert_eq!(show.arg("x"), Some(&Arg::Str("\"x\"".into())));
    for name in ["read", "inferred", "default_value", "nothing_recorded"] {
        assert_eq!(trace.slices_named(name).len(), 1, "{name}");
    }
    assert!(trace.slices_named("nothing_recorded")[0].args.is_empty());
    let secret = &trace.slices_named("with_secret")[0];
    assert_eq!(secret.args.len(), 1);
    assert_eq!(secret.arg("id"), Some(&Arg::Uint(5)));
}

// `ret`: the return value, recorded with `Debug` on the slice's end.

static RET_TRACK: tg4p::Track = tg4p::Track::new("RET_TRACK");

impl Counter {
    #[tg4p::trace(ret)]
    fn doubled(&self) -> u64 {
        self.n * 2
    }

    #[tg4p::trace_args(ret, skip(self))]
    fn add(&mut self, by: u64) -> &mut Self {
        self.n += by;
        self
    }
}

#[tg4p::trace_args(ret)]
fn checked_half(x: u32) -> Result<u32, String> {
    if x % 2 == 1 {
        return Err(format!("{x} is odd"));
    }
    let s: u32 = x.to_string().parse().map_err(|_| "no".to_string())?;
    Ok(s / 2)
}

#[tg4p::trace(ret)]
fn collected() -> Vec<u8> {
    (1..4).collect()
}

#[tg4p::trace(ret, track = RET_TRACK)]
fn on_track() -> &'static str {
    "tracked"
}

#[tg4p::trace(ret)]
fn opaque() -> impl Debug {
    [1, 2]
}

#[tg4p::trace(ret)]
fn unit() {}

#[tg4p::trace(ret)]
fn huge() -> String {
    "x".repeat(5000)
}

#[tg4p::trace(ret)]
fn panics(fail: bool) -> u32 {
    if fail {
        panic!("boom");
    }
    1
}

#[test]
fn ret_records_the_return_value_on_the_end() {
    let _s = serial();
    let trace = record("ret", || {
        let mut c = Counter { n: 3 };
        assert_eq!(c.doubled(), 6);
        assert_eq!(c.add(2).n, 5);
        assert_eq!(checked_half(8), Ok(4));
        assert_eq!(checked_half(3), Err("3 is odd".into()));
        assert_eq!(collected(), vec![1, 2, 3]);
        assert_eq!(on_track(), "tracked");
        let _ = opaque();
        unit();
        assert_eq!(huge().len(), 5000);
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        assert!(std::panic::catch_unwind(|| panics(true)).is_err());
        std::panic::set_hook(hook);
        assert_eq!(panics(false), 1);
    });
    let ret = |name: &str, i: usize| trace.slices_named(name)[i].arg("return").cloned();
    let s = |v: &str| Some(Arg::Str(v.into()));
    // Typed where the declared type is one of the recorded ones, else Debug.
    assert_eq!(ret("doubled", 0), Some(Arg::Uint(6)));
    let add = &trace.slices_named("add")[0];
    assert_eq!(add.args.len(), 2, "begin args, then the end's return");
    assert_eq!(add.args[0], ("by".into(), Arg::Uint(2)));
    assert_eq!(
        add.args[1],
        ("return".into(), Arg::Str("Counter { n: 5 }".into()))
    );
    assert_eq!(ret("checked_half", 0), s("Ok(4)"));
    assert_eq!(
        ret("checked_half", 1),
        s("Err(\"3 is odd\")"),
        "early return"
    );
    assert_eq!(ret("collected", 0), s("[1, 2, 3]"));
    let on_track = &trace.slices_named("on_track")[0];
    assert_eq!(on_track.arg("return"), s("tracked").as_ref());
    let ret_track = trace.track_by_name("RET_TRACK");
    assert_eq!(ret_track.len(), 1);
    assert_eq!(on_track.track, ret_track[0].uuid);
    assert_eq!(ret("opaque", 0), s("[1, 2]"));
    assert_eq!(ret("unit", 0), s("()"));
    let huge = ret("huge", 0).unwrap();
    let expected = format!(
        "{}…[truncated, 5000 bytes]",
        "x".repeat(tg4p::ARG_VALUE_LIMIT)
    );
    assert_eq!(huge, Arg::Str(expected), "bounded like an argument");
    let panics = trace.slices_named("panics");
    assert_eq!(panics.len(), 2);
    assert!(
        panics[0].end_ts.is_some(),
        "the unwinding call's slice ends"
    );
    assert!(panics[0].args.is_empty(), "without a return value");
    assert_eq!(panics[1].arg("return"), Some(&Arg::Uint(1)));
}
