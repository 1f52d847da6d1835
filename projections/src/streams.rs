//! The stream index: for every stream, the log positions of its events in version order
//! (version `v` is at index `v - 1`). It is a projection of the log like any other view:
//! rebuilt by replay, saved in checkpoints. Keeping it here rather than as one sled key
//! per event saves the log a third of its inserts per command, and gives the writer every
//! stream's version — including the versions of groups still being flushed — without a
//! lookup in the store.

use foldhash::fast::RandomState;
use std::collections::HashMap;

use offboard_events::StreamId;
use serde::{Deserialize, Serialize};

use crate::packed;

/// Serialized as `[stream id, packed positions]` pairs sorted by stream id.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Streams {
    #[serde(
        serialize_with = "packed::serialize_lists",
        deserialize_with = "packed::deserialize_lists"
    )]
    positions: HashMap<StreamId, Vec<u64>, RandomState>,
}

impl Streams {
    /// Records the event at `position` as the next version of `stream` (the writer gives
    /// each event exactly that version).
    pub(crate) fn record(&mut self, stream: &StreamId, position: u64) {
        match self.positions.get_mut(stream) {
            Some(positions) => positions.push(position),
            None => {
                self.positions.insert(stream.clone(), vec![position]);
            }
        }
    }

    /// The last version of `stream` (0 when it has no events).
    pub fn version(&self, stream: &StreamId) -> u64 {
        self.positions.get(stream).map_or(0, |p| p.len() as u64)
    }

    /// Positions of `stream`'s events with version `>= from_version`, in version order.
    pub fn positions(&self, stream: &StreamId, from_version: u64) -> &[u64] {
        let all = self.positions.get(stream).map_or(&[][..], Vec::as_slice);
        let skip = (from_version.max(1) - 1).min(all.len() as u64) as usize;
        &all[skip..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_positions_from_a_version_on() {
        let (a, b) = (StreamId::from("user-a"), StreamId::from("user-b"));
        let mut streams = Streams::default();
        for (stream, position) in [(&a, 1), (&b, 2), (&a, 3), (&a, 7)] {
            streams.record(stream, position);
        }
        assert_eq!(streams.version(&a), 3);
        assert_eq!(streams.version(&StreamId::from("user-c")), 0);
        assert_eq!(streams.positions(&a, 0), &[1, 3, 7]);
        assert_eq!(streams.positions(&a, 2), &[3, 7]);
        assert_eq!(streams.positions(&a, 9), &[] as &[u64]);
        let json = serde_json::to_string(&streams).unwrap();
        assert_eq!(serde_json::from_str::<Streams>(&json).unwrap(), streams);
    }
}
