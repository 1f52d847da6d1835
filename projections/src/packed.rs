//! Packed encodings for the tables that grow with every event or resource (the audit
//! records and correlation runs, the stream index, the ownership tenures), so a checkpoint of a million events stays small and loads
//! fast: fixed-width little-endian records, base64 in the checkpoint's JSON. Parsing one
//! long string is many times faster than a million small JSON objects.

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
    let bytes = STANDARD.decode(text.as_bytes()).map_err(D::Error::custom)?;
    if bytes.len() % T::WIDTH != 0 {
        return Err(D::Error::custom("packed table has a torn record"));
    }
    bytes
        .chunks_exact(T::WIDTH)
        .map(|chunk| T::unpack(chunk).ok_or_else(|| D::Error::custom("packed record out of range")))
        .collect()
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
    let bytes = STANDARD.decode(text.as_bytes()).map_err(D::Error::custom)?;
    let width = 16 + V::WIDTH;
    if bytes.len() % width != 0 {
        return Err(D::Error::custom("packed map has a torn record"));
    }
    // Stored in key order, so the map is built in one pass.
    bytes
        .chunks_exact(width)
        .map(|chunk| {
            let value = V::unpack(&chunk[16..])
                .ok_or_else(|| D::Error::custom("packed value out of range"))?;
            Ok((CorrelationId(unpack_uuid(chunk)), value))
        })
        .collect()
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

    #[test]
    fn times_keep_their_nanoseconds() {
        let t = DateTime::from_timestamp(1_763_830_000, 123_456_789).unwrap();
        let mut out = Vec::new();
        pack_time(&t, &mut out);
        assert_eq!(unpack_time(&out), Some(t));
    }
}
