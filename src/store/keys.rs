//! Key encodings. Positions are big-endian u64 so that sled's byte order is log order;
//! stream index keys are `stream id ++ 0x00 ++ version (BE u64)`, so one stream's
//! entries are contiguous and ordered by version.

use offboard_events::StreamId;

pub fn position_key(position: u64) -> [u8; 8] {
    position.to_be_bytes()
}

/// Decodes a position key; `None` if the key is not 8 bytes.
pub fn decode_position(key: &[u8]) -> Option<u64> {
    key.try_into().ok().map(u64::from_be_bytes)
}

pub fn stream_prefix(stream: &StreamId) -> Vec<u8> {
    let mut key = Vec::with_capacity(stream.as_str().len() + 9);
    key.extend_from_slice(stream.as_str().as_bytes());
    key.push(0);
    key
}

pub fn stream_key(stream: &StreamId, version: u64) -> Vec<u8> {
    let mut key = stream_prefix(stream);
    key.extend_from_slice(&version.to_be_bytes());
    key
}

/// The version at the end of a stream index key.
pub fn decode_stream_version(key: &[u8]) -> Option<u64> {
    key.len()
        .checked_sub(8)
        .and_then(|at| decode_position(&key[at..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_endian_positions_sort_like_numbers() {
        let mut keys: Vec<[u8; 8]> = [256u64, 1, 255, 65_536]
            .iter()
            .map(|p| position_key(*p))
            .collect();
        keys.sort();
        let back: Vec<u64> = keys.iter().map(|k| decode_position(k).unwrap()).collect();
        assert_eq!(back, vec![1, 255, 256, 65_536]);
    }

    #[test]
    fn stream_keys_do_not_interleave_with_longer_names() {
        let a = StreamId::from("user-1");
        let b = StreamId::from("user-10");
        assert!(stream_key(&a, u64::MAX) < stream_key(&b, 0));
        assert_eq!(decode_stream_version(&stream_key(&a, 42)), Some(42));
    }
}
