//! `tracing` spans and events recorded through `tg4p::TracingLayer` on
//! `tracing_subscriber`'s registry: the shared scenarios (`tracing_scenarios/`)
//! and what only a layer does (compose with other layers and filters).

mod tracing_scenarios;

use tracing_scenarios::{owned, record, serial, thread_track, tree};
use tracing_subscriber::layer::SubscriberExt;

fn install() {
    let subscriber = tracing_subscriber::registry().with(tg4p::TracingLayer::new());
    tracing::subscriber::set_global_default(subscriber).unwrap();
}

#[test]
fn composes_with_per_layer_filters() {
    use tracing_subscriber::Layer;
    use tracing_subscriber::filter::LevelFilter;
    let _g = serial();
    let trace = record("filtered", "filtered-worker", || {
        let subscriber = tracing_subscriber::registry()
            .with(tg4p::TracingLayer::new().with_filter(LevelFilter::INFO));
        tracing::subscriber::with_default(subscriber, || {
            tracing::info_span!("kept_span").in_scope(|| {
                tracing::debug_span!("filtered_span").in_scope(|| {
                    tracing::debug!("filtered event");
                    tracing::info!("kept event");
                });
            });
        });
    });
    let track = thread_track(&trace, "filtered-worker");
    assert_eq!(tree(&trace, track), owned(&[("kept_span", 0)]));
    assert_eq!(trace.events_named("kept event").count(), 1);
    assert_eq!(trace.events_named("filtered event").count(), 0);
    assert!(trace.slices_named("filtered_span").is_empty());
}

#[test]
fn two_registries_on_one_thread_keep_their_spans_apart() {
    // Each registry numbers its spans from the same start: the first span of
    // each on this thread has the same id. The layer of each must find its own.
    let _g = serial();
    let trace = record("two-registries", "two-registries-worker", || {
        let a = tracing_subscriber::registry().with(tg4p::TracingLayer::new());
        let b = tracing_subscriber::registry().with(tg4p::TracingLayer::new());
        tracing::subscriber::with_default(a, || {
            let outer = tracing::info_span!("in_registry_a", n = 1u64);
            outer.in_scope(|| {
                tracing::subscriber::with_default(b, || {
                    let inner = tracing::info_span!("in_registry_b", n = 2u64);
                    inner.in_scope(|| {});
                });
            });
        });
    });
    let track = thread_track(&trace, "two-registries-worker");
    assert_eq!(
        tree(&trace, track),
        owned(&[("in_registry_a", 0), ("in_registry_b", 1)])
    );
    for (name, n) in [("in_registry_a", 1), ("in_registry_b", 2)] {
        let s = trace.slices_named(name);
        assert_eq!(s.len(), 1, "{name}");
        assert_eq!(s[0].arg("n"), Some(&tg4p_oracle::Arg::Uint(n)), "{name}");
    }
}
