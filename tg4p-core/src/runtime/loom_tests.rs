//! Model checks of the recorder's hand-off, and of the lanes of custom tracks
//! (`lanes.rs`), with loom, over the production
//! [`Chunk`] compiled against loom's atomics (see `shim.rs`). Run with
//! `RUSTFLAGS="--cfg tg4p_loom" cargo test -p tg4p-core --lib loom`.
//!
//! The recorder's slot and the writer's channels are modelled here with the same
//! locking discipline as `recorder.rs` and `writer.rs`: a thread replaces its
//! current chunk, and sends the previous one to the writer, under its slot lock;
//! the writer empties its channel and reads the current chunk under that lock; a
//! chunk read to the end is reset and returned to the pool, from which a producer
//! takes it again.

use super::buffer::Chunk;
use super::lanes::{LaneSlot, POOL};
use super::shim::{Arc, Mutex, lock};
use loom::cell::UnsafeCell;
use loom::thread;
use std::collections::VecDeque;

/// Record `n`: a header word and a payload word, both derived from `n`.
fn put_record(chunk: &Chunk, pos: usize, n: u64) -> usize {
    chunk.put(pos, n << 8 | 1);
    chunk.put(pos + 1, n * 1000);
    chunk.publish(pos + 2);
    pos + 2
}

/// The record numbers in `words`, checking each record is whole.
fn records(words: &[u64]) -> Vec<u64> {
    assert_eq!(words.len() % 2, 0, "a torn record: {words:?}");
    words
        .chunks(2)
        .map(|r| {
            let n = r[0] >> 8;
            assert_eq!(r[0] & 0xff, 1, "header {r:?}");
            assert_eq!(r[1], n * 1000, "payload of record {n} not visible");
            n
        })
        .collect()
}

/// The writer drains a chunk while its thread is still filling it: every pass sees
/// whole records only (Release publish / Acquire read), nothing twice, nothing lost.
#[test]
fn loom_drain_of_a_live_chunk_sees_whole_records() {
    loom::model(|| {
        let chunk = Arc::new(Chunk::new());
        let producer = {
            let chunk = chunk.clone();
            thread::spawn(move || {
                let pos = put_record(&chunk, 0, 1);
                put_record(&chunk, pos, 2);
            })
        };
        let mut seen = Vec::new();
        let mut words = Vec::new();
        chunk.read_new(&mut words); // a periodic drain, racing the producer
        seen.extend(records(&words));
        producer.join().unwrap();
        words.clear();
        chunk.read_new(&mut words); // the final drain
        seen.extend(records(&words));
        assert_eq!(seen, [1, 2]);
    });
}

/// A thread's slot and the writer's side of the hand-off.
struct Shared {
    /// The thread's current chunk (`SlotState::current`).
    slot: Mutex<Option<Arc<Chunk>>>,
    /// Full chunks sent to the writer (`Msg::Chunk`).
    to_writer: Mutex<VecDeque<Arc<Chunk>>>,
    /// Recycled chunks (the pool).
    free: Mutex<VecDeque<Arc<Chunk>>>,
}

impl Shared {
    /// Producer: hands the current chunk over and installs a fresh one, recycled
    /// if the writer returned one (as `Local::hand_over` and `acquire_chunk`).
    fn hand_over(&self, old: Arc<Chunk>) -> Arc<Chunk> {
        let fresh = lock(&self.free)
            .pop_front()
            .unwrap_or_else(|| Arc::new(Chunk::new()));
        let mut slot = lock(&self.slot);
        lock(&self.to_writer).push_back(old);
        *slot = Some(fresh.clone());
        fresh
    }

    /// Writer: one drain (as `Writer::drain_all`): under the slot lock, every chunk
    /// handed over, then the live one.
    fn drain(&self, seen: &mut Vec<u64>) {
        let slot = lock(&self.slot);
        while let Some(full) = lock(&self.to_writer).pop_front() {
            let mut words = Vec::new();
            full.read_new(&mut words);
            seen.extend(records(&words));
            full.reset();
            lock(&self.free).push_back(full);
        }
        if let Some(live) = slot.as_ref() {
            let mut words = Vec::new();
            live.read_new(&mut words);
            seen.extend(records(&words));
        }
    }
}

/// A thread fills a chunk, hands it over, fills the next, hands that over and
/// takes a chunk from the pool (the first one again, if the writer recycled it in
/// time), while the writer drains concurrently: every record is read exactly once
/// and in order, a recycled chunk never shows stale records, and a chunk is never
/// reset while its producer still writes to it.
#[test]
fn loom_hand_over_and_recycling_keep_records_once_and_in_order() {
    loom::model(|| {
        let first = Arc::new(Chunk::new());
        let shared = Arc::new(Shared {
            slot: Mutex::new(Some(first.clone())),
            to_writer: Mutex::new(VecDeque::new()),
            free: Mutex::new(VecDeque::new()),
        });
        let producer = {
            let shared = shared.clone();
            thread::spawn(move || {
                put_record(&first, 0, 1);
                let second = shared.hand_over(first);
                put_record(&second, 0, 2);
                let third = shared.hand_over(second);
                put_record(&third, 0, 3);
            })
        };
        let mut seen = Vec::new();
        shared.drain(&mut seen);
        producer.join().unwrap();
        shared.drain(&mut seen);
        assert_eq!(seen, [1, 2, 3]);
    });
}

/// A track of two lanes and what is on them: each lane's contents, which only
/// its holder may touch (loom reports any access not ordered after the previous
/// holder's as a race), hold the tick of the last slice end there.
struct Lanes {
    slots: [LaneSlot; 2],
    contents: [UnsafeCell<u64>; 2],
}

impl Lanes {
    /// Takes the first free lane for `holder`, as `Track::open_for_thread`
    /// (thread `me`) and `Track::open_task` (`POOL`) do: a compare-and-swap of
    /// the state seen. Returns it and the end its previous holder recorded.
    fn take(&self, holder: u64) -> (usize, u64) {
        loop {
            for (i, slot) in self.slots.iter().enumerate() {
                if let Some(free) = slot.free()
                    && let Some(taken) = slot.take(free, holder)
                {
                    return (i, taken.last_end);
                }
            }
            // Both held: the other holder frees one eventually.
            thread::yield_now();
        }
    }

    /// The holder's slice on lane `i`: checks that it sees the previous holder's
    /// end as the lane's `last_end`, and records its own end, `tick`.
    fn use_lane(&self, i: usize, last_end: u64, tick: u64) {
        self.contents[i].with_mut(|p| {
            // SAFETY: only the lane's holder touches its contents, and loom
            // checks that every access is ordered after the previous holder's.
            let seen = unsafe { *p };
            assert_eq!(seen, last_end, "the previous holder's end");
            // SAFETY: as above.
            unsafe { *p = tick };
        });
    }
}

/// A thread (its slices nested two deep, freed when the outer one closes, its
/// lane taken back the second time if still free) and a pool (futures: freed by
/// `free_pool`) each open slices on a track of two lanes twice: a lane has one holder at a time, a nested close keeps it held, and
/// whoever takes a lane next sees its last end.
#[test]
fn loom_lanes_have_one_holder_at_a_time_and_hand_over_their_last_end() {
    loom::model(|| {
        let lanes = Arc::new(Lanes {
            slots: [LaneSlot::new(), LaneSlot::new()],
            contents: [UnsafeCell::new(0), UnsafeCell::new(0)],
        });
        for slot in &lanes.slots {
            slot.init(1, None, false, 0);
        }
        let thread_side = {
            let lanes = lanes.clone();
            thread::spawn(move || {
                const ME: u64 = 7;
                let mut mine: Option<(usize, u64)> = None;
                for round in 1..=2 {
                    // The lane it freed last, taken back if nobody took it since
                    // (the sticky path), else the first free one.
                    let (i, last_end) = match mine {
                        Some((i, end)) if lanes.slots[i].retake(ME) => (i, end),
                        _ => lanes.take(ME),
                    };
                    let slot = &lanes.slots[i];
                    slot.nest();
                    let inner = 100 + round;
                    lanes.use_lane(i, last_end, inner);
                    slot.close_one(inner);
                    assert!(slot.held_by(ME), "still held by the outer slice");
                    let outer = 200 + round;
                    lanes.use_lane(i, inner, outer);
                    slot.close_one(outer);
                    mine = Some((i, outer));
                }
            })
        };
        for round in 1..=2 {
            let (i, last_end) = lanes.take(POOL);
            let end = 300 + round;
            lanes.use_lane(i, last_end, end);
            lanes.slots[i].free_pool(end, 9);
        }
        thread_side.join().unwrap();
        for slot in &lanes.slots {
            assert!(slot.free().is_some(), "every lane freed");
        }
    });
}
