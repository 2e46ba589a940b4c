//! Slices of futures: one per traced future, from its first poll to its completion
//! or drop, placed the way the program runs them.
//!
//! # Where a future's slice goes
//! - **Awaited** (first polled from inside another traced future's poll: it is
//!   `.await`ed by it, or joined, selected, polled by a `FuturesUnordered` inside
//!   it): on its parent's track, one level deeper than the parent's slice. If that
//!   level is taken (a sibling that runs concurrently holds it, as with `join!`),
//!   on a *lane* beneath the parent's track instead (see [`Track`]): never two
//!   overlapping slices on one track.
//! - **A task** (first polled with no traced future around it: spawned, or the
//!   future `block_on` runs): on a free track of its function's pool (or of its
//!   `track = X`), reused once free, so a pool has as many tracks as the function
//!   had tasks running at once. If it was created inside a traced future's slice,
//!   a flow arrow joins that slice to its own.
//!
//! # How
//! A traced future is its inner future plus a [`FutureSlice`]. Each poll of a
//! recorded one pushes its *frame* (which slice it is, on which lane, what it
//! created) on the thread's stack of polling frames and pops it after: a future
//! created or first polled meanwhile finds its parent on top. The frame moves
//! into the stack and back (a few words), so no lock, reference count or `unsafe`
//! is involved.
//!
//! Begin and end are written on the sequences of the threads that run them, with
//! the lane named explicitly, so an end on another thread's sequence closes the
//! right slice. The lane's lock orders the begins and ends of one lane, and keeps a
//! stack of the slices open on it: a slice that ends while slices begun above it
//! are still open (a child that outlived the future that first polled it) ends
//! them first, so the track never holds overlapping slices.
//!
//! # Spawn flows
//! A future created inside a recorded frame mints a flow id and leaves it in that
//! frame; if it is first polled inside the same frame (awaited), it takes the id
//! back and nothing is written. Otherwise the id stays: the creating slice's end
//! carries it, and so does the new future's begin, both as `flow_ids`.
//! trace_processor links two events that share a flow id in whichever order it
//! reads them, from the slice that began first (the creator) to the other, so the
//! arrow is right whether the creator ends before or after the task starts.
//! A future created with no recorded frame but inside a slice on the thread's
//! track (a `#[trace]` function, a `span!`), whose records are written already,
//! leaves its flow on a `spawn` instant written there and then.
//!
//! Overflow: a begin reserves no room for its end (the end may be written by
//! another thread), so under the `Drop` policy a future's end can be dropped when
//! memory runs out; the slice then shows as "did not end", and the drop is counted.

use super::handoff::generation;
use super::local::{thread_depth, with_local};
use super::record::{ArgValue, Event, LaneRef, TypedArg};
use super::registry::Callsite;
use super::track::Track;
use super::values::{ArgRef, KeptArgs, with_typed};
use crate::FlowId;
use std::cell::RefCell;
use std::fmt::Debug;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

/// The most spawn flows one slice keeps for its end; futures created beyond that
/// get no flow.
const MAX_SPAWN_FLOWS: usize = 4096;

/// What a future polled (or a guard opened) inside a recorded future needs of it.
#[derive(Debug)]
struct Frame {
    /// The future's slice: unique among all slices of the process.
    token: u64,
    /// The innermost slice open in the future on its lane: its own, or an
    /// [`AsyncSpan`] opened in it. A child nests on the lane only above it.
    innermost: u64,
    track: &'static Track,
    lane: u32,
    /// Flow ids of futures created in this slice and not (yet) polled by it.
    spawned: Vec<u64>,
}

thread_local! {
    /// Frames of the recorded futures being polled on this thread, innermost last.
    static POLLING: RefCell<Vec<Frame>> = const { RefCell::new(Vec::new()) };
}

/// A fresh slice token (never 0).
fn next_token() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    // Relaxed: only uniqueness matters.
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Runs `f` on the innermost polling frame, if any (and if the stack is not
/// borrowed: a `Debug` impl formatting an arg cannot create futures that nest).
fn with_top<R>(f: impl FnOnce(&mut Frame) -> R) -> Option<R> {
    POLLING
        .try_with(|s| s.try_borrow_mut().ok()?.last_mut().map(f))
        .ok()
        .flatten()
}

/// Where a future was created: the frame it was created in, and the flow id it
/// left there.
#[derive(Debug, Clone, Copy)]
struct Origin {
    creator: u64,
    flow: u64,
}

impl Origin {
    /// Leaves a flow id in the innermost polling frame; with none, in the slice
    /// open on the thread's track (a `#[trace]` function, a `span!`), if any.
    fn here(generation: u64, callsite: &'static Callsite) -> Option<Origin> {
        with_top(|f| {
            if f.spawned.len() >= MAX_SPAWN_FLOWS {
                return None;
            }
            let flow = FlowId::new().raw();
            f.spawned.push(flow);
            Some(Origin {
                creator: f.token,
                flow,
            })
        })
        .unwrap_or_else(|| Origin::in_thread_slice(generation, callsite))
    }

    /// A thread-track slice's slices are written already: the flow leaves from a
    /// `spawn` instant inside it (with the future's name as its `task` arg), where
    /// the future is created. Its creator is no frame, so it is never reclaimed.
    #[cold]
    #[inline(never)]
    fn in_thread_slice(generation: u64, callsite: &'static Callsite) -> Option<Origin> {
        // Checked without joining the session: a thread that never recorded has
        // no slice open, and gets no track for it.
        if thread_depth(generation) == 0 {
            return None;
        }
        with_local(generation, |l| {
            let flow = [FlowId::new().raw()];
            let task = [TypedArg {
                name: "task",
                value: ArgValue::Str(callsite.name),
            }];
            let spawn = Event::instant(callsite.id())
                .named(Some("spawn"))
                .typed(&task)
                .flows(&flow, &[]);
            l.write(&spawn, 0).then_some(Origin {
                creator: 0,
                flow: flow[0],
            })
        })
        .flatten()
    }

    /// Whether `frame` is the creator; if so, takes the flow id back from it.
    fn reclaim(self, frame: &mut Frame) -> bool {
        if frame.token != self.creator {
            return false;
        }
        if let Some(i) = frame.spawned.iter().rposition(|&f| f == self.flow) {
            frame.spawned.swap_remove(i);
        }
        true
    }
}

/// The slice of one traced future: created with the future, begun at its first
/// poll, ended at its completion or drop. `Send` and `Sync`.
///
/// Generated code (`#[trace]` on an `async fn`, `#[trace(future)]`) and
/// [`Traced`](super::Traced) wrap a future with it; see the module docs.
#[derive(Debug)]
pub struct FutureSlice {
    callsite: &'static Callsite,
    /// Its pool (or `track = X`): where it goes when nothing traced polls it.
    track: &'static Track,
    /// Args, kept (typed, texts formatted) when it was created.
    args: KeptArgs,
    origin: Option<Origin>,
    state: State,
}

#[derive(Debug)]
enum State {
    /// Not polled yet.
    New,
    /// Polled, not recorded (no session, or dropped for lack of memory).
    Off,
    /// Begun in session `generation`: its frame between polls.
    On { generation: u64, frame: Frame },
    /// Ended.
    Done,
}

impl FutureSlice {
    /// The slice of a future of `callsite` created here, going on `track` (a pool
    /// or a custom track) when it is a task, with `values` as its args.
    #[inline]
    pub fn new<const N: usize>(
        callsite: &'static Callsite,
        track: &'static Track,
        values: &[ArgRef<'_>; N],
    ) -> FutureSlice {
        let mut slice = FutureSlice {
            callsite,
            track,
            args: KeptArgs::default(),
            origin: None,
            state: State::New,
        };
        let generation = generation();
        if generation != 0 {
            slice.origin = Origin::here(generation, callsite);
            if N > 0 {
                slice.args = KeptArgs::keep(values);
            }
        }
        slice
    }

    /// `future`, recorded as this slice.
    #[inline]
    pub fn instrument<F: Future>(self, future: F) -> impl Future<Output = F::Output> {
        self.run(future, None)
    }

    /// `future`, recorded as this slice, with its output (as `ret` gives it) as
    /// the end's `return` arg.
    #[inline]
    pub fn instrument_ret<F: Future>(
        self,
        future: F,
        ret: fn(&F::Output) -> ArgRef<'_>,
    ) -> impl Future<Output = F::Output> {
        self.run(future, Some(ret))
    }

    /// A slice that records nothing.
    pub(crate) fn off() -> FutureSlice {
        FutureSlice {
            callsite: &OFF_CALLSITE,
            track: &PLACEHOLDER,
            args: KeptArgs::default(),
            origin: None,
            state: State::Off,
        }
    }

    async fn run<F: Future>(
        mut self,
        future: F,
        ret: Option<fn(&F::Output) -> ArgRef<'_>>,
    ) -> F::Output {
        let mut future = pin!(future);
        std::future::poll_fn(|cx| self.poll(future.as_mut(), cx, ret)).await
    }

    /// Polls `future` inside this slice: begins it at the first poll, ends it when
    /// `future` completes.
    #[inline]
    pub(crate) fn poll<F: Future>(
        &mut self,
        future: Pin<&mut F>,
        cx: &mut Context<'_>,
        ret: Option<fn(&F::Output) -> ArgRef<'_>>,
    ) -> Poll<F::Output> {
        if let State::New = self.state {
            self.begin();
        }
        let State::On { frame, .. } = &mut self.state else {
            return future.poll(cx);
        };
        let pushed = POLLING
            .try_with(|s| match s.try_borrow_mut() {
                Ok(mut s) => {
                    s.push(std::mem::replace(frame, Frame::placeholder()));
                    true
                }
                Err(_) => false,
            })
            .unwrap_or(false);
        if !pushed {
            return future.poll(cx);
        }
        let popper = PopOnUnwind;
        let poll = future.poll(cx);
        std::mem::forget(popper);
        let popped = POLLING.try_with(|s| s.try_borrow_mut().ok()?.pop());
        if let Ok(Some(f)) = popped {
            *frame = f;
        }
        if let Poll::Ready(value) = &poll {
            match ret {
                Some(ret) => self.end(Some(ret(value))),
                None => self.end(None),
            }
        }
        poll
    }

    #[inline(never)]
    fn begin(&mut self) {
        self.state = State::Off;
        let generation = generation();
        if generation == 0 {
            return;
        }
        // The function's category (`#[trace(category = ..)]`), else its track's.
        let category_on = if self.callsite.category.is_empty() {
            self.track.category_on()
        } else {
            self.callsite.category_on()
        };
        if !category_on {
            return;
        }
        let token = next_token();
        // The parent: the innermost frame polling this future.
        let parent = with_top(|top| {
            let awaited = self.origin.is_some_and(|o| o.reclaim(top));
            (top.track, top.lane, top.innermost, awaited)
        });
        let spawn_flow = match (self.origin, parent) {
            (Some(o), Some((.., false))) | (Some(o), None) => Some(o.flow),
            _ => None,
        };
        let nest =
            parent.filter(|(track, ..)| self.track.is_pool() || std::ptr::eq(*track, self.track));
        let track = nest.map_or(self.track, |(t, ..)| t);
        let id = track.id();
        let flows = spawn_flow.as_slice();
        let placed = self.args.with(self.callsite.arg_names, |typed| {
            let begin = Event::begin(self.callsite.id())
                .typed(typed)
                .flows(flows, &[])
                .on(LaneRef { track: id, lane: 0 });
            with_local(generation, |l| {
                let room = l.room(&begin, 0)?;
                let (lane, tick) = match nest {
                    Some((_, lane, above, _)) => track.open_child(lane, above, token),
                    None => track.open_task(token),
                };
                room.write(&begin.on(LaneRef { track: id, lane }).at(tick));
                Some(lane)
            })
        });
        self.args = KeptArgs::default();
        if let Some(Some(lane)) = placed {
            self.state = State::On {
                generation,
                frame: Frame {
                    token,
                    innermost: token,
                    track,
                    lane,
                    spawned: Vec::new(),
                },
            };
        }
    }

    /// Ends the slice (once), with `ret` as its `return` arg.
    #[inline(never)]
    fn end(&mut self, ret: Option<ArgRef<'_>>) {
        let State::On { generation, frame } = std::mem::replace(&mut self.state, State::Done)
        else {
            return;
        };
        end_slice(generation, &frame, ret);
    }
}

/// Writes the end of `frame`'s slice (and of slices still open above it on its
/// lane), with its spawn flows and `ret`.
fn end_slice(generation: u64, frame: &Frame, ret: Option<ArgRef<'_>>) {
    // The lane is released even if the session ended, so the track stays usable.
    let Some((tick, above)) = frame.track.close_slice(frame.lane, frame.token) else {
        return; // ended already, by a slice below it
    };
    if generation != super::handoff::generation() {
        return;
    }
    let lane = LaneRef {
        track: frame.track.id(),
        lane: frame.lane,
    };
    let write = |typed: &[TypedArg<'_>]| {
        with_local(generation, |l| {
            for _ in 0..above {
                l.write_unreserved_end(&Event::end().on(lane).at(tick));
            }
            let end = Event::end()
                .on(lane)
                .at(tick)
                .flows(&frame.spawned, &[])
                .typed(typed);
            l.write_unreserved_end(&end);
        });
    };
    match ret {
        Some(value) => with_typed(&["return"], &[value], write),
        None => write(&[]),
    }
}

impl Frame {
    /// What a frame's place holds while the frame is on the polling stack.
    fn placeholder() -> Frame {
        Frame {
            token: 0,
            innermost: 0,
            track: &PLACEHOLDER,
            lane: 0,
            spawned: Vec::new(),
        }
    }
}

static PLACEHOLDER: Track = Track::pool("");
static OFF_CALLSITE: Callsite = Callsite::new("", super::registry::Function::Path(""), "", 0, &[]);

/// Pops the polling frame if the inner poll unwinds (its spawn flows are lost;
/// the slice still ends when the future is dropped).
struct PopOnUnwind;

impl Drop for PopOnUnwind {
    fn drop(&mut self) {
        let _ = POLLING.try_with(|s| s.try_borrow_mut().map(|mut s| s.pop()));
    }
}

impl Drop for FutureSlice {
    fn drop(&mut self) {
        match std::mem::replace(&mut self.state, State::Done) {
            State::On { generation, frame } => end_slice(generation, &frame, None),
            // Dropped unpolled inside its creator: no flow to leave there.
            State::New => {
                if let Some(o) = self.origin {
                    with_top(|top| o.reclaim(top));
                }
            }
            _ => {}
        }
    }
}

/// Guard of a slice inside the traced future being polled, that can be held
/// across `.await`: what the facade's `async_span!` returns. `Send` and `Sync`.
///
/// The slice nests in the future's innermost slice (on a lane beneath it if a
/// concurrent child holds that level), and the futures awaited while it is open
/// nest in it; it ends when the guard drops, on whatever thread. With no traced
/// future being polled, it goes on a pool of tracks named after it, like a task.
///
/// ```
/// fn assert_send<T: Send>(_: T) {}
/// assert_send(tg4p_core::runtime::AsyncSpan::off());
/// ```
#[must_use = "the slice ends when this guard is dropped"]
#[derive(Debug)]
pub struct AsyncSpan {
    generation: u64,
    frame: Frame,
    /// The future's innermost slice before this one, restored when it ends.
    outer: u64,
}

impl AsyncSpan {
    /// An inert guard (instrumentation compiled out).
    #[doc(hidden)]
    pub fn off() -> AsyncSpan {
        AsyncSpan {
            generation: 0,
            frame: Frame::placeholder(),
            outer: 0,
        }
    }

    /// Starts a slice of `callsite` in the traced future being polled, nested in
    /// its innermost slice (or on a lane beneath it); with no traced future being
    /// polled, on a free track of `pool`.
    #[doc(hidden)]
    pub fn enter<const N: usize>(
        callsite: &'static Callsite,
        pool: &'static Track,
        values: &[ArgRef<'_>; N],
    ) -> AsyncSpan {
        let generation = generation();
        if generation == 0 {
            return AsyncSpan::off();
        }
        let token = next_token();
        let parent = with_top(|top| (top.track, top.lane, top.innermost));
        let track = parent.map_or(pool, |(t, ..)| t);
        let id = track.id();
        let placed = with_typed(callsite.arg_names, values, |typed| {
            let begin = Event::begin(callsite.id())
                .typed(typed)
                .on(LaneRef { track: id, lane: 0 });
            with_local(generation, |l| {
                let room = l.room(&begin, 0)?;
                let (lane, tick) = match parent {
                    Some((_, lane, above)) => track.open_child(lane, above, token),
                    None => track.open_task(token),
                };
                room.write(&begin.on(LaneRef { track: id, lane }).at(tick));
                Some(lane)
            })
        });
        let Some(Some(lane)) = placed else {
            return AsyncSpan::off();
        };
        // Children of the future nest in this slice while it is open, if it is
        // on the future's lane.
        let outer = match parent {
            Some((_, plane, above)) if plane == lane => {
                with_top(|top| std::mem::replace(&mut top.innermost, token)).unwrap_or(above)
            }
            _ => 0,
        };
        AsyncSpan {
            generation,
            frame: Frame {
                token,
                innermost: token,
                track,
                lane,
                spawned: Vec::new(),
            },
            outer,
        }
    }
}

impl Drop for AsyncSpan {
    fn drop(&mut self) {
        if self.generation == 0 {
            return;
        }
        if self.outer != 0 {
            let token = self.frame.token;
            let outer = self.outer;
            with_top(|top| {
                if top.innermost == token {
                    top.innermost = outer;
                }
            });
        }
        end_slice(self.generation, &self.frame, None);
    }
}

/// Traces any future, as `#[trace]` traces an `async fn`: an async block, a
/// closure's future, a future a library returns. Implemented for every future.
///
/// The slice goes where a traced `async fn`'s would (see the crate docs): nested
/// in the traced future that awaits it, or, as a task, on a pool of tracks named
/// `name`. [`TracedFuture::on`] and [`TracedFuture::ret`] are the attribute's
/// `track = X` and `ret`.
///
/// ```
/// use tg4p_core::runtime::{Session, Track, Traced};
///
/// static DB: Track = Track::new("DB");
///
/// let session = Session::builder().writer(std::io::sink()).start()?;
/// let job = async { 6 * 7 }.traced("job").ret(); // records `return: 42`
/// let query = async { "rows" }.traced("query").on(&DB);
/// let waker = std::task::Waker::noop();
/// let mut cx = std::task::Context::from_waker(&waker);
/// let mut job = std::pin::pin!(job);
/// assert_eq!(job.as_mut().poll(&mut cx), std::task::Poll::Ready(42));
/// drop(query); // never polled: records nothing
/// session.finish()?;
/// # Ok::<(), tg4p_core::runtime::SessionError>(())
/// ```
pub trait Traced: Future + Sized {
    /// This future, recorded as a slice named `name` from its first poll to its
    /// completion or drop.
    #[track_caller]
    fn traced(self, name: &'static str) -> TracedFuture<Self>;
}

impl<F: Future> Traced for F {
    #[track_caller]
    fn traced(self, name: &'static str) -> TracedFuture<F> {
        let slice = if generation() == 0 {
            FutureSlice::off()
        } else {
            let site = site(name, std::panic::Location::caller());
            FutureSlice::new(&site.callsite, &site.pool, &[])
        };
        TracedFuture {
            slice,
            ret: None,
            future: Box::pin(self),
        }
    }
}

/// A future traced by [`Traced::traced`]. The future is boxed (one allocation),
/// so that this type is `Unpin` and nameable.
#[must_use = "futures do nothing unless polled"]
pub struct TracedFuture<F: Future> {
    slice: FutureSlice,
    ret: Option<fn(&F::Output) -> ArgRef<'_>>,
    future: Pin<Box<F>>,
}

impl<F: Future> TracedFuture<F> {
    /// When it is a task (no traced future awaits it), its slice goes on a free
    /// lane of `track` instead of the pool named after it; awaited by a future
    /// on `track`, it nests there as usual. As the attribute's `track = X`.
    pub fn on(mut self, track: &'static Track) -> Self {
        if !matches!(self.slice.state, State::Off) {
            self.slice.track = track;
        }
        self
    }

    /// Records the output (its bounded `Debug` text) as the `return` arg of the
    /// slice's end, when the future completes. As the attribute's `ret`.
    pub fn ret(mut self) -> Self
    where
        F::Output: Debug,
    {
        self.ret = Some(|v| ArgRef::Debug(v));
        self
    }
}

impl<F: Future> std::fmt::Debug for TracedFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TracedFuture")
            .field("name", &self.slice.callsite.name)
            .finish_non_exhaustive()
    }
}

impl<F: Future> Future for TracedFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        this.slice.poll(this.future.as_mut(), cx, this.ret)
    }
}

/// The callsite and pool of a `.traced(name)` call: one per (name, location),
/// kept for the program's life.
struct Site {
    callsite: Callsite,
    pool: Track,
}

fn site(name: &'static str, location: &'static std::panic::Location<'static>) -> &'static Site {
    type Key = (usize, usize, usize);
    static SITES: std::sync::Mutex<Option<crate::intern::FxHashMap<Key, &'static Site>>> =
        std::sync::Mutex::new(None);
    let key = (
        name.as_ptr() as usize,
        name.len(),
        location as *const _ as usize,
    );
    let mut sites = super::shim::lock(&SITES);
    sites
        .get_or_insert_with(Default::default)
        .entry(key)
        .or_insert_with(|| {
            Box::leak(Box::new(Site {
                callsite: Callsite::new(
                    name,
                    super::registry::Function::Path(""),
                    location.file(),
                    location.line(),
                    &[],
                ),
                pool: Track::pool(name),
            }))
        })
}
