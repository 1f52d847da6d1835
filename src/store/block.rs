//! Blocks: consecutive events stored as ONE sled value.
//!
//! Why: sled costs about 1.4 µs per item it iterates, whatever the item's size
//! (measured on this project's 2-core VM: 690,000 items/s for 850-byte values, 960,000
//! for 150-byte ones, 7.6 million events/s when 64 events share a value). With one
//! value per event a replay could never read faster than that; with blocks it reads at
//! memory speed. Inserting one value per group commit instead of one per event also
//! spares sled a copy-on-write of its leaf per event.
//!
//! Layout of a block whose first event is at position `first` (kept in the key):
//! `count: u32 LE`, then `count` end offsets (`u32 LE`, relative to the start of the
//! event bytes), then the events' stored bytes back to back. Event `i` is at position
//! `first + i`.

/// A block holds at most this many bytes of events (one larger event gets a block of its
/// own). sled splits a leaf at 17 items whatever their size, and writes any page over
/// 128 KiB (a quarter of its 512 KiB segment) as a file of its own, with an fsync of its
/// own: 17 blocks of 6 KiB stay under that (64 KiB blocks put 800 MB of a million-event
/// log into blob files). Small blocks also keep a one-event read for a history cheap.
pub const MAX_BLOCK_BYTES: usize = 6 * 1024;

/// Encodes `events` (stored bytes, consecutive positions) as one block.
pub fn encode<'a>(events: impl ExactSizeIterator<Item = &'a [u8]> + Clone) -> Vec<u8> {
    let count = events.len();
    let bytes: usize = events.clone().map(<[u8]>::len).sum();
    let mut out = Vec::with_capacity(4 + 4 * count + bytes);
    out.extend_from_slice(&(count as u32).to_le_bytes());
    let mut end = 0u32;
    for event in events.clone() {
        end += event.len() as u32;
        out.extend_from_slice(&end.to_le_bytes());
    }
    for event in events {
        out.extend_from_slice(event);
    }
    out
}

/// A stored block, read in place.
#[derive(Clone, Copy, Debug)]
pub struct Block<'a> {
    ends: &'a [u8],
    events: &'a [u8],
}

impl<'a> Block<'a> {
    /// Checks the layout; `None` if the value cannot be a block.
    pub fn parse(value: &'a [u8]) -> Option<Self> {
        let count = u32::from_le_bytes(value.get(..4)?.try_into().ok()?) as usize;
        let table = 4usize.checked_add(count.checked_mul(4)?)?;
        let ends = value.get(4..table)?;
        let events = value.get(table..)?;
        let block = Self { ends, events };
        // Offsets must grow and stay inside the value, or `get` would slice out of range.
        let mut previous = 0;
        for i in 0..count {
            let end = block.end(i);
            if end < previous || end > events.len() {
                return None;
            }
            previous = end;
        }
        Some(block)
    }

    /// How many events the block holds.
    pub fn len(&self) -> usize {
        self.ends.len() / 4
    }

    fn end(&self, i: usize) -> usize {
        let at = 4 * i;
        u32::from_le_bytes(self.ends[at..at + 4].try_into().expect("4 bytes")) as usize
    }

    /// The stored bytes of the block's `i`-th event.
    pub fn get(&self, i: usize) -> Option<&'a [u8]> {
        if i >= self.len() {
            return None;
        }
        let start = if i == 0 { 0 } else { self.end(i - 1) };
        Some(&self.events[start..self.end(i)])
    }

    /// Every event's stored bytes, in order.
    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }
}

/// Splits consecutive events into runs that each fit in a block: a run ends before the
/// event that would take it past [`MAX_BLOCK_BYTES`] (an event larger than that is a run
/// of its own). Returns the runs' lengths.
pub fn runs<'a>(sizes: impl Iterator<Item = usize> + 'a) -> impl Iterator<Item = usize> + 'a {
    let mut sizes = sizes.peekable();
    std::iter::from_fn(move || {
        let first = sizes.next()?;
        let (mut count, mut bytes) = (1, first);
        while let Some(next) = sizes.next_if(|size| bytes + size <= MAX_BLOCK_BYTES) {
            count += 1;
            bytes += next;
        }
        Some(count)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_come_back_in_order_and_intact() {
        let events: Vec<&[u8]> = vec![b"one", b"", b"three", b"{\"x\":4}"];
        let value = encode(events.iter().copied());
        let block = Block::parse(&value).unwrap();
        assert_eq!(block.len(), 4);
        assert_eq!(block.iter().collect::<Vec<_>>(), events);
        assert_eq!(block.get(2), Some(b"three".as_slice()));
        assert_eq!(block.get(4), None);
    }

    #[test]
    fn damaged_blocks_are_refused_not_sliced() {
        let value = encode([b"abc".as_slice(), b"de"].into_iter());
        assert!(Block::parse(&value[..value.len() - 1]).is_none());
        assert!(Block::parse(&value[..6]).is_none());
        assert!(Block::parse(b"").is_none());
        let mut shrinking = value.clone();
        shrinking[4..8].copy_from_slice(&9u32.to_le_bytes());
        assert!(Block::parse(&shrinking).is_none());
    }

    #[test]
    fn runs_respect_the_size_limit_and_keep_large_events_alone() {
        let half = MAX_BLOCK_BYTES / 2;
        let sizes = [10, half, half, 1, MAX_BLOCK_BYTES * 3, 5, 5];
        assert_eq!(
            runs(sizes.into_iter()).collect::<Vec<_>>(),
            vec![2, 2, 1, 2]
        );
        assert_eq!(runs(std::iter::empty()).count(), 0);
    }
}
