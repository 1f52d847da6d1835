//! One contract, every store: the log-contract tests run once per [`Place`] — a sled
//! data directory, and a fresh PostgreSQL database of the binary's throwaway cluster
//! (`pg_cluster`, skipped with a printed reason when PostgreSQL is not installed).

use offboard::store::{Location, LogStore, PostgresLog, SledLog};
use offboard::Engine;

#[path = "pg_cluster.rs"]
pub mod pg_cluster;

/// Where one run of a test keeps its log.
#[derive(Debug)]
pub struct Place {
    /// `sled` or `postgres`, for messages.
    pub name: &'static str,
    pub location: Location,
    /// The data directory (sled) or PostgreSQL's local directory (the default KEK).
    pub dir: tempfile::TempDir,
}

impl Place {
    /// A new, empty sled data directory.
    pub fn sled() -> Place {
        let dir = tempfile::tempdir().unwrap();
        Place {
            name: "sled",
            location: Location::Dir(dir.path().to_path_buf()),
            dir,
        }
    }

    /// A new, empty PostgreSQL database, or `None` when PostgreSQL is not there.
    pub fn postgres() -> Option<Place> {
        let url = pg_cluster::database()?;
        let dir = tempfile::tempdir().unwrap();
        Some(Place {
            name: "postgres",
            location: Location::Postgres {
                url,
                local: dir.path().to_path_buf(),
            },
            dir,
        })
    }

    /// Opens (or reopens) the engine here.
    pub fn open(&self) -> Engine {
        Engine::open_at(&self.location)
            .unwrap_or_else(|e| panic!("opening the {} store: {e}", self.name))
    }

    /// The bare store here, without an engine (to tamper with, or to plant records).
    pub fn raw_store(&self) -> Box<dyn LogStore> {
        match &self.location {
            Location::Dir(dir) => Box::new(SledLog::open(dir).unwrap()),
            Location::Postgres { url, .. } => Box::new(PostgresLog::open(url).unwrap()),
        }
    }

    /// The PostgreSQL URL, when this place is one.
    pub fn url(&self) -> Option<&str> {
        match &self.location {
            Location::Postgres { url, .. } => Some(url),
            Location::Dir(_) => None,
        }
    }
}

/// Every store this run tests: sled always, PostgreSQL when installed (or required).
pub fn places() -> Vec<Place> {
    std::iter::once(Place::sled())
        .chain(Place::postgres())
        .collect()
}
