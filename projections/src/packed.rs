//! Packed encodings for the tables that grow with every event or resource (the audit
//! records, correlation runs and per-user lists, the stream index, the ownership
//! tenures), so a checkpoint of a million events stays small and loads fast: fixed-width
//! little-endian records, base64 in the checkpoint's JSON. Parsing one long string is
//! many times faster than a million small JSON objects.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hash};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use offboard_events::CorrelationId;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// One fixed-width record.
pub(crate) trait Packed: Sized {
    const WIDTH: usize;
    fn pack(&self, out: &mut Vec<u8>);
    fn unpack(bytes: &[u8]) -> Option<Self>;
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// Packs a time as seconds (i64) and nanoseconds (u32).
pub(crate) fn pack_time(t: &DateTime<Utc>, out: &mut Vec<u8>) {
    out.extend_from_slice(&t.timestamp().to_le_bytes());
    out.extend_from_slice(&t.timestamp_subsec_nanos().to_le_bytes());
}

pub(crate) fn unpack_time(b: &[u8]) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(u64_at(b, 0) as i64, u32_at(b, 8))
}

pub(crate) fn pack_uuid(id: &Uuid, out: &mut Vec<u8>) {
    out.extend_from_slice(id.as_bytes());
}

pub(crate) fn unpack_uuid(b: &[u8]) -> Uuid {
    Uuid::from_bytes(b[..16].try_into().expect("16 bytes"))
}

impl Packed for u64 {
    const WIDTH: usize = 8;
    fn pack(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn unpack(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(u64::from_le_bytes)
    }
}

impl Packed for u32 {
    const WIDTH: usize = 4;
    fn pack(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn unpack(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(u32::from_le_bytes)
    }
}

impl Packed for u8 {
    const WIDTH: usize = 1;
    fn pack(&self, out: &mut Vec<u8>) {
        out.push(*self);
    }
    fn unpack(bytes: &[u8]) -> Option<Self> {
        bytes.first().copied()
    }
}

/// Serializes a slice of records as one base64 string.
pub(crate) fn serialize_vec<T: Packed, S: Serializer>(
    items: &[T],
    s: S,
) -> Result<S::Ok, S::Error> {
    let mut bytes = Vec::with_capacity(items.len() * T::WIDTH);
    for item in items {
        item.pack(&mut bytes);
    }
    s.serialize_str(&STANDARD.encode(bytes))
}

pub(crate) fn deserialize_vec<'de, T: Packed, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<T>, D::Error> {
    let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
    let mut items = Vec::with_capacity(text.len() / 4 * 3 / T::WIDTH);
    decode_records(&text, T::WIDTH, |record| {
        items.push(T::unpack(record)?);
        Some(())
    })
    .map_err(D::Error::custom)?;
    Ok(items)
}

/// Base64 text decoded in pieces, each record of `width` bytes handed to `record`
/// (which answers `None` for a record out of range): the decoded bytes are never held
/// whole. At start-up that saves a copy of every table, which is mostly fresh pages the
/// kernel has to fault in and zero.
fn decode_records(
    text: &str,
    width: usize,
    mut record: impl FnMut(&[u8]) -> Option<()>,
) -> Result<(), String> {
    // 4,096 characters decode to at most 3,072 bytes, on their own (a multiple of 4).
    const PIECE: usize = 4096;
    let mut buffer = vec![0u8; PIECE / 4 * 3 + width];
    let mut held = 0;
    let pieces = text.as_bytes().chunks(PIECE);
    let last = pieces.len().saturating_sub(1);
    for (n, piece) in pieces.enumerate() {
        let decoded = STANDARD
            .decode_slice(piece, &mut buffer[held..])
            .map_err(|e| format!("{e} in the piece at character {}", n * PIECE))?;
        // Padding ends the text: a piece before the last must decode whole.
        if n != last && decoded != PIECE / 4 * 3 {
            return Err(format!(
                "padding inside the text, before character {}",
                (n + 1) * PIECE
            ));
        }
        held += decoded;
        let whole = held / width * width;
        for bytes in buffer[..whole].chunks_exact(width) {
            record(bytes).ok_or("packed record out of range")?;
        }
        buffer.copy_within(whole..held, 0);
        held -= whole;
    }
    if held != 0 {
        return Err("packed table has a torn record".to_owned());
    }
    Ok(())
}

/// A map keyed by correlation id, packed as sorted records (key ++ value).
pub(crate) fn serialize_map<V: Packed, S: Serializer>(
    map: &BTreeMap<CorrelationId, V>,
    s: S,
) -> Result<S::Ok, S::Error> {
    let mut bytes = Vec::with_capacity(map.len() * (16 + V::WIDTH));
    for (k, v) in map {
        pack_uuid(&k.0, &mut bytes);
        v.pack(&mut bytes);
    }
    s.serialize_str(&STANDARD.encode(bytes))
}

pub(crate) fn deserialize_map<'de, V: Packed, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<CorrelationId, V>, D::Error> {
    let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
    // Stored in key order, so the map is built in one pass.
    let mut pairs = Vec::with_capacity(text.len() / 4 * 3 / (16 + V::WIDTH));
    decode_records(&text, 16 + V::WIDTH, |record| {
        pairs.push((
            CorrelationId(unpack_uuid(record)),
            V::unpack(&record[16..])?,
        ));
        Some(())
    })
    .map_err(D::Error::custom)?;
    Ok(pairs.into_iter().collect())
}

/// One list of records, packed, as the value of a pair.
struct PackedSlice<'a, T>(&'a [T]);

impl<T: Packed> Serialize for PackedSlice<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_vec(self.0, s)
    }
}

struct PackedList<T>(Vec<T>);

impl<'de, T: Packed> Deserialize<'de> for PackedList<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_vec(d).map(Self)
    }
}

/// A hash map of record lists as `[key, packed list]` pairs sorted by key, so equal
/// states make equal checkpoints whatever the hasher's seed.
pub(crate) fn serialize_lists<K, T, H, S>(
    map: &HashMap<K, Vec<T>, H>,
    s: S,
) -> Result<S::Ok, S::Error>
where
    K: Serialize + Ord,
    T: Packed,
    S: Serializer,
{
    let mut sorted: Vec<(&K, &Vec<T>)> = map.iter().collect();
    sorted.sort_unstable_by(|a, b| a.0.cmp(b.0));
    s.collect_seq(sorted.into_iter().map(|(k, list)| (k, PackedSlice(list))))
}

pub(crate) fn deserialize_lists<'de, K, T, H, D>(d: D) -> Result<HashMap<K, Vec<T>, H>, D::Error>
where
    K: Deserialize<'de> + Eq + Hash,
    T: Packed,
    H: BuildHasher + Default,
    D: Deserializer<'de>,
{
    let pairs = Vec::<(K, PackedList<T>)>::deserialize(d)?;
    Ok(pairs.into_iter().map(|(k, list)| (k, list.0)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Table {
        #[serde(serialize_with = "serialize_map", deserialize_with = "deserialize_map")]
        runs: BTreeMap<CorrelationId, Pair>,
    }

    #[derive(Debug, PartialEq)]
    struct Pair(u32, u32);

    impl Packed for Pair {
        const WIDTH: usize = 8;
        fn pack(&self, out: &mut Vec<u8>) {
            out.extend_from_slice(&self.0.to_le_bytes());
            out.extend_from_slice(&self.1.to_le_bytes());
        }
        fn unpack(b: &[u8]) -> Option<Self> {
            Some(Self(u32_at(b, 0), u32_at(b, 4)))
        }
    }

    #[test]
    fn a_packed_map_round_trips_and_a_torn_one_is_refused() {
        let table = Table {
            runs: (0..5u128)
                .map(|i| (CorrelationId(Uuid::from_u128(i * 977)), Pair(i as u32, 1)))
                .collect(),
        };
        let json = serde_json::to_string(&table).unwrap();
        assert_eq!(serde_json::from_str::<Table>(&json).unwrap(), table);
        let torn = r#"{"runs":"AAAA"}"#;
        assert!(serde_json::from_str::<Table>(torn)
            .unwrap_err()
            .to_string()
            .contains("torn"));
    }

    /// Five bytes: does not divide a 3,072-byte decoding piece, so records straddle pieces.
    #[derive(Debug, PartialEq)]
    struct Odd(u32, u8);

    impl Packed for Odd {
        const WIDTH: usize = 5;
        fn pack(&self, out: &mut Vec<u8>) {
            out.extend_from_slice(&self.0.to_le_bytes());
            out.push(self.1);
        }
        fn unpack(b: &[u8]) -> Option<Self> {
            Some(Self(u32_at(b, 0), b[4]))
        }
    }

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Odds(
        #[serde(serialize_with = "serialize_vec", deserialize_with = "deserialize_vec")] Vec<Odd>,
    );

    #[test]
    fn a_table_longer_than_one_decoding_piece_round_trips() {
        let table = Odds(
            (0..10_000u32)
                .map(|i| Odd(i.wrapping_mul(2_654_435_761), i as u8))
                .collect(),
        );
        let json = serde_json::to_string(&table).unwrap();
        assert_eq!(serde_json::from_str::<Odds>(&json).unwrap(), table);
        // One byte short of the last record.
        let mut bytes = Vec::new();
        for odd in &table.0 {
            odd.pack(&mut bytes);
        }
        bytes.pop();
        let torn = format!("{:?}", STANDARD.encode(bytes));
        let error = serde_json::from_str::<Odds>(&torn).unwrap_err().to_string();
        assert!(error.contains("torn"), "{error}");
        // Padding where one piece ends and more text follows is no table.
        let padded = format!("\"{}AA==AAAA\"", "A".repeat(4092));
        let error = serde_json::from_str::<Odds>(&padded)
            .unwrap_err()
            .to_string();
        assert!(error.contains("padding"), "{error}");
    }

    #[test]
    fn times_keep_their_nanoseconds() {
        let t = DateTime::from_timestamp(1_763_830_000, 123_456_789).unwrap();
        let mut out = Vec::new();
        pack_time(&t, &mut out);
        assert_eq!(unpack_time(&out), Some(t));
    }
}
