//! Key encodings. Positions are big-endian u64 so that sled's byte order is log order.

pub fn position_key(position: u64) -> [u8; 8] {
    position.to_be_bytes()
}

/// Decodes a position key; `None` if the key is not 8 bytes.
pub fn decode_position(key: &[u8]) -> Option<u64> {
    key.try_into().ok().map(u64::from_be_bytes)
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
}
