//! Track uuids and flow ids that stay unique when traces are concatenated.
//!
//! Perfetto's track uuids and flow ids are global to a trace file, and files from
//! several processes (or several generators) may be concatenated into one. Ids are
//! therefore drawn from a per-process random 64-bit starting point and counted up
//! from there: unique within the process, and colliding across processes only with
//! negligible probability. Zero is never handed out (uuid 0 is Perfetto's implicit
//! global track).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// A random 64-bit value, from the OS-seeded keys of std's `RandomState` mixed with
/// the time and the process id (no extra dependency needed).
pub fn random_u64() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    if let Ok(d) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        hasher.write_u128(d.as_nanos());
    }
    hasher.finish()
}

struct IdSpace {
    next: AtomicU64,
}

impl IdSpace {
    fn get(cell: &'static OnceLock<IdSpace>) -> &'static IdSpace {
        cell.get_or_init(|| IdSpace {
            next: AtomicU64::new(random_u64()),
        })
    }

    fn next(&self) -> u64 {
        loop {
            // Relaxed: only uniqueness matters, which the atomic add gives by itself.
            let id = self.next.fetch_add(1, Ordering::Relaxed);
            if id != 0 {
                return id;
            }
        }
    }
}

static TRACK_UUIDS: OnceLock<IdSpace> = OnceLock::new();
static FLOW_IDS: OnceLock<IdSpace> = OnceLock::new();

/// A new track uuid, unique in this process and never 0.
pub fn next_track_uuid() -> u64 {
    IdSpace::get(&TRACK_UUIDS).next()
}

/// Identifies a flow: an arrow between events, possibly on different tracks or threads.
///
/// [`FlowId::new`] mints ids that are unique in this process and, with overwhelming
/// probability, across processes, so traces can be concatenated. [`FlowId::from_raw`]
/// takes a number of your own (as the Python original's examples do); keeping such
/// ids unique is then your responsibility, since every event naming an id joins its
/// chain of arrows until the id is terminated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowId(u64);

impl FlowId {
    /// Mints a fresh flow id.
    pub fn new() -> FlowId {
        FlowId(IdSpace::get(&FLOW_IDS).next())
    }

    /// Wraps a caller-chosen id.
    pub const fn from_raw(id: u64) -> FlowId {
        FlowId(id)
    }

    /// The id as written to the trace.
    pub const fn raw(self) -> u64 {
        self.0
    }
}

impl Default for FlowId {
    fn default() -> Self {
        FlowId::new()
    }
}

impl From<u64> for FlowId {
    fn from(id: u64) -> FlowId {
        FlowId(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_unique_and_nonzero_across_threads() {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| {
                    (0..10_000)
                        .map(|_| (next_track_uuid(), FlowId::new().raw()))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut uuids = HashSet::new();
        let mut flows = HashSet::new();
        for h in handles {
            for (u, f) in h.join().unwrap() {
                assert_ne!(u, 0);
                assert!(uuids.insert(u), "duplicate uuid {u}");
                assert!(flows.insert(f), "duplicate flow {f}");
            }
        }
    }

    #[test]
    fn random_values_differ() {
        assert_ne!(random_u64(), random_u64());
    }
}
