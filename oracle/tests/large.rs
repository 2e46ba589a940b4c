//! Huge traces stream through the counting-mode model with flat memory.

mod common;

use common::*;
use protobuf::Message;
use tg4p_oracle::*;

/// Writes `n` begin/end pairs (interned name, incremental clock) into a
/// file, packet by packet, and checks them in counting mode.
fn check_large(pairs: u64) {
    let path =
        std::env::temp_dir().join(format!("tg4p-oracle-large-{}.pftrace", std::process::id()));
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let mut head = preamble();
        head[2].set_sequence_flags(CLEARED | NEEDS);
        head[2].interned_data = protobuf::MessageField::some(names(&[(1, "work")]));
        head.push(snapshot(
            1,
            vec![clock(6, 1_000), incremental_clock(64, 0, 1)],
        ));
        f.write_all(&trace(&head)).unwrap();
        let mut b = begin(1, 10, 11, "x");
        b.mut_track_event().set_name_iid(1);
        b.set_timestamp_clock_id(64);
        let mut e = end(1, 5, 11);
        e.set_timestamp_clock_id(64);
        let (b, e) = (
            frame(&b.write_to_bytes().unwrap()),
            frame(&e.write_to_bytes().unwrap()),
        );
        for _ in 0..pairs {
            f.write_all(&b).unwrap();
            f.write_all(&e).unwrap();
        }
    }
    let t = decode_file_with(&path, ModelOptions { keep_events: false }).unwrap();
    std::fs::remove_file(&path).unwrap();
    t.assert_valid();
    let c = t.counts.track(11);
    assert_eq!(
        (c.begins, c.ends, c.max_depth, c.open_at_end),
        (pairs, pairs, 1, 0)
    );
    assert_eq!(c.last_ts, Some(1_000 + 15 * pairs));
}

#[test]
fn hundred_thousand_events_in_counting_mode() {
    check_large(50_000);
}

/// `cargo test -p tg4p-oracle --release --test large -- --ignored`
#[test]
#[ignore = "slow: 4 million events"]
fn four_million_events_in_counting_mode() {
    check_large(2_000_000);
}
