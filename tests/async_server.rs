//! The async_server example's trace, decoded with the oracle: every request's
//! children nested in it or on lanes beneath it, its audit task linked to it, the
//! tasks linked to the dispatcher that created them, and a bounded track count.

#[path = "../examples/async_server.rs"]
#[allow(dead_code)]
mod example;

use std::collections::BTreeMap;
use tg4p_oracle::{EventKind, Slice, TrackKind};

#[test]
fn async_server_trace_has_the_expected_shape() {
    let path =
        std::env::temp_dir().join(format!("tg4p-async-server-{}.pftrace", std::process::id()));
    let report = example::run(&path).expect("the example runs");
    assert_eq!(report.events_dropped, 0);
    let trace = tg4p_oracle::decode_file(&path).expect("decodes");
    std::fs::remove_file(&path).ok();
    trace.assert_valid();

    let n = example::REQUESTS as usize;
    let handles = trace.slices_named("handle");
    assert_eq!(handles.len(), n);
    assert_eq!(trace.slices_named("audit").len(), n);
    assert_eq!(trace.slices_named("lookup").len(), 2 * n);
    assert_eq!(trace.slices_named("fetch").len(), 2 * n);
    assert_eq!(trace.slices_named("checksum").len(), n);
    assert_eq!(trace.slices_named("render").len(), n);

    // Each request's children lie within it, on its track or on a lane (a child
    // track) of it.
    let within = |parent: &Slice, child: &Slice| {
        parent.begin_ts <= child.begin_ts
            && child.end_ts.unwrap() <= parent.end_ts.unwrap()
            && (child.track == parent.track
                || trace.tracks[&child.track].parent == Some(parent.track))
    };
    for child in ["lookup", "fetch", "checksum", "render"] {
        for c in trace.slices_named(child) {
            let parents = handles.iter().filter(|h| within(h, c)).count();
            assert!(
                parents >= 1,
                "{child} at {} is inside a request",
                c.begin_ts
            );
        }
    }

    // Flows: each audit from its request, each request from the dispatcher's
    // `spawn` instant.
    // The oracle orders an arrow's events by time; trace_processor by the begins
    // of their slices, so a creator that ends after its task began still points
    // at it. Count the arrows touching each slice's events.
    let flows = trace.flows();
    let touching = |s: &Slice| {
        let events = [Some(s.begin_event), s.end_event];
        flows
            .iter()
            .filter(|f| events.contains(&Some(f.from_event)) || events.contains(&Some(f.to_event)))
            .count()
    };
    for a in trace.slices_named("audit") {
        assert_eq!(touching(a), 1, "an audit task links to its request");
    }
    for h in &handles {
        // One from the dispatcher's `spawn` instant, one to its audit.
        assert_eq!(
            touching(h),
            2,
            "a request links to its dispatcher and audit"
        );
    }
    let spawns = trace
        .events
        .iter()
        .filter(|e| e.kind == EventKind::Instant && e.name.as_deref() == Some("spawn"))
        .count();
    assert_eq!(spawns, n);

    // Tracks: as many per pool as ran at once, not one per call.
    let mut plain: BTreeMap<String, usize> = BTreeMap::new();
    for t in trace.tracks.values() {
        if matches!(t.kind, TrackKind::Plain) {
            let name = t.name.clone().unwrap_or_default();
            let base = name.split(" #").next().unwrap_or_default().to_owned();
            *plain.entry(base).or_default() += 1;
        }
    }
    let bound = example::CONCURRENCY as usize;
    assert!(plain["handle"] <= 2 * bound, "{plain:?}");
    assert!(plain["audit"] <= 2 * bound + 4, "{plain:?}");
}
