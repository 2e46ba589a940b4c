//! Base-128 varints, written by hand where quick-protobuf's byte-at-a-time writer
//! is too slow: the generator's packet encoder and the live writer's templates.
//! One implementation, in three forms: into a slice, onto a `Vec`, through a raw
//! pointer (the generator's unchecked encoder).

/// Most bytes a varint takes (a `u64`).
pub(crate) const MAX_LEN: usize = 10;

/// Bytes the varint of `v` takes.
#[inline(always)]
pub(crate) const fn len(v: u64) -> usize {
    // One byte per started group of 7 bits, at least one.
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// Writes `v` as a varint at the start of `out`; returns its length. `out` must
/// hold [`len`]`(v)` bytes (the indexing checks it). The one- and two-byte cases
/// (small ids, deltas below 16 µs) take no loop.
#[inline(always)]
pub(crate) fn put(out: &mut [u8], mut v: u64) -> usize {
    if v < 0x80 {
        out[0] = v as u8;
        return 1;
    }
    if v < 0x4000 {
        out[0] = v as u8 | 0x80;
        out[1] = (v >> 7) as u8;
        return 2;
    }
    let mut n = 0;
    while v >= 0x80 {
        out[n] = v as u8 | 0x80;
        v >>= 7;
        n += 1;
    }
    out[n] = v as u8;
    n + 1
}

/// Appends `v` as a varint to `out`.
#[inline]
pub(crate) fn push(out: &mut Vec<u8>, v: u64) {
    let mut buf = [0; MAX_LEN];
    let n = put(&mut buf, v);
    out.extend_from_slice(&buf[..n]);
}

/// Writes `v` as a varint at `p` and returns the position after it, as [`put`]
/// does but with no bounds checks: for an encoder that has reserved room for its
/// whole packet. Debug builds check the room against `end`.
///
/// # Safety
/// `p` must be valid for writing [`len`]`(v)` bytes, and `end` must not be before
/// `p + len(v)` (checked in debug builds only).
#[inline(always)]
pub(crate) unsafe fn put_unchecked(p: *mut u8, end: *const u8, v: u64) -> *mut u8 {
    debug_assert!(
        (p as usize).saturating_add(len(v)) <= end as usize,
        "varint of {v} past the reserved room"
    );
    // SAFETY (all writes): at most `len(v)` bytes from `p`, as the caller guarantees.
    unsafe {
        if v < 0x80 {
            p.write(v as u8);
            return p.add(1);
        }
        if v < 0x4000 {
            p.write(v as u8 | 0x80);
            p.add(1).write((v >> 7) as u8);
            return p.add(2);
        }
        put_unchecked_long(p, v)
    }
}

/// [`put_unchecked`] for values of 3 bytes and more.
///
/// # Safety
/// As for [`put_unchecked`].
#[inline(never)]
unsafe fn put_unchecked_long(mut p: *mut u8, mut v: u64) -> *mut u8 {
    // SAFETY: `len(v)` bytes from `p`, which the caller guarantees.
    unsafe {
        while v >= 0x80 {
            p.write(v as u8 | 0x80);
            p = p.add(1);
            v >>= 7;
        }
        p.write(v as u8);
        p.add(1)
    }
}

#[cfg(all(test, not(tg4p_loom)))]
mod tests {
    use super::*;

    /// Every form writes what quick-protobuf writes, and as many bytes as `len` says.
    #[test]
    fn every_form_writes_what_quick_protobuf_writes() {
        let mut values: Vec<u64> = vec![0, 1, 127, 128, 16_383, 16_384, u64::MAX];
        values.extend((0..64).map(|k| 1u64 << k));
        values.extend((1..64).map(|k| (1u64 << k) - 1));
        for v in values {
            let mut expected = Vec::new();
            quick_protobuf::Writer::new(&mut expected)
                .write_varint(v)
                .unwrap();
            assert_eq!(len(v), expected.len(), "{v}");
            assert_eq!(quick_protobuf::sizeofs::sizeof_varint(v), len(v), "{v}");
            let mut buf = [0xAB; MAX_LEN + 1];
            assert_eq!(put(&mut buf, v), expected.len());
            assert_eq!(buf[..expected.len()], expected[..]);
            let mut pushed = vec![7];
            push(&mut pushed, v);
            assert_eq!(pushed[1..], expected[..]);
            let mut raw = [0xAB; MAX_LEN];
            let range = raw.as_mut_ptr_range();
            // SAFETY: `raw` holds MAX_LEN bytes, the most a varint takes.
            let end = unsafe { put_unchecked(range.start, range.end, v) };
            assert_eq!(end as usize - range.start as usize, expected.len());
            assert_eq!(raw[..expected.len()], expected[..]);
        }
    }
}
