//! tg4p's view of a `tracing` callsite: the tg4p callsite its slices and instants are
//! recorded under (name, source location, categories: the target and the level), and
//! the pool of tracks its spans take when they are entered more than once.
//!
//! # The level
//! Perfetto's TrackEvent has no level field. The level is recorded in the category,
//! as a second category after the target: the callsite's category string is
//! `"TARGET,LEVEL"` (e.g. `"my_app::db,DEBUG"`), interned once per callsite like
//! every category, so it costs no byte per event. trace_processor joins an event's
//! categories with `,` into `slice.category`, so the slice reads exactly as if the
//! target and the level had been interned as two categories (`category GLOB
//! '*,DEBUG'` selects by level); a debug annotation would instead cost each slice
//! an interned name and a value.
//!
//! One [`Site`] per `tracing` callsite (`&'static Metadata`), made on first use and
//! kept for the program's life, like the `static`s `#[trace]` declares: there are
//! finitely many callsites (a span's slot keeps a pointer to its site). Lookups by metadata go through a small per-thread table indexed by
//! the metadata's address (no hashing of a key, no lock), then a per-thread map,
//! then the shared map, whose lock is taken once per callsite and thread.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Mutex;
use tg4p_core::runtime::private::{Callsite, Function, Track};
use tracing::Metadata;

/// What tg4p records a `tracing` callsite's spans and events under.
#[derive(Debug)]
pub(crate) struct Site {
    /// The `tracing` callsite's metadata (for `Subscriber::current_span`).
    pub(crate) meta: &'static Metadata<'static>,
    /// Kept in the site itself (not behind a pointer): the site is `'static`.
    callsite: Callsite,
    /// The pool of tracks of this callsite's spans that are entered more than once
    /// (one track per such span open at a time), named after the span.
    pub(crate) pool: &'static Track,
}

impl Site {
    /// The tg4p callsite the site's events are recorded under.
    #[inline]
    pub(crate) fn callsite(&'static self) -> &'static Callsite {
        &self.callsite
    }

    fn new(meta: &'static Metadata<'static>) -> Site {
        // Once per callsite, kept for the program's life (finitely many).
        let category: &'static str =
            Box::leak(format!("{},{}", meta.target(), meta.level()).into_boxed_str());
        let callsite = Callsite::new(
            meta.name(),
            Function::Path(meta.module_path().unwrap_or("")),
            meta.file().unwrap_or(""),
            meta.line().unwrap_or(0),
            &[], // fields are typed args, each with its name
        )
        .with_category(category);
        Site {
            meta,
            callsite,
            pool: Box::leak(Box::new(Track::pool(meta.name()))),
        }
    }
}

/// Entries of the per-thread table of recent sites (a power of two).
const RECENT: usize = 256;

/// The site of `meta`, made on first use.
#[inline]
pub(crate) fn site(meta: &'static Metadata<'static>) -> &'static Site {
    let key = meta as *const Metadata<'static> as usize;
    // Metadata are `static`s at least 8 bytes apart.
    let at = (key >> 3) & (RECENT - 1);
    let recent = RECENT_SITES
        .try_with(|r| r[at].get())
        .ok()
        .flatten()
        .filter(|s| std::ptr::eq(s.meta, meta));
    match recent {
        Some(site) => site,
        None => site_slow(key, at, meta),
    }
}

#[cold]
fn site_slow(key: usize, at: usize, meta: &'static Metadata<'static>) -> &'static Site {
    let site = CACHE
        .try_with(|cache| {
            let mut cache = cache.try_borrow_mut().ok()?;
            Some(*cache.entry(key).or_insert_with(|| shared_site(key, meta)))
        })
        .ok()
        .flatten()
        .unwrap_or_else(|| shared_site(key, meta));
    let _ = RECENT_SITES.try_with(|r| r[at].set(Some(site)));
    site
}

#[cold]
fn shared_site(key: usize, meta: &'static Metadata<'static>) -> &'static Site {
    struct Sites {
        map: HashMap<usize, &'static Site, PtrHash>,
    }
    static SITES: Mutex<Option<Sites>> = Mutex::new(None);
    let mut sites = SITES.lock().unwrap_or_else(|p| p.into_inner());
    let sites = sites.get_or_insert_with(|| Sites {
        map: HashMap::default(),
    });
    if let Some(site) = sites.map.get(&key) {
        return site;
    }
    let site: &'static Site = Box::leak(Box::new(Site::new(meta)));
    sites.map.insert(key, site);
    site
}

type PtrHash = BuildHasherDefault<PtrHasher>;

thread_local! {
    static RECENT_SITES: [Cell<Option<&'static Site>>; RECENT] =
        const { [const { Cell::new(None) }; RECENT] };
    static CACHE: RefCell<HashMap<usize, &'static Site, PtrHash>> =
        RefCell::new(HashMap::default());
}

/// Hashes an address: one multiply (Fibonacci hashing), enough for distinct
/// `'static` addresses.
#[derive(Default)]
struct PtrHasher(u64);

impl Hasher for PtrHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}
