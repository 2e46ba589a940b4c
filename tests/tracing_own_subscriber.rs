//! `tracing` spans and events recorded through `tg4p::TracingSubscriber`, tg4p's
//! own `tracing::Subscriber`: the shared scenarios (`tracing_scenarios/`), and its
//! level filter.

mod tracing_scenarios;

use tracing::level_filters::LevelFilter;
use tracing_scenarios::{owned, record, serial, thread_track, tree};

fn install() {
    tracing::subscriber::set_global_default(tg4p::TracingSubscriber::new()).unwrap();
}

#[test]
fn with_max_level_leaves_out_what_is_below() {
    let _g = serial();
    let trace = record("max-level", "max-level-worker", || {
        let subscriber = tg4p::TracingSubscriber::new().with_max_level(LevelFilter::INFO);
        tracing::subscriber::with_default(subscriber, || {
            tracing::info_span!("kept_span").in_scope(|| {
                tracing::debug_span!("filtered_span").in_scope(|| {
                    tracing::debug!("filtered event");
                    tracing::info!("kept event");
                });
            });
        });
    });
    let track = thread_track(&trace, "max-level-worker");
    assert_eq!(tree(&trace, track), owned(&[("kept_span", 0)]));
    assert_eq!(trace.events_named("kept event").count(), 1);
    assert_eq!(trace.events_named("filtered event").count(), 0);
    assert!(trace.slices_named("filtered_span").is_empty());
}

#[test]
fn current_span_is_the_innermost_entered() {
    let _g = serial();
    let _trace = record("current", "current-worker", || {
        let outer = tracing::info_span!("outer_current");
        let inner = tracing::debug_span!("inner_current");
        outer.in_scope(|| {
            assert_eq!(tracing::Span::current().id(), outer.id());
            inner.in_scope(|| {
                let current = tracing::Span::current();
                assert_eq!(current.id(), inner.id());
                assert_eq!(current.metadata().map(|m| m.name()), Some("inner_current"));
            });
            assert_eq!(tracing::Span::current().id(), outer.id());
        });
        assert!(tracing::Span::current().is_none());
    });
}
