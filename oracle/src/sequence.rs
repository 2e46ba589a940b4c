//! Per-sequence incremental state: interned tables and packet defaults.
//!
//! Mirrors trace_processor's `PacketSequenceStateGeneration`: a sequence starts
//! with *invalid* incremental state; `SEQ_INCREMENTAL_STATE_CLEARED` empties
//! the interned tables and the defaults and makes it valid; a packet marked
//! `previous_packet_dropped` (without clearing) makes it invalid again but
//! keeps the tables.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use perfetto_protos::interned_data::InternedData;

use crate::events::SourceLocation;
use crate::rules::Rule;

/// `TracePacket.sequence_flags` bits.
pub(crate) const SEQ_INCREMENTAL_STATE_CLEARED: u32 = 1;
pub(crate) const SEQ_NEEDS_INCREMENTAL_STATE: u32 = 2;

/// `TracePacketDefaults` as far as the oracle uses them.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Defaults {
    pub clock_id: Option<u32>,
    pub track_uuid: Option<u64>,
}

/// Interned tables of one sequence (one generation).
#[derive(Debug, Default)]
pub(crate) struct Interned {
    pub event_names: HashMap<u64, String>,
    pub categories: HashMap<u64, String>,
    pub annotation_names: HashMap<u64, String>,
    pub string_values: HashMap<u64, String>,
    pub source_locations: HashMap<u64, SourceLocation>,
}

/// State of one `trusted_packet_sequence_id`.
#[derive(Debug, Default)]
pub(crate) struct Sequence {
    /// Incremental state is valid: cleared, and no loss since.
    pub valid: bool,
    pub interned: Interned,
    pub defaults: Option<Defaults>,
}

impl Sequence {
    /// `SEQ_INCREMENTAL_STATE_CLEARED`: new generation.
    pub fn clear(&mut self) {
        self.valid = true;
        self.interned = Interned::default();
        self.defaults = None;
    }

    /// Adds the entries of `data` to the tables; reports bad entries.
    pub fn intern(&mut self, data: &InternedData, report: &mut dyn FnMut(Rule, String)) {
        let t = &mut self.interned;
        for e in &data.event_names {
            add(
                &mut t.event_names,
                "event_names",
                e.iid,
                e.name().to_string(),
                report,
            );
        }
        for e in &data.event_categories {
            add(
                &mut t.categories,
                "event_categories",
                e.iid,
                e.name().to_string(),
                report,
            );
        }
        for e in &data.debug_annotation_names {
            let name = e.name().to_string();
            add(
                &mut t.annotation_names,
                "debug_annotation_names",
                e.iid,
                name,
                report,
            );
        }
        for e in &data.debug_annotation_string_values {
            let s = String::from_utf8_lossy(e.str()).into_owned();
            add(
                &mut t.string_values,
                "debug_annotation_string_values",
                e.iid,
                s,
                report,
            );
        }
        for e in &data.source_locations {
            let loc = SourceLocation {
                file: e.file_name().to_string(),
                function: e.function_name().to_string(),
                line: e.line_number(),
            };
            add(
                &mut t.source_locations,
                "source_locations",
                e.iid,
                loc,
                report,
            );
        }
    }
}

fn add<V: PartialEq + std::fmt::Debug>(
    table: &mut HashMap<u64, V>,
    table_name: &str,
    iid: Option<u64>,
    value: V,
    report: &mut dyn FnMut(Rule, String),
) {
    let iid = match iid {
        None => return report(Rule::InvalidIid, format!("{table_name} entry without iid")),
        Some(0) => return report(Rule::InvalidIid, format!("{table_name} entry with iid 0")),
        Some(iid) => iid,
    };
    match table.entry(iid) {
        Entry::Vacant(v) => {
            v.insert(value);
        }
        Entry::Occupied(o) if *o.get() != value => report(
            Rule::InternedRedefined,
            format!(
                "{table_name} iid {iid} redefined from {:?} to {value:?}",
                o.get()
            ),
        ),
        Entry::Occupied(_) => {}
    }
}

/// Looks up `iid` in `table`; reports a zero or unknown iid.
pub(crate) fn lookup<'a, V>(
    table: &'a HashMap<u64, V>,
    table_name: &str,
    iid: u64,
    report: &mut dyn FnMut(Rule, String),
) -> Option<&'a V> {
    if iid == 0 {
        report(Rule::InvalidIid, format!("reference to {table_name} iid 0"));
        return None;
    }
    let v = table.get(&iid);
    if v.is_none() {
        report(
            Rule::UnknownIid,
            format!("{table_name} iid {iid} is not defined on this sequence"),
        );
    }
    v
}
