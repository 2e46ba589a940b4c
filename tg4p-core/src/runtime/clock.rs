//! The recorder's clock: cheap ticks on the hot path, BOOTTIME nanoseconds in the file.
//!
//! On x86_64 with an invariant TSC (CPUID 0x8000_0007, EDX bit 8: the counter runs at
//! a constant rate in every P-, C- and T-state and is synchronised across cores), a
//! tick is one `rdtsc` reading, which costs a fraction of a `clock_gettime` call.
//! Elsewhere a tick is a `CLOCK_BOOTTIME` (or, without it, `CLOCK_MONOTONIC`)
//! nanosecond, and conversion is the identity.
//!
//! The writer converts ticks to BOOTTIME nanoseconds with a [`Calibration`]: paired
//! readings of both clocks taken when the session opens and then at least every
//! [`CALIBRATION_INTERVAL_NS`] while it runs, joined piecewise-linearly (readings after
//! the last pair are extrapolated along the last segment).

use std::sync::atomic::{AtomicU8, Ordering};

const MODE_UNKNOWN: u8 = 0;
const MODE_TSC: u8 = 1;
const MODE_OS: u8 = 2;

/// Which clock ticks come from; decided once per process, before the first session
/// opens the gate (so no event is ever recorded with the other kind of tick).
static MODE: AtomicU8 = AtomicU8::new(MODE_UNKNOWN);

/// Decides the tick source (idempotent). Returns true when ticks are TSC readings.
pub(crate) fn init() -> bool {
    let mode = match MODE.load(Ordering::Relaxed) {
        MODE_UNKNOWN => {
            let m = if tsc_is_invariant() {
                MODE_TSC
            } else {
                MODE_OS
            };
            MODE.store(m, Ordering::Relaxed);
            m
        }
        m => m,
    };
    mode == MODE_TSC
}

/// Whether ticks are TSC readings (after [`init`]).
pub(crate) fn uses_tsc() -> bool {
    MODE.load(Ordering::Relaxed) == MODE_TSC
}

#[cfg(target_arch = "x86_64")]
fn tsc_is_invariant() -> bool {
    use core::arch::x86_64::__cpuid;
    if std::env::var_os("TG4P_NO_TSC").is_some() {
        return false;
    }
    let max_extended = __cpuid(0x8000_0000).eax;
    max_extended >= 0x8000_0007 && (__cpuid(0x8000_0007).edx & (1 << 8)) != 0
}

#[cfg(not(target_arch = "x86_64"))]
fn tsc_is_invariant() -> bool {
    false
}

/// The current tick: the hot path's only clock read.
#[inline(always)]
pub(crate) fn ticks() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        if MODE.load(Ordering::Relaxed) == MODE_TSC {
            // SAFETY: `rdtsc` has no preconditions on x86_64 (every x86_64 CPU has it,
            // and user-mode reads are allowed unless the OS sets CR4.TSD, which Linux,
            // macOS and Windows do not). It is `unsafe` only as an intrinsic. It pays:
            // the `span` bench needs two clock reads in ~1.4 `Instant::now()`.
            return unsafe { core::arch::x86_64::_rdtsc() };
        }
    }
    os_ns()
}

/// BOOTTIME in nanoseconds (Perfetto's trace clock), or MONOTONIC where there is no
/// BOOTTIME.
pub(crate) fn os_ns() -> u64 {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let clock = libc::CLOCK_BOOTTIME;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let clock = libc::CLOCK_MONOTONIC;
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec and `clock` a clock id this OS
    // defines; clock_gettime writes only into `ts`.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    debug_assert_eq!(rc, 0);
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// BOOTTIME (as [`os_ns`]) and REALTIME (ns since the Unix epoch) read at the same
/// moment: REALTIME is read between two BOOTTIME readings and paired with their
/// midpoint, so the pair is off by at most half the time between them. `None` when
/// the wall clock is before 1970 (a machine without a set clock).
pub(crate) fn wall_clock_pair() -> Option<(u64, u64)> {
    let before = os_ns();
    let realtime = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    let after = os_ns();
    let realtime_ns = u64::try_from(realtime.as_nanos()).ok()?;
    Some((before + (after - before) / 2, realtime_ns))
}

/// Minimum time between two calibration readings taken by the writer.
pub(crate) const CALIBRATION_INTERVAL_NS: u64 = 10_000_000;

/// Tick to BOOTTIME conversion (see the module docs).
#[derive(Debug)]
pub(crate) struct Calibration {
    tsc: bool,
    /// (tick, ns) readings in increasing order.
    points: Vec<(u64, u64)>,
    /// `slopes[i]`: ns per tick from reading `i` to `i + 1` (for the last reading,
    /// the slope of the segment before it, used to extrapolate), in 32.32 fixed
    /// point: integer conversion is a single widening multiply.
    slopes: Vec<u64>,
    /// How many ticks from the last reading on convert within u64 at its slope
    /// (see [`overflow_span`]), kept so that making a [`Segment`] takes no
    /// division. (Earlier segments end at the next reading, whose nanoseconds
    /// their slope reaches and does not pass: they cannot overflow.)
    last_span: u64,
    /// The segment the last conversion used: ticks arrive mostly in order.
    segment: usize,
}

impl Calibration {
    /// Takes the first readings. With the TSC, waits ~1 ms for a second pair so that
    /// conversion has a slope from the start (refined by later readings): a
    /// [`started`](Calibration::started) calibration, [`settle`](Calibration::settle)d.
    #[cfg(test)]
    pub(crate) fn new() -> Calibration {
        let mut c = Calibration::started();
        c.settle();
        c
    }

    /// The first reading only: conversion has no slope until
    /// [`settle`](Calibration::settle). What a session takes when it starts, so
    /// that its writer thread, not the caller of `start`, does the waiting.
    pub(crate) fn started() -> Calibration {
        let tsc = uses_tsc();
        let mut c = Calibration {
            tsc,
            points: Vec::new(),
            slopes: Vec::new(),
            last_span: u64::MAX,
            segment: 0,
        };
        if tsc {
            let first = paired_reading();
            c.points.push(first);
            c.slopes.push(1 << 32);
            c.last_span = overflow_span(first.1, 1 << 32);
        }
        c
    }

    /// Takes the second reading, at least 1 ms after the first, if not taken yet.
    /// It sleeps until then rather than spins: the pairs themselves are what must
    /// be tight, and a spin burnt a millisecond of CPU at every session's start.
    pub(crate) fn settle(&mut self) {
        let [(_, first_ns)] = self.points[..] else {
            return; // no TSC, or settled
        };
        let until = first_ns + 1_000_000;
        loop {
            let now = os_ns();
            if now >= until {
                break;
            }
            std::thread::sleep(std::time::Duration::from_nanos(until - now));
        }
        self.push(paired_reading());
    }

    fn push(&mut self, p: (u64, u64)) {
        let Some(&(t0, n0)) = self.points.last() else {
            return;
        };
        if p.0 <= t0 || p.1 <= n0 {
            return;
        }
        let slope = (((p.1 - n0) as u128) << 32) / (p.0 - t0) as u128;
        let slope = slope.min(u64::MAX as u128) as u64;
        *self.slopes.last_mut().expect("one slope per point") = slope;
        self.points.push(p);
        self.slopes.push(slope);
        self.last_span = overflow_span(p.1, slope);
    }

    /// Takes a new pair of readings if the last is older than
    /// [`CALIBRATION_INTERVAL_NS`].
    pub(crate) fn refresh(&mut self) {
        if !self.tsc {
            return;
        }
        let last_ns = self.points.last().map_or(0, |p| p.1);
        if os_ns() >= last_ns + CALIBRATION_INTERVAL_NS {
            self.push(paired_reading());
        }
    }

    /// BOOTTIME nanoseconds of `tick`.
    #[inline]
    pub(crate) fn ns_of(&mut self, tick: u64) -> u64 {
        if !self.tsc {
            return tick;
        }
        let i = self.segment;
        let (t0, n0) = self.points[i];
        let next = self.points.get(i + 1).map_or(u64::MAX, |p| p.0);
        if tick < t0 || tick >= next {
            return self.ns_of_slow(tick);
        }
        n0.saturating_add(scale(tick - t0, self.slopes[i]))
    }

    /// The segment the last conversion used, for converting a run of ticks with
    /// no lookups: [`Segment::ns_of`] gives what [`ns_of`](Calibration::ns_of)
    /// would for every tick inside it.
    #[inline]
    pub(crate) fn segment(&self) -> Segment {
        if !self.tsc {
            return Segment::identity();
        }
        let i = self.segment;
        let (t0, n0) = self.points[i];
        // The last segment runs to the end of the tick range, or to where its
        // nanoseconds would overflow if that comes first.
        let span = self
            .points
            .get(i + 1)
            .map_or((u64::MAX - t0).min(self.last_span), |p| p.0 - t0);
        Segment {
            t0,
            n0,
            slope: self.slopes[i],
            span,
        }
    }

    #[cold]
    fn ns_of_slow(&mut self, tick: u64) -> u64 {
        match self.points.binary_search_by(|p| p.0.cmp(&tick)) {
            Ok(i) => {
                self.segment = i;
                self.points[i].1
            }
            // Before the first reading (recorded just before the session opened).
            Err(0) => {
                let (t0, n0) = self.points[0];
                n0.saturating_sub(scale(t0 - tick, self.slopes[0]))
            }
            Err(i) => {
                self.segment = i - 1;
                let (t0, n0) = self.points[i - 1];
                n0.saturating_add(scale(tick - t0, self.slopes[i - 1]))
            }
        }
    }
}

/// One linear piece of a [`Calibration`]: ticks `t0..t0 + span` map to
/// nanoseconds from `n0` at `slope`. Its span ends where a nanosecond count would
/// pass `u64::MAX`, so that converting a tick inside it needs no saturation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Segment {
    t0: u64,
    n0: u64,
    slope: u64,
    span: u64,
}

impl Segment {
    /// The conversion of ticks that are nanoseconds already.
    pub(crate) const fn identity() -> Segment {
        Segment {
            t0: 0,
            n0: 0,
            slope: 1 << 32,
            span: u64::MAX,
        }
    }

    /// Ticks `t0..t0 + span` from `n0` at `slope`, the span cut where the
    /// nanoseconds would pass `u64::MAX` (a tick far past the last reading: the
    /// last segment runs to the end of the tick range). Such ticks are then left
    /// to [`Calibration::ns_of`], which saturates.
    #[cfg(test)]
    pub(crate) fn new(t0: u64, n0: u64, slope: u64, span: u64) -> Segment {
        Segment {
            t0,
            n0,
            slope,
            span: span.min(overflow_span(n0, slope)),
        }
    }

    /// BOOTTIME nanoseconds of `tick`, if it falls in this segment.
    #[inline(always)]
    pub(crate) fn ns_of(&self, tick: u64) -> Option<u64> {
        // One compare covers both ends: ticks before `t0` wrap to huge offsets.
        // Inside the span neither the product nor the sum can overflow (see
        // `new`): the writer's hottest loops pay no saturation.
        let offset = tick.wrapping_sub(self.t0);
        (offset < self.span).then(|| {
            let ns = (u128::from(offset) * u128::from(self.slope)) >> 32;
            self.n0.wrapping_add(ns as u64)
        })
    }
}

/// How many ticks from a reading at `n0` ns convert at `slope` without passing
/// `u64::MAX`: offsets below it have offset * slope < (u64::MAX - n0 + 1) << 32.
fn overflow_span(n0: u64, slope: u64) -> u64 {
    if slope == 0 {
        return u64::MAX;
    }
    let room = (u128::from(u64::MAX - n0) + 1) << 32;
    let last = ((room - 1) / u128::from(slope)).min(u128::from(u64::MAX)) as u64;
    last.saturating_add(1)
}

/// `ticks` times a 32.32 fixed-point `slope`.
#[inline(always)]
fn scale(ticks: u64, slope: u64) -> u64 {
    ((ticks as u128 * slope as u128) >> 32).min(u64::MAX as u128) as u64
}

/// A (tick, ns) pair read as close together as possible: the ns reading is matched
/// with the midpoint of the two tick readings around it, and the tightest of a few
/// attempts is kept.
fn paired_reading() -> (u64, u64) {
    let mut best = (u64::MAX, 0, 0);
    for _ in 0..5 {
        let a = ticks();
        let ns = os_ns();
        let b = ticks();
        if b >= a && b - a < best.0 {
            best = (b - a, a + (b - a) / 2, ns);
        }
    }
    (best.1, best.2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversion_tracks_boottime() {
        init();
        let mut c = Calibration::new();
        let t = ticks();
        let before = c.ns_of(t - 1000);
        let ns = os_ns();
        std::thread::sleep(std::time::Duration::from_millis(20));
        c.refresh();
        let converted = c.ns_of(t) as i64;
        // Within 50 us of the direct reading (the pair itself is read ~100 ns apart).
        assert!(
            (converted - ns as i64).abs() < 50_000,
            "{converted} vs {ns}"
        );
        assert!(c.ns_of(t + 1000) >= c.ns_of(t));
        assert!(
            c.ns_of(t - 1000) <= before + 1,
            "old segment still converts the same"
        );
    }

    #[test]
    fn a_segment_ends_where_its_nanoseconds_would_overflow() {
        // The last segment of a calibration runs to the end of the tick range: a
        // slope of 2 ns per tick from 10^12 ns overflows u64 long before that.
        let n0 = 1_000_000_000_000;
        let s = Segment::new(0, n0, 2 << 32, u64::MAX);
        assert_eq!(s.ns_of(10), Some(n0 + 20));
        let last = (u64::MAX - n0) / 2;
        assert_eq!(s.ns_of(last), Some(n0 + 2 * last));
        assert_eq!(s.ns_of(last + 1), None, "would pass u64::MAX");
        assert_eq!(s.ns_of(u64::MAX - 1), None);
        // A fractional slope (1.5 ns per tick) ends exactly at the last offset
        // that fits, whatever the rounding.
        let slope = 3 << 31;
        let s = Segment::new(5, u64::MAX - 3000, slope, u64::MAX);
        let fits = |o: u64| {
            let ns = (u128::from(o) * u128::from(slope)) >> 32;
            ns <= u128::from(3000u64)
        };
        let last = (0..3000u64).rev().find(|&o| fits(o)).unwrap();
        assert_eq!(s.ns_of(5 + last), Some(u64::MAX - 3000 + (last * 3 / 2)));
        assert_eq!(s.ns_of(5 + last + 1), None);
        // A span shorter than the overflow limit is kept; the identity is whole.
        assert_eq!(Segment::new(0, 0, 1 << 32, 100).ns_of(99), Some(99));
        assert_eq!(Segment::new(0, 0, 1 << 32, 100).ns_of(100), None);
        assert_eq!(Segment::identity().ns_of(u64::MAX - 1), Some(u64::MAX - 1));
    }

    #[test]
    fn calibration_saturates_where_its_segments_end() {
        let mut c = Calibration {
            tsc: true,
            points: vec![(0, 1_000_000_000_000)],
            slopes: vec![2 << 32],
            last_span: overflow_span(1_000_000_000_000, 2 << 32),
            segment: 0,
        };
        assert_eq!(c.segment().ns_of(u64::MAX - 1), None);
        assert_eq!(c.ns_of(u64::MAX - 1), u64::MAX);
    }

    #[test]
    fn a_segment_converts_as_the_calibration_does_inside_it_only() {
        init();
        let mut c = Calibration::new();
        std::thread::sleep(std::time::Duration::from_millis(15));
        c.refresh();
        let t = ticks();
        let ns = c.ns_of(t);
        let seg = c.segment();
        assert_eq!(seg.ns_of(t), Some(ns));
        for dt in [0, 1, 1000, 1 << 20] {
            if let Some(converted) = seg.ns_of(t + dt) {
                assert_eq!(converted, c.ns_of(t + dt));
            }
        }
        if uses_tsc() {
            // Ticks from before the session's first reading are in no segment of
            // the last reading.
            assert_eq!(seg.ns_of(0), None);
            let first = c.points[0].0;
            assert_eq!(c.segment().ns_of(first.saturating_sub(1)), None);
        } else {
            assert_eq!(seg.ns_of(12345), Some(12345));
        }
    }
}
