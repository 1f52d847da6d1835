//! Pages of a list: how many items (`limit`), where to go on from (an opaque `cursor`),
//! and the next page's relative URL. Every list of the read layer is cut the same way,
//! in a stable order of a unique key, so walking its pages yields every item once.

use std::borrow::Cow;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::ReadFailure;

/// Items in a page when the request names no `limit`.
pub const DEFAULT_LIMIT: u32 = 100;
/// The largest `limit` accepted.
pub const MAX_LIMIT: u32 = 1000;

/// How many items a page holds: 1 to [`MAX_LIMIT`], [`DEFAULT_LIMIT`] when not given.
/// Anything else is refused when the query is read (400 `invalid_input`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Limit(u32);

impl Limit {
    /// `n` items; `invalid_input` outside 1..=[`MAX_LIMIT`].
    pub fn new(n: u64) -> Result<Self, ReadFailure> {
        match u32::try_from(n) {
            Ok(n @ 1..=MAX_LIMIT) => Ok(Self(n)),
            _ => Err(ReadFailure::Invalid(format!(
                "limit must be 1 to {MAX_LIMIT}, not {n}"
            ))),
        }
    }

    /// The largest page, for readers that walk a whole list.
    pub fn max() -> Self {
        Self(MAX_LIMIT)
    }

    pub fn get(self) -> usize {
        self.0 as usize
    }

    pub fn is_default(&self) -> bool {
        self.0 == DEFAULT_LIMIT
    }
}

impl Default for Limit {
    fn default() -> Self {
        Self(DEFAULT_LIMIT)
    }
}

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = u64::deserialize(d)?;
        Self::new(n).map_err(|e| serde::de::Error::custom(e.to_string()))
    }
}

impl JsonSchema for Limit {
    fn schema_name() -> Cow<'static, str> {
        "Limit".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_LIMIT,
            "default": DEFAULT_LIMIT,
            "description": "Items in the page (1 to 1000; default 100)."
        })
    }
}

/// Where a page goes on from: the list it belongs to and the key of the last item
/// served, as base64url text. Only the server's `next` links make them; a cursor that
/// does not decode, or belongs to another list, is refused (400 `invalid_input`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    list: String,
    key: String,
}

impl Cursor {
    pub fn new(list: &str, key: impl Into<String>) -> Self {
        Self {
            list: list.to_owned(),
            key: key.into(),
        }
    }

    /// The key this cursor continues after, when it belongs to `list`.
    pub fn key_for(&self, list: &str) -> Result<&str, ReadFailure> {
        if self.list == list {
            Ok(&self.key)
        } else {
            Err(ReadFailure::Invalid(format!(
                "this cursor belongs to another list ({}), not to {list}",
                self.list
            )))
        }
    }

    /// A position key (histories), when this cursor belongs to `list`.
    pub fn position_for(&self, list: &str) -> Result<u64, ReadFailure> {
        self.key_for(list)?
            .parse()
            .map_err(|_| ReadFailure::Invalid("the cursor is damaged".to_owned()))
    }

    fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}\n{}", self.list, self.key))
    }

    fn decode(text: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(text.trim()).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let (list, key) = text.split_once('\n')?;
        let known = !list.is_empty() && list.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
        known.then(|| Self::new(list, key))
    }
}

impl Serialize for Cursor {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.encode())
    }
}

impl<'de> Deserialize<'de> for Cursor {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::decode(&text).ok_or_else(|| {
            serde::de::Error::custom(
                "the cursor is damaged: pass on the `cursor` of a `next` link as it came",
            )
        })
    }
}

impl JsonSchema for Cursor {
    fn schema_name() -> Cow<'static, str> {
        "Cursor".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^[A-Za-z0-9_-]+$",
            "description": "Opaque: where the previous page ended. Take it from a `next` link."
        })
    }
}

/// A query that answers in pages: its `limit` and `cursor` fields.
pub trait Paged: Clone {
    fn limit(&self) -> Limit;
    fn cursor(&self) -> Option<&Cursor>;
    fn set_cursor(&mut self, cursor: Option<Cursor>);
    fn set_limit(&mut self, limit: Limit);
}

/// Implements [`Paged`] for a query with `limit: Limit` and `cursor: Option<Cursor>`.
macro_rules! paged {
    ($($query:ty),* $(,)?) => {$(
        impl $crate::read::Paged for $query {
            fn limit(&self) -> $crate::read::Limit {
                self.limit
            }
            fn cursor(&self) -> Option<&$crate::read::Cursor> {
                self.cursor.as_ref()
            }
            fn set_cursor(&mut self, cursor: Option<$crate::read::Cursor>) {
                self.cursor = cursor;
            }
            fn set_limit(&mut self, limit: $crate::read::Limit) {
                self.limit = limit;
            }
        }
    )*};
}
pub(crate) use paged;

/// An answer holding one page: the relative URL of the next one, `None` at the end.
pub trait PageAnswer {
    fn next(&self) -> Option<&str>;
}

/// Implements [`PageAnswer`] for an answer with `next: Option<String>`.
macro_rules! page_answer {
    ($($answer:ty),* $(,)?) => {$(
        impl $crate::read::PageAnswer for $answer {
            fn next(&self) -> Option<&str> {
                self.next.as_deref()
            }
        }
    )*};
}
pub(crate) use page_answer;

/// One page of `items`: those whose `key` sorts after `after`, the smallest
/// `limit` of them in key order, and the key of the last when more follow. One pass
/// and a sort of the page, not of the whole list.
pub fn cut<T, K: Ord>(
    items: impl IntoIterator<Item = T>,
    key: impl Fn(&T) -> K,
    after: Option<&K>,
    limit: Limit,
) -> (Vec<T>, Option<K>) {
    let mut items: Vec<T> = items
        .into_iter()
        .filter(|item| after.is_none_or(|after| key(item) > *after))
        .collect();
    let more = items.len() > limit.get();
    if more {
        items.select_nth_unstable_by_key(limit.get(), &key);
        items.truncate(limit.get());
    }
    items.sort_unstable_by_key(&key);
    let last = if more { items.last().map(&key) } else { None };
    (items, last)
}

/// The page `query` asks for of the items `all` lists in `scope`'s org, in the order
/// of `key` (unique per item), with the next page's link: a list of the current views
/// cut the one way every such list is cut. `list` names the list in its cursors.
pub fn keyed_page<Q, T, I>(
    query: &Q,
    scope: &super::Scope<'_>,
    list: &str,
    all: impl FnOnce(&offboard_projections::OrgState) -> I,
    key: impl Fn(&T) -> String,
) -> Result<(Vec<T>, Option<String>), ReadFailure>
where
    Q: Paged + super::Query,
    I: IntoIterator<Item = T>,
{
    let after = query.cursor().map(|c| c.key_for(list)).transpose()?;
    let after = after.map(str::to_owned);
    let (items, last) = scope.now(|org| Ok(cut(all(org), key, after.as_ref(), query.limit())))?;
    Ok((items, next_link(query, last.map(|k| Cursor::new(list, k)))))
}

/// The page `query` asks for of records served outside the read layer and listed
/// oldest first (the API's tokens, webhook subscriptions), with the next page's link:
/// `created` gives each record's creation time and id, `path` is the list's URL and
/// `list` names it in its cursors.
///
/// # Errors
/// `invalid_input` for a cursor of another list.
pub fn oldest_first<Q: Paged + Serialize, T>(
    path: &str,
    list: &str,
    query: &Q,
    all: Vec<T>,
    created: impl Fn(&T) -> (chrono::DateTime<chrono::Utc>, uuid::Uuid),
) -> Result<(Vec<T>, Option<String>), ReadFailure> {
    let after = query.cursor().map(|c| c.key_for(list)).transpose()?;
    let after = after.map(str::to_owned);
    // Creation time in a fixed width, so text order is time order; then the id.
    let key = |t: &T| {
        let (at, id) = created(t);
        format!("{}\u{0}{id}", at.format("%Y%m%d%H%M%S%9f"))
    };
    let (items, last) = cut(all, key, after.as_ref(), query.limit());
    Ok((
        items,
        next_url(path, query, last.map(|k| Cursor::new(list, k))),
    ))
}

/// The relative URL of the page of `query` after `cursor` (`None` at the end).
pub fn next_link<Q: Paged + super::Query>(query: &Q, cursor: Option<Cursor>) -> Option<String> {
    let mut next = query.clone();
    next.set_cursor(Some(cursor?));
    Some(next.url())
}

/// [`next_link`] for a list served outside the read layer (the API's tokens): `path`
/// and the query's fields.
pub fn next_url<Q: Paged + Serialize>(
    path: &str,
    query: &Q,
    cursor: Option<Cursor>,
) -> Option<String> {
    let mut next = query.clone();
    next.set_cursor(Some(cursor?));
    let query = serde_urlencoded::to_string(&next).unwrap_or_default();
    Some(format!("{path}?{query}"))
}

/// The `cursor` of a `next` link, as `--cursor` takes it.
pub fn cursor_of(next: &str) -> Option<String> {
    let query = next.split_once('?')?.1;
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .ok()?
        .into_iter()
        .find_map(|(name, value)| (name == "cursor").then_some(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_tampering_and_other_lists() {
        let c = Cursor::new("owners", "buyer:B-1");
        let text = serde_json::to_value(&c).unwrap();
        let back: Cursor = serde_json::from_value(text.clone()).unwrap();
        assert_eq!(back.key_for("owners").unwrap(), "buyer:B-1");
        assert!(back.key_for("users").is_err());
        let mut tampered = text.as_str().unwrap().to_owned();
        tampered.push('!');
        assert!(serde_json::from_value::<Cursor>(tampered.into()).is_err());
        assert!(serde_json::from_value::<Cursor>("bm9uZXdsaW5l".into()).is_err());
    }

    #[test]
    fn limits_outside_1_to_1000_are_refused() {
        assert!(Limit::new(0).is_err());
        assert!(Limit::new(1001).is_err());
        assert_eq!(Limit::new(1000).unwrap().get(), 1000);
        assert!(serde_json::from_str::<Limit>("-1").is_err());
    }

    #[test]
    fn cutting_pages_yields_every_item_once_in_order() {
        let items: Vec<u64> = vec![9, 3, 7, 1, 5, 2, 8];
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let (page, next) = cut(items.iter().copied(), |i| *i, after.as_ref(), Limit(3));
            seen.extend(page);
            match next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        assert_eq!(seen, vec![1, 2, 3, 5, 7, 8, 9]);
    }
}
