//! Handles: [`Group`], [`SliceTrack`] and [`CounterTrack`], and the optional parts of an
//! event ([`Extras`]).

use super::error::GeneratorError;
use super::state::{Inner, Name, TrackKind};
use crate::FlowId;
use crate::annotation::Value;
use crate::wire::CounterValue;
use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

/// The state a generator shares with its handles.
pub(crate) type Shared = Rc<RefCell<Inner>>;

/// The optional parts of an event: arguments, flows, terminating flows.
///
/// ```
/// # use tg4p_core as tg4p;
/// # fn main() -> Result<(), tg4p::generator::GeneratorError> {
/// use tg4p::{args, generator::{Extras, TraceGenerator}};
/// let tgen = TraceGenerator::new(std::io::sink());
/// let t = tgen.create_track("t");
/// let flow = tgen.new_flow();
/// t.open_with(10, "send", Extras::new().args(&args!({"size": 3})).flows(&[flow]))?;
/// t.close(20)?;
/// // Conversions for the single-part cases: a `&Value` is arguments, a slice of
/// // flow ids is flows.
/// t.instant_with(30, "note", &args!({"id": 7}))?;
/// t.instant_with(40, "arrive", Extras::new().terminating_flows(&[flow]))?;
/// t.instant_with(50, "again", &[flow])?;
/// # Ok(()) }
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Extras<'a> {
    pub(crate) args: Option<&'a Value>,
    pub(crate) flows: &'a [FlowId],
    pub(crate) terminating_flows: &'a [FlowId],
}

impl<'a> Extras<'a> {
    /// Nothing extra.
    pub const fn new() -> Self {
        Extras {
            args: None,
            flows: &[],
            terminating_flows: &[],
        }
    }

    /// Arguments shown in the event's details: a [`Value::Dict`] (see
    /// [`args!`](crate::args)) whose keys name them. Any other value makes the call
    /// fail with [`GeneratorError::ArgsNotDict`]; values nested deeper than
    /// [`MAX_DEPTH`](crate::annotation::MAX_DEPTH) with [`GeneratorError::TooDeep`].
    pub const fn args(mut self, args: &'a Value) -> Self {
        self.args = Some(args);
        self
    }

    /// Flows this event starts or continues: an arrow joins consecutive events that
    /// name the same id. On a `close`, the arrow leaves from the end of the closed slice.
    pub const fn flows(mut self, flows: &'a [FlowId]) -> Self {
        self.flows = flows;
        self
    }

    /// Flows this event ends: an arrow arrives here, and the id may then be reused.
    pub const fn terminating_flows(mut self, flows: &'a [FlowId]) -> Self {
        self.terminating_flows = flows;
        self
    }
}

impl<'a> From<&'a Value> for Extras<'a> {
    fn from(args: &'a Value) -> Self {
        Extras::new().args(args)
    }
}

impl<'a> From<&'a [FlowId]> for Extras<'a> {
    fn from(flows: &'a [FlowId]) -> Self {
        Extras::new().flows(flows)
    }
}

impl<'a, const N: usize> From<&'a [FlowId; N]> for Extras<'a> {
    fn from(flows: &'a [FlowId; N]) -> Self {
        Extras::new().flows(flows)
    }
}

/// A name that events of one [`SliceTrack`] already carry, from
/// [`SliceTrack::name_id`]: [`SliceTrack::open_id`] and [`SliceTrack::instant_id`]
/// name events by it without looking the name up. For bindings that keep their
/// names as objects of their own (a Python string, say) and can tell a name they
/// saw before by the object alone.
///
/// ```
/// # use tg4p_core as tg4p;
/// # fn main() -> Result<(), tg4p::generator::GeneratorError> {
/// let tgen = tg4p::generator::TraceGenerator::new(std::io::sink());
/// let track = tgen.create_track("work");
/// assert_eq!(track.name_id("step"), None); // no event is named "step" yet
/// track.open(0, "step")?;
/// let step = track.name_id("step").unwrap();
/// track.close(5)?;
/// track.open_id(10, step)?;                 // a slice named "step"
/// track.close(15)?;
/// # Ok(()) }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NameId {
    /// The uuid of the track whose sequence interned it.
    track: u64,
    iid: u64,
}

/// A track of slices and instants.
///
/// Made by [`TraceGenerator::create_track`](super::TraceGenerator::create_track),
/// [`Group::create_track`] or [`Group::create_anonymous_track`]. Clones write to the
/// same track. Timestamps are nanoseconds (BOOTTIME domain) and must not decrease
/// within one track; tracks may be written in any order relative to each other.
///
/// ```
/// # use tg4p_core as tg4p;
/// # fn main() -> Result<(), tg4p::generator::GeneratorError> {
/// use tg4p::{args, generator::{Extras, TraceGenerator}};
/// let tgen = TraceGenerator::new(std::io::sink());
/// let track = tgen.create_track("work");
/// track.open(100, "outer")?;
/// track.instant_with(150, "note", &args!({"id": 7}))?;
/// track.close(200)?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SliceTrack {
    shared: Shared,
    index: usize,
    uuid: u64,
}

impl fmt::Debug for SliceTrack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SliceTrack")
            .field("uuid", &self.uuid)
            .finish()
    }
}

impl SliceTrack {
    pub(crate) fn new(shared: &Shared, parent: Option<u64>, kind: TrackKind<'_>) -> SliceTrack {
        let (index, uuid) = shared.borrow_mut().add_track(parent, kind);
        SliceTrack {
            shared: shared.clone(),
            index,
            uuid,
        }
    }

    /// The track's uuid in the trace (unique, never 0).
    pub fn uuid(&self) -> u64 {
        self.uuid
    }

    /// Opens a slice named `name` at `ts` ns. Slices nest: each [`close`](SliceTrack::close)
    /// ends the most recently opened one.
    #[inline]
    pub fn open(&self, ts: u64, name: &str) -> Result<(), GeneratorError> {
        self.shared
            .borrow_mut()
            .begin(self.index, ts, Name::Text(name), None)
    }

    /// The [`NameId`] of `name` on this track, if an event of the track is already
    /// named `name` (else `None`: name the next event by its text).
    #[inline]
    pub fn name_id(&self, name: &str) -> Option<NameId> {
        let iid = self.shared.borrow_mut().name_iid(self.index, name)?;
        Some(NameId {
            track: self.uuid,
            iid,
        })
    }

    /// [`open`](SliceTrack::open) with a name from [`name_id`](SliceTrack::name_id);
    /// [`GeneratorError::ForeignName`] if it is another track's.
    ///
    /// ```
    /// # use tg4p_core as tg4p;
    /// use tg4p::generator::{GeneratorError, TraceGenerator};
    /// let tgen = TraceGenerator::new(std::io::sink());
    /// let (a, b) = (tgen.create_track("a"), tgen.create_track("b"));
    /// a.instant(0, "x").unwrap();
    /// let x = a.name_id("x").unwrap();
    /// a.open_id(1, x).unwrap();
    /// assert!(matches!(b.open_id(1, x), Err(GeneratorError::ForeignName)));
    /// ```
    #[inline]
    pub fn open_id(&self, ts: u64, name: NameId) -> Result<(), GeneratorError> {
        let name = self.own(name)?;
        self.shared.borrow_mut().begin(self.index, ts, name, None)
    }

    /// [`instant`](SliceTrack::instant) with a name from
    /// [`name_id`](SliceTrack::name_id); [`GeneratorError::ForeignName`] if it is
    /// another track's.
    ///
    /// ```
    /// # use tg4p_core as tg4p;
    /// # fn main() -> Result<(), tg4p::generator::GeneratorError> {
    /// let tgen = tg4p::generator::TraceGenerator::new(std::io::sink());
    /// let track = tgen.create_track("t");
    /// track.instant(0, "tick")?;
    /// let tick = track.name_id("tick").unwrap();
    /// track.instant_id(10, tick)?;
    /// # Ok(()) }
    /// ```
    #[inline]
    pub fn instant_id(&self, ts: u64, name: NameId) -> Result<(), GeneratorError> {
        let name = self.own(name)?;
        self.shared.borrow_mut().instant(self.index, ts, name, None)
    }

    /// `name` as this track's interned name.
    #[inline]
    fn own(&self, name: NameId) -> Result<Name<'static>, GeneratorError> {
        if name.track == self.uuid {
            Ok(Name::Iid(name.iid))
        } else {
            Err(GeneratorError::ForeignName)
        }
    }

    /// [`open`](SliceTrack::open) with arguments and/or flows.
    pub fn open_with<'a>(
        &self,
        ts: u64,
        name: &str,
        extras: impl Into<Extras<'a>>,
    ) -> Result<(), GeneratorError> {
        self.shared
            .borrow_mut()
            .begin(self.index, ts, Name::Text(name), Some(&extras.into()))
    }

    /// Closes the most recently opened slice at `ts` ns;
    /// [`GeneratorError::NoOpenSlice`] if there is none.
    #[inline]
    pub fn close(&self, ts: u64) -> Result<(), GeneratorError> {
        self.shared.borrow_mut().end(self.index, ts, None)
    }

    /// [`close`](SliceTrack::close) with arguments and/or flows (flows leave from the end
    /// of the closed slice).
    pub fn close_with<'a>(
        &self,
        ts: u64,
        extras: impl Into<Extras<'a>>,
    ) -> Result<(), GeneratorError> {
        self.shared
            .borrow_mut()
            .end(self.index, ts, Some(&extras.into()))
    }

    /// An instant (zero-duration) event named `name` at `ts` ns.
    #[inline]
    pub fn instant(&self, ts: u64, name: &str) -> Result<(), GeneratorError> {
        self.shared
            .borrow_mut()
            .instant(self.index, ts, Name::Text(name), None)
    }

    /// [`instant`](SliceTrack::instant) with arguments and/or flows.
    pub fn instant_with<'a>(
        &self,
        ts: u64,
        name: &str,
        extras: impl Into<Extras<'a>>,
    ) -> Result<(), GeneratorError> {
        self.shared
            .borrow_mut()
            .instant(self.index, ts, Name::Text(name), Some(&extras.into()))
    }
}

/// A counter track: a value over time, integer or floating point.
///
/// ```
/// # use tg4p_core as tg4p;
/// # fn main() -> Result<(), tg4p::generator::GeneratorError> {
/// let tgen = tg4p::generator::TraceGenerator::new(std::io::sink());
/// let queue = tgen.create_counter_track("queue length");
/// queue.count(0, 3)?;      // integer sample
/// queue.count(100, 2.5)?;  // floating-point sample
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct CounterTrack {
    shared: Shared,
    index: usize,
    uuid: u64,
}

impl fmt::Debug for CounterTrack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CounterTrack")
            .field("uuid", &self.uuid)
            .finish()
    }
}

impl CounterTrack {
    pub(crate) fn new(shared: &Shared, parent: Option<u64>, name: &str) -> CounterTrack {
        let (index, uuid) = shared
            .borrow_mut()
            .add_track(parent, TrackKind::Counter { name });
        CounterTrack {
            shared: shared.clone(),
            index,
            uuid,
        }
    }

    /// The track's uuid in the trace (unique, never 0).
    pub fn uuid(&self) -> u64 {
        self.uuid
    }

    /// Records `value` at `ts` ns. Integers (`i8`..`i64`, `u8`..`u32`) are written as
    /// integers, `f32`/`f64` as doubles (NaN and infinities included, as given).
    #[inline]
    pub fn count(&self, ts: u64, value: impl Into<CounterValue>) -> Result<(), GeneratorError> {
        self.shared.borrow_mut().count(self.index, ts, value.into())
    }
}

macro_rules! counter_from {
    ($variant:ident($target:ty): $($source:ty),*) => {$(
        impl From<$source> for CounterValue {
            fn from(v: $source) -> CounterValue {
                CounterValue::$variant(v as $target)
            }
        }
    )*};
}

counter_from!(Int(i64): i8, i16, i32, i64, u8, u16, u32);
counter_from!(Double(f64): f32, f64);

/// A group of tracks: a process in the trace (with its own synthetic pid), or a
/// node nested inside one.
///
/// A group also carries events itself, on its [`track`](Group::track): the named
/// child track given to
/// [`create_group_with_track`](super::TraceGenerator::create_group_with_track), else
/// the group's own track. So `group.open(..)` works like `group.track().open(..)`.
///
/// ```
/// # use tg4p_core as tg4p;
/// # fn main() -> Result<(), tg4p::generator::GeneratorError> {
/// let tgen = tg4p::generator::TraceGenerator::new(std::io::sink());
/// let server = tgen.create_group_with_track("server", "main");
/// server.open(10, "request")?;          // on the track "main" of process "server"
/// server.close(20)?;
/// let workers = server.create_group("workers");
/// let (w1, w2) = (workers.create_anonymous_track(), workers.create_anonymous_track());
/// w1.instant(15, "job")?;
/// w2.instant(12, "job")?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Group {
    shared: Shared,
    /// The track children hang from: the process track, or the nested group's track.
    uuid: u64,
    pid: i32,
    events: SliceTrack,
}

impl fmt::Debug for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Group")
            .field("uuid", &self.uuid)
            .field("pid", &self.pid)
            .finish()
    }
}

impl Group {
    /// A process group, its events on a child track named `track_name` if given.
    pub(crate) fn process(shared: &Shared, name: &str, track_name: Option<&str>) -> Group {
        let pid = shared.borrow_mut().next_pid();
        let process = SliceTrack::new(shared, None, TrackKind::Process { pid, name });
        let uuid = process.uuid;
        let events = match track_name {
            Some(name) => {
                SliceTrack::new(shared, Some(uuid), TrackKind::Plain { name: Some(name) })
            }
            None => process,
        };
        Group {
            shared: shared.clone(),
            uuid,
            pid,
            events,
        }
    }

    /// The uuid of the group's own track (the process track for a top-level group).
    pub fn uuid(&self) -> u64 {
        self.uuid
    }

    /// The synthetic pid of the process this group is (or is nested in): distinct per
    /// top-level group, non-zero, and above Linux's `pid_max`, so it never names a real
    /// process.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The track the group's own events go to.
    pub fn track(&self) -> &SliceTrack {
        &self.events
    }

    /// A nested group: a child track named `name` that groups the tracks made from it
    /// (its own events, if any, go on that track).
    pub fn create_group(&self, name: &str) -> Group {
        let events = SliceTrack::new(
            &self.shared,
            Some(self.uuid),
            TrackKind::Plain { name: Some(name) },
        );
        Group {
            shared: self.shared.clone(),
            uuid: events.uuid,
            pid: self.pid,
            events,
        }
    }

    /// A child slice track named `name`.
    pub fn create_track(&self, name: &str) -> SliceTrack {
        SliceTrack::new(
            &self.shared,
            Some(self.uuid),
            TrackKind::Plain { name: Some(name) },
        )
    }

    /// A child slice track without a name.
    pub fn create_anonymous_track(&self) -> SliceTrack {
        SliceTrack::new(
            &self.shared,
            Some(self.uuid),
            TrackKind::Plain { name: None },
        )
    }

    /// A child counter track named `name`.
    pub fn create_counter_track(&self, name: &str) -> CounterTrack {
        CounterTrack::new(&self.shared, Some(self.uuid), name)
    }

    /// [`SliceTrack::open`] on the group's [`track`](Group::track).
    #[inline]
    pub fn open(&self, ts: u64, name: &str) -> Result<(), GeneratorError> {
        self.events.open(ts, name)
    }

    /// [`SliceTrack::open_with`] on the group's [`track`](Group::track).
    pub fn open_with<'a>(
        &self,
        ts: u64,
        name: &str,
        extras: impl Into<Extras<'a>>,
    ) -> Result<(), GeneratorError> {
        self.events.open_with(ts, name, extras)
    }

    /// [`SliceTrack::close`] on the group's [`track`](Group::track).
    #[inline]
    pub fn close(&self, ts: u64) -> Result<(), GeneratorError> {
        self.events.close(ts)
    }

    /// [`SliceTrack::close_with`] on the group's [`track`](Group::track).
    pub fn close_with<'a>(
        &self,
        ts: u64,
        extras: impl Into<Extras<'a>>,
    ) -> Result<(), GeneratorError> {
        self.events.close_with(ts, extras)
    }

    /// [`SliceTrack::instant`] on the group's [`track`](Group::track).
    #[inline]
    pub fn instant(&self, ts: u64, name: &str) -> Result<(), GeneratorError> {
        self.events.instant(ts, name)
    }

    /// [`SliceTrack::instant_with`] on the group's [`track`](Group::track).
    pub fn instant_with<'a>(
        &self,
        ts: u64,
        name: &str,
        extras: impl Into<Extras<'a>>,
    ) -> Result<(), GeneratorError> {
        self.events.instant_with(ts, name, extras)
    }
}
