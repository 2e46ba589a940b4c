//! The seed's `example.py` ("Custom packet generation"), call for call.
//!
//! Run from the workspace root:
//! `cargo run --release --example custom_packets -- OUT.pftrace`
//! (without an argument the trace goes to `custom_packets.pftrace`). Open it in
//! <https://ui.perfetto.dev>.

use tg4p::generator::Extras;
use tg4p::generator::{GeneratorError, TraceGenerator};
use tg4p::{FlowId, args};

/// Writes the example's events with `tgen` (shared with the tests, which check the
/// decoded trace event by event).
pub fn write_example(tgen: &TraceGenerator) -> Result<(), GeneratorError> {
    // The seed numbers its flows by hand; FlowId::from_raw keeps those numbers (fresh
    // ids would come from `tgen.new_flow()`).
    let [f1, f2, f3, f4] = [1, 2, 3, 4].map(FlowId::from_raw);

    // Calls may come in any timestamp order across tracks; Perfetto sorts them.
    let pid = tgen.create_group_with_track("aaa", "example_track");
    pid.open(100, "SOME_TRACK")?;
    // A flow leaving the end of this slice, arriving at "WXX4" (400 ns) below.
    pid.close_with(250, &[f4])?;

    // Global counter track.
    let tid = tgen.create_counter_track("bbb");
    tid.count(0, 3)?;
    tid.count(200, 5)?;
    tid.count(400, 7)?;
    tid.count(700, 2)?;

    // Counter track within the group "aaa".
    let tid = pid.create_counter_track("bbb");
    tid.count(0, 2)?;
    tid.count(200, 4)?;
    tid.count(400, 5)?;
    tid.count(700, 1)?;

    let tid = pid.create_track("ddd");
    tid.open(100, "WXX")?;
    // Another flow, also arriving at "WXX4".
    tid.close_with(300, &[f3])?;

    tgen.flush()?;

    let pid = tgen.create_group("vvv");
    let tid = pid.create_counter_track("bbb2");
    tid.count(0, 2)?;
    tid.count(300, 400)?;
    tid.count(400, 500)?;
    tid.count(700, 1000)?;

    let tid = pid.create_track("ddd2");
    let tid2 = pid.create_track("ddd3");

    tid2.instant(200, "WXYZ")?;
    tid.open(222, "XXX")?;
    tid2.open_with(300, "WXX3", &args!({"aaa": "bbb", "ccc": "ddd"}))?;
    tid2.instant_with(300, "ABCDE", &args!({"aaa": "bbb", "ccc": "xxx"}))?;
    tid.close(333)?;
    // Receives the arrows of flows 3 and 4 from the slices closed above.
    tid2.open_with(
        400,
        "WXX4",
        Extras::new()
            .args(&args!({"aaa": "bbb", "ccc": "ddd"}))
            .flows(&[f3, f4]),
    )?;
    tid2.instant(400, "ABCDE")?;

    // Some annotation on an instant event.
    tid2.instant_with(
        600,
        "ADE",
        &args!({"aaa": "abc", "ccc": "xxx", "eee": {"aaa": "abc", "ccc": "ddd"}}),
    )?;
    tid2.close_with(670, &[f2])?;

    // Very complex annotations!
    let complex = args!({
        "aaa": "abc",
        "ccc": [1, 2, 3, 4, "a", "b", {"abcdef": "fdsa", "ggg": true}],
        "eee": {
            "aaa": "abc",
            "ccc": true,
            "eee": {
                "fff": "ggg",
                "hhh": 0x1234567
            }
        },
        "jjj": "kkk"
    });
    tid2.instant_with(700, "ADE2", Extras::new().args(&complex).flows(&[f2]))?;
    tid2.close_with(900, &[f1])?;
    tid.open_with(
        900,
        "WXX2",
        Extras::new()
            .args(&args!({"aaa": "bbb", "ccc": "ddd"}))
            .flows(&[f1]),
    )?;
    tid.close(1000)?;

    let pid4 = tgen.create_group("abc.2");
    let tid4 = pid4.create_group("XX");
    let t1 = tid4.create_anonymous_track();
    let t2 = tid4.create_anonymous_track();
    t1.open(100, "X")?;
    t2.open(300, "Y")?;
    t1.close(500)?;
    t2.close(600)?;
    Ok(())
}

#[allow(dead_code)] // the tests include this file for `write_example` only
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "custom_packets.pftrace".into());
    let tgen = TraceGenerator::create(&path)?;
    write_example(&tgen)?;
    tgen.finish()?;
    println!("wrote {path}");
    Ok(())
}
