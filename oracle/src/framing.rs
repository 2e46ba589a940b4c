//! Splitting a trace file into packets.
//!
//! A trace is a `Trace` message, i.e. a sequence of `packet` fields (field 1,
//! length-delimited). We read the framing ourselves instead of parsing a whole
//! `Trace` so that memory stays flat for multi-GB files, concatenated files
//! just work, and a file cut by a crash loses only its last packet.

use std::io::{self, BufRead, BufReader, Read};

use perfetto_protos::trace_packet::TracePacket;
use protobuf::Message;

use crate::error::OracleError;

/// Tag of `Trace.packet`: field 1, wire type 2 (length-delimited).
const PACKET_TAG: u64 = (1 << 3) | 2;

/// One packet's bytes, as found in the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawPacket {
    /// Byte offset of the packet's tag in the stream.
    pub offset: u64,
    /// The serialized `TracePacket` (without tag and length).
    pub bytes: Vec<u8>,
}

impl RawPacket {
    /// Parses the bytes with Perfetto's generated `TracePacket`.
    pub fn parse(&self) -> Result<TracePacket, OracleError> {
        TracePacket::parse_from_bytes(&self.bytes).map_err(|e| OracleError::Decode {
            offset: self.offset,
            message: e.to_string(),
        })
    }
}

/// Streams the packets of a trace one by one.
///
/// As an iterator it yields each parsed `TracePacket`. A corrupt complete
/// packet yields `Err(OracleError::Decode{..})` and reading goes on; a
/// top-level field other than a packet yields
/// `Err(OracleError::UnexpectedField{..})` and reading goes on; a trailing
/// partial packet yields `Err(OracleError::Truncated{..})` as the last item.
/// Empty packets are skipped, like trace_processor does.
pub struct PacketReader<R: Read> {
    inner: BufReader<R>,
    offset: u64,
    done: bool,
}

impl<R: Read> PacketReader<R> {
    /// Reads packets from `reader` (buffered internally).
    pub fn new(reader: R) -> Self {
        PacketReader {
            inner: BufReader::with_capacity(1 << 16, reader),
            offset: 0,
            done: false,
        }
    }

    /// Number of bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Like `next()`, but returns the packet's bytes without parsing them.
    pub fn next_raw(&mut self) -> Option<Result<RawPacket, OracleError>> {
        if self.done {
            return None;
        }
        let result = self.read_frame();
        match &result {
            // Framing is lost or the stream ended: nothing more to read.
            Ok(None) | Err(OracleError::Io(_) | OracleError::Truncated { .. }) => self.done = true,
            Err(OracleError::Decode { .. }) => self.done = true,
            _ => {}
        }
        result.transpose()
    }

    /// Reads the next non-empty packet, or reports a non-packet field.
    fn read_frame(&mut self) -> Result<Option<RawPacket>, OracleError> {
        loop {
            let start = self.offset;
            let Some(tag) = self.read_varint(start, true)? else {
                return Ok(None);
            };
            if tag == PACKET_TAG {
                let len = self.read_len(start)?;
                if len == 0 {
                    continue; // empty packets carry nothing; trace_processor skips them
                }
                let bytes = self.read_bytes(start, len)?;
                return Ok(Some(RawPacket {
                    offset: start,
                    bytes,
                }));
            }
            let wire_type = (tag & 7) as u8;
            match wire_type {
                0 => {
                    self.read_varint(start, false)?;
                }
                1 => self.skip(start, 8)?,
                2 => {
                    let len = self.read_len(start)?;
                    self.skip(start, len)?;
                }
                5 => self.skip(start, 4)?,
                _ => {
                    return Err(OracleError::Decode {
                        offset: start,
                        message: format!("top-level tag {tag} has invalid wire type {wire_type}"),
                    });
                }
            }
            return Err(OracleError::UnexpectedField {
                offset: start,
                field: tag >> 3,
                wire_type,
            });
        }
    }

    fn read_byte(&mut self) -> io::Result<Option<u8>> {
        loop {
            match self.inner.fill_buf() {
                Ok([]) => return Ok(None),
                Ok(buf) => {
                    let b = buf[0];
                    self.inner.consume(1);
                    self.offset += 1;
                    return Ok(Some(b));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads a varint. A clean end of stream before its first byte is `None`
    /// when `eof_ok`; any other end of stream is a truncated packet.
    fn read_varint(&mut self, start: u64, eof_ok: bool) -> Result<Option<u64>, OracleError> {
        let mut value = 0u64;
        for i in 0..10 {
            let Some(b) = self.read_byte()? else {
                if i == 0 && eof_ok {
                    return Ok(None);
                }
                return Err(OracleError::Truncated { offset: start });
            };
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(Some(value));
            }
        }
        Err(OracleError::Decode {
            offset: start,
            message: "varint longer than 10 bytes".into(),
        })
    }

    fn read_len(&mut self, start: u64) -> Result<u64, OracleError> {
        self.read_varint(start, false)?
            .ok_or(OracleError::Truncated { offset: start })
    }

    fn read_bytes(&mut self, start: u64, len: u64) -> Result<Vec<u8>, OracleError> {
        // Don't trust `len` for the allocation: a corrupt length must not
        // reserve gigabytes; the vector grows as bytes actually arrive.
        let mut bytes = Vec::with_capacity(len.min(1 << 20) as usize);
        let got = (&mut self.inner).take(len).read_to_end(&mut bytes)?;
        self.offset += got as u64;
        if (got as u64) < len {
            return Err(OracleError::Truncated { offset: start });
        }
        Ok(bytes)
    }

    fn skip(&mut self, start: u64, len: u64) -> Result<(), OracleError> {
        let got = io::copy(&mut (&mut self.inner).take(len), &mut io::sink())?;
        self.offset += got;
        if got < len {
            return Err(OracleError::Truncated { offset: start });
        }
        Ok(())
    }
}

impl<R: Read> Iterator for PacketReader<R> {
    type Item = Result<TracePacket, OracleError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_raw().map(|raw| raw.and_then(|raw| raw.parse()))
    }
}

impl<R: Read> std::iter::FusedIterator for PacketReader<R> {}
