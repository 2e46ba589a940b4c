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
