//! Errors raised while reading a trace (as opposed to rule violations, which
//! are collected in [`crate::DecodedTrace::violations`]).

use std::{error::Error, fmt, io};

/// Why bytes could not be turned into trace packets.
#[derive(Debug)]
pub enum OracleError {
    /// Reading the underlying file or stream failed.
    Io(io::Error),
    /// The bytes at `offset` are not valid protobuf: either the framing is
    /// broken (reading stops) or one complete packet is corrupt (reading
    /// continues with the next packet).
    Decode {
        /// Byte offset of the packet (or framing field) in the stream.
        offset: u64,
        /// What the decoder complained about.
        message: String,
    },
    /// The stream ends inside the packet that starts at `offset`, as happens
    /// when the writer crashed. Always the last item of a [`crate::PacketReader`].
    Truncated {
        /// Byte offset where the partial packet starts.
        offset: u64,
    },
    /// A top-level field other than `Trace.packet` (field 1, length-delimited).
    /// trace_processor skips it; reading continues.
    UnexpectedField {
        /// Byte offset of the field's tag.
        offset: u64,
        /// Its field number.
        field: u64,
        /// Its wire type.
        wire_type: u8,
    },
}

impl fmt::Display for OracleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OracleError::Io(e) => write!(f, "I/O error: {e}"),
            OracleError::Decode { offset, message } => {
                write!(f, "cannot decode trace at byte {offset}: {message}")
            }
            OracleError::Truncated { offset } => {
                write!(
                    f,
                    "trace is truncated: the packet at byte {offset} is incomplete"
                )
            }
            OracleError::UnexpectedField {
                offset,
                field,
                wire_type,
            } => write!(
                f,
                "unexpected top-level field {field} (wire type {wire_type}) at byte {offset}; \
                 a trace must contain only field 1 (TracePacket)"
            ),
        }
    }
}

impl Error for OracleError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            OracleError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for OracleError {
    fn from(e: io::Error) -> Self {
        OracleError::Io(e)
    }
}
