//! The file of a session written to a path.
//!
//! On Linux its blocks are reserved ahead of the writes, [`RESERVE_STEP`] at a
//! time (`fallocate` with `FALLOC_FL_KEEP_SIZE`: the file's length is what was
//! written, always). A page written into reserved blocks costs the filesystem no
//! reservation of its own: ext4's delayed allocation otherwise reserves, accounts
//! and tracks every page as it is first written, about a twentieth of a `#[trace]`
//! span's whole cost here (bench `recorder`, per-op table). The reserve left past
//! the end is given back when the file is closed (dropped: the writer thread drops
//! it before `Session::finish` returns). A process that dies first leaves at most
//! one step reserved past the end, invisible in the file's length. Where the
//! filesystem cannot reserve (NFS, FAT, ...), the writes are plain writes.

use std::fs::File;
use std::io::{self, Write};

/// Bytes reserved at a time, ahead of the writes.
const RESERVE_STEP: u64 = 16 << 20;

/// A trace file created empty, written from its start, its blocks reserved ahead.
pub(crate) struct TraceFile {
    file: File,
    /// Bytes written so far: the file's length.
    written: u64,
    /// Bytes reserved from the start of the file (0 once reserving failed).
    reserved: u64,
    /// Whether to keep reserving (until the filesystem refuses).
    reserving: bool,
}

impl TraceFile {
    /// `file`, just created (empty).
    pub(crate) fn new(file: File) -> TraceFile {
        TraceFile {
            file,
            written: 0,
            reserved: 0,
            reserving: cfg!(target_os = "linux"),
        }
    }

    /// Reserves blocks up to at least byte `end`, a step ahead of it.
    fn reserve(&mut self, end: u64) {
        if !self.reserving || end <= self.reserved {
            return;
        }
        let to = end + RESERVE_STEP;
        if reserve_blocks(&self.file, self.reserved, to - self.reserved) {
            self.reserved = to;
        } else {
            self.reserving = false;
        }
    }
}

impl Write for TraceFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.reserve(self.written + buf.len() as u64);
        let n = self.file.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Drop for TraceFile {
    /// Gives back the blocks reserved past the end: truncating to the file's own
    /// length frees them (ext4, XFS, tmpfs).
    fn drop(&mut self) {
        if self.reserved > self.written {
            let _ = self.file.set_len(self.written);
        }
    }
}

/// Reserves `len` bytes of blocks of `file` from `offset`, its length unchanged:
/// `false` if the filesystem cannot (or the call fails).
#[cfg(target_os = "linux")]
fn reserve_blocks(file: &File, offset: u64, len: u64) -> bool {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (libc::off_t::try_from(offset), libc::off_t::try_from(len)) else {
        return false;
    };
    // SAFETY: `fallocate` takes a file descriptor and three integers and touches
    // no memory of ours; the descriptor is `file`'s, open for writing, and stays
    // open for the call (`file` is borrowed).
    let rc = unsafe { libc::fallocate(file.as_raw_fd(), libc::FALLOC_FL_KEEP_SIZE, offset, len) };
    rc == 0
}

#[cfg(not(target_os = "linux"))]
fn reserve_blocks(_: &File, _: u64, _: u64) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("tg4p-trace-file-{}-{name}", std::process::id()))
    }

    #[test]
    fn the_file_holds_what_was_written_and_no_reserve_once_closed() {
        let path = temp("written");
        let mut f = TraceFile::new(File::create(&path).unwrap());
        let chunk = vec![7u8; 300 << 10];
        for _ in 0..70 {
            f.write_all(&chunk).unwrap(); // 21 MiB: past the first step
        }
        let written = 70 * chunk.len() as u64;
        assert_eq!(f.written, written);
        if cfg!(target_os = "linux") && f.reserving {
            assert!(f.reserved >= written, "reserved ahead of the writes");
        }
        // While open, the length is what was written, not the reserve.
        assert_eq!(std::fs::metadata(&path).unwrap().len(), written);
        drop(f);
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.len(), written);
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            // Blocks of 512 bytes in use: the data, not the reserve past it (one
            // step would be 16 MiB more).
            assert!(
                meta.blocks() * 512 < written + (1 << 20),
                "{} bytes of blocks for {written} bytes",
                meta.blocks() * 512
            );
        }
        assert_eq!(std::fs::read(&path).unwrap().len() as u64, written);
        std::fs::remove_file(&path).ok();
    }
}
