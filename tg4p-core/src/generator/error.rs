//! The generator's error type.

use std::fmt;
use std::io;

/// What went wrong in a [`TraceGenerator`](super::TraceGenerator) call.
///
/// A call that returns an error (other than [`GeneratorError::Io`]) wrote nothing: the
/// trace stays exactly as it was before the call, and the generator remains usable.
#[derive(Debug)]
#[non_exhaustive]
pub enum GeneratorError {
    /// Writing to the output failed. The output may end in the middle of a packet
    /// (trace_processor then loses only that last packet); the generator is stopped
    /// and every later call returns [`GeneratorError::Stopped`].
    Io(io::Error),
    /// An earlier I/O error stopped the generator; nothing more is written.
    Stopped,
    /// The generator was finished (explicitly or by being dropped); handles can no
    /// longer write.
    Finished,
    /// The timestamp is before the previous event on the same track. Within one track
    /// timestamps must not decrease (across tracks any order is fine).
    TimestampDecreased {
        /// The latest timestamp written on the track, in ns.
        previous: u64,
        /// The refused timestamp, in ns.
        timestamp: u64,
    },
    /// The timestamp is above `i64::MAX` ns; trace_processor would read it as negative
    /// and drop it.
    TimestampTooLarge {
        /// The refused timestamp, in ns.
        timestamp: u64,
    },
    /// `close` on a track that has no open slice.
    NoOpenSlice,
    /// `open` on a track that already has `max` open slices: trace_processor drops
    /// slices nested deeper than 512.
    TooManyOpenSlices {
        /// The limit, 512.
        max: u64,
    },
    /// An argument value nests deeper than
    /// [`MAX_DEPTH`](crate::annotation::MAX_DEPTH); flatten it or split it up.
    TooDeep {
        /// The depth of the refused value (a scalar is 1).
        depth: usize,
        /// The limit, [`MAX_DEPTH`](crate::annotation::MAX_DEPTH).
        max: usize,
    },
    /// A [`NameId`](super::NameId) given to another track than the one it is from.
    ForeignName,
    /// Event arguments must be a dict (`args!({...})`): its keys name the arguments.
    ArgsNotDict,
}

impl fmt::Display for GeneratorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GeneratorError::Io(e) => write!(f, "writing the trace failed: {e}"),
            GeneratorError::Stopped => {
                write!(
                    f,
                    "the trace generator stopped after an earlier write error"
                )
            }
            GeneratorError::Finished => write!(f, "the trace generator is already finished"),
            GeneratorError::TimestampDecreased {
                previous,
                timestamp,
            } => write!(
                f,
                "timestamp {timestamp} ns is before the previous event on this track \
                 ({previous} ns); timestamps must not decrease within a track"
            ),
            GeneratorError::TimestampTooLarge { timestamp } => write!(
                f,
                "timestamp {timestamp} ns is above i64::MAX ns, which Perfetto cannot represent"
            ),
            GeneratorError::NoOpenSlice => write!(f, "close on a track with no open slice"),
            GeneratorError::TooManyOpenSlices { max } => write!(
                f,
                "open on a track that already has {max} open slices, the most Perfetto keeps"
            ),
            GeneratorError::TooDeep { depth, max } => write!(
                f,
                "argument value nested {depth} levels deep; at most {max} are supported"
            ),
            GeneratorError::ForeignName => {
                write!(f, "a NameId given to another track than its own")
            }
            GeneratorError::ArgsNotDict => {
                write!(f, "event arguments must be a dict of named values")
            }
        }
    }
}

impl std::error::Error for GeneratorError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            GeneratorError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for GeneratorError {
    fn from(e: io::Error) -> Self {
        GeneratorError::Io(e)
    }
}
