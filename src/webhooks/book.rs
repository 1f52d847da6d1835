//! The subscriptions and their delivery progress, kept beside the log among the store's
//! named checkpoints (files in `checkpoints/` for the sled log):
//!
//! - [`BOOK_RECORD`] holds every org's subscriptions, their secrets sealed
//!   (see [`super::secret`]);
//! - `server.webhook.{id}` holds one subscription's [`Progress`]: the attempts of the
//!   event in hand, the recent attempts, the parked events and the cursor as of its
//!   last save;
//! - `server.webhook.{id}.cursor` holds the cursor itself (the last position delivered
//!   or parked), written at every acknowledgement ([`super::cursor`]).
//!
//! [`Hub`] is the one in-memory copy the API, the CLI and the delivery tasks share, and
//! wakes the delivery tasks on every change of a subscription. What is durable when:
//! - a change by a person (add, pause, resume, rotate, replay, remove) and every failed
//!   attempt or parked event: on stable storage when the call returns;
//! - a delivery (2xx): its cursor is in the kernel (survives a killed process) when
//!   [`Hub::record`] returns, on stable storage after the next [`Hub::sync`] (every
//!   100 ms while delivering); the attempt history and `delivered` count are saved by
//!   [`Hub::save`] (every second) — a killed process loses the last second's history
//!   lines, never the cursor.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Duration, Utc};
use offboard_events::{Event, OrgId};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use uuid::Uuid;

use super::cursor::{self, CursorFile};
use super::metrics::WebhookMetrics;
use super::secret::{self, SealingKey};
use super::{ssrf, WebhookOptions};
use crate::domain::is_hidden;
use crate::privacy::KeyVault;
use crate::store::{LogStore, StoreError};
use crate::Engine;

/// The named checkpoint holding every subscription.
pub const BOOK_RECORD: &str = "server.webhooks";

/// Each subscription's progress is stored under this prefix and its id.
pub const PROGRESS_PREFIX: &str = "server.webhook.";

/// Recent attempts kept per subscription (older ones are dropped).
pub const RECENT: usize = 100;

/// Parked events kept per subscription (the oldest are dropped beyond it).
pub const MAX_PARKED: usize = 1000;

/// Longest description.
pub const MAX_DESCRIPTION: usize = 500;

/// Most subscriptions one org may have: each runs a delivery task of its own and is
/// listed whole (GitHub allows 20 webhooks per repository and event, Stripe 16
/// endpoints per account; an org here may feed more systems than that).
pub const MAX_SUBSCRIPTIONS: usize = 100;

/// How long a rotated-out secret still signs (both signatures are sent meanwhile).
pub const DEFAULT_OVERLAP: Duration = Duration::hours(24);

/// What happens after an event is parked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WhenParked {
    /// The subscription pauses until resumed (the default: nothing later arrives out of
    /// order behind a failing event unnoticed).
    #[default]
    Pause,
    /// Delivery goes on with the next event.
    Skip,
}

/// The wire format of the delivered bodies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BodyFormat {
    /// The envelope's own JSON, as `GET /v1/events` sends it.
    #[default]
    Envelope,
    /// CloudEvents 1.0, structured JSON.
    Cloudevents,
    /// The envelope with the users (email, status) and resources (`kind`, `id`) it names
    /// and its correlation id beside it (`webhooks::payload::ConnectorBody`).
    Connector,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SubscriptionStatus {
    Active,
    Paused,
}

/// A subscription as shown: never its secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Subscription {
    pub id: Uuid,
    pub org_id: OrgId,
    pub url: String,
    /// Event types delivered (e.g. `OwnershipTransferred`); empty: every type.
    #[serde(default)]
    pub events: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub format: BodyFormat,
    #[serde(default)]
    pub when_parked: WhenParked,
    pub status: SubscriptionStatus,
    /// Why it is paused (`by request`, or the event parked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_rotated_at: Option<DateTime<Utc>>,
}

/// What `POST /v1/webhooks` and `webhook add` take.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSubscription {
    /// `https://…` (or `http://` to loopback with `serve --allow-http-webhooks`), at
    /// most [`ssrf::MAX_URL_LEN`] bytes, no `user:password@`.
    #[schemars(length(min = 1, max = 2048))]
    pub url: String,
    /// Event types to deliver; absent or empty: every type. No entry may be empty.
    #[serde(default)]
    #[schemars(inner(length(min = 1)))]
    pub events: Vec<String>,
    /// What it is for, at most [`MAX_DESCRIPTION`] characters.
    #[serde(default)]
    #[schemars(length(max = 500))]
    pub description: Option<String>,
    #[serde(default)]
    pub format: BodyFormat,
    #[serde(default)]
    pub when_parked: WhenParked,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct StoredSecret {
    /// base64 of nonce ++ ciphertext.
    sealed: String,
    /// When a rotated-out secret stops signing; `None` for the current one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct StoredSubscription {
    #[serde(flatten)]
    view: Subscription,
    /// Newest first.
    secrets: Vec<StoredSecret>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct StoredBook {
    subscriptions: Vec<StoredSubscription>,
}

/// One delivery attempt, as listed by `webhook deliveries`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Attempt {
    pub position: u64,
    pub webhook_id: String,
    pub at: DateTime<Utc>,
    /// `delivered` (2xx), `failed` (will be retried) or `parked`.
    pub outcome: String,
    /// The receiver's HTTP status; absent when no answer came (timeout, refused address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The first 256 characters of the receiver's body, or why no answer came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Milliseconds from sending to the answer.
    pub duration_ms: u64,
}

/// An event taken out of line after its last attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Parked {
    pub position: u64,
    pub webhook_id: String,
    pub parked_at: DateTime<Utc>,
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A subscription's delivery progress.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Progress {
    /// The last position delivered (2xx) or parked: delivery resumes after it.
    pub cursor: u64,
    /// Failed attempts of the event in hand (the first after the cursor that matches).
    #[serde(default)]
    pub attempts: u32,
    /// When the event in hand is tried again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Events delivered since the subscription was created.
    #[serde(default)]
    pub delivered: u64,
    /// Newest last, at most [`RECENT`].
    #[serde(default)]
    pub recent: VecDeque<Attempt>,
    /// Oldest first, at most [`MAX_PARKED`].
    #[serde(default)]
    pub parked: Vec<Parked>,
}

/// A subscription with its progress, as `show` answers.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct SubscriptionDetail {
    #[serde(flatten)]
    pub subscription: Subscription,
    pub cursor: u64,
    /// Positions written since the cursor (of every org: the log's end minus the
    /// cursor), an upper bound of what is still to deliver.
    pub lag: u64,
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub delivered: u64,
    pub parked: usize,
}

/// A subscription just created or with a secret just rotated: the secret is here only.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct WithSecret {
    /// `whsec_…`: shown once; give it to the receiver.
    pub secret: String,
    pub subscription: Subscription,
}

/// Why a webhook operation failed.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("webhook subscription {0} not found")]
    NotFound(String),
    #[error("invalid input: {0}")]
    Invalid(String),
    #[error(transparent)]
    Storage(#[from] StoreError),
}

impl WebhookError {
    pub fn code(&self) -> &'static str {
        match self {
            WebhookError::NotFound(_) => "not_found",
            WebhookError::Invalid(_) => "invalid_input",
            WebhookError::Storage(e) => e.code(),
        }
    }
}

/// What a delivery task needs to send the next event.
#[derive(Clone, Debug)]
pub struct Work {
    pub subscription: Subscription,
    /// Every secret still signing, newest first.
    pub secrets: Vec<String>,
    pub progress: Progress,
    /// Changes when the subscription is replayed or removed: a task's outcome for an
    /// older generation is dropped.
    pub generation: u64,
}

/// The result of one attempt, as the delivery task reports it.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub attempt: Attempt,
    /// `Some` when the attempt failed: when to try again (ignored once parked).
    pub retry_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Default)]
struct Book {
    subscriptions: BTreeMap<Uuid, StoredSubscription>,
    progress: BTreeMap<Uuid, Progress>,
    cursors: BTreeMap<Uuid, Arc<CursorFile>>,
    /// Subscriptions whose progress changed in memory since it was last saved.
    unsaved: BTreeSet<Uuid>,
    generations: BTreeMap<Uuid, u64>,
    /// Sealed secret → the secret, as opened for delivery.
    opened: BTreeMap<String, String>,
}

/// The shared copy of every subscription and its progress (see the module doc for
/// what is durable when).
#[derive(Debug)]
pub struct Hub {
    store: Arc<dyn LogStore>,
    /// Seals the record of the key that seals the secrets (`secret::SealingKey`).
    vault: Arc<KeyVault>,
    /// The data directory, where the cursor files live (`None`: in memory).
    data: Option<PathBuf>,
    book: Mutex<Book>,
    /// Held around every write of a progress record, so a periodic save of a snapshot
    /// never lands after, and undoes, a newer write-through. Taken before `book`.
    saving: Mutex<()>,
    key: Mutex<Option<SealingKey>>,
    /// Bumped on every change of a subscription (not of progress): wakes the tasks.
    changed: watch::Sender<u64>,
    metrics: WebhookMetrics,
}

/// Every subscription in `store`'s book, with its progress and cursor.
fn read_book(store: &dyn LogStore, data: Option<&Path>) -> Result<Book, StoreError> {
    let mut book = Book::default();
    if let Some(bytes) = store.checkpoint(BOOK_RECORD)? {
        let stored: StoredBook =
            serde_json::from_slice(&bytes).map_err(|e| corrupt(BOOK_RECORD, e))?;
        for sub in stored.subscriptions {
            let id = sub.view.id;
            let (cursor, progress) = load_progress(store, data, id)?;
            book.progress.insert(id, progress);
            book.cursors.insert(id, Arc::new(cursor));
            book.subscriptions.insert(id, sub);
        }
    }
    Ok(book)
}

/// Every subscription's cursor as stored, read-only: `(org, subscription, position)`,
/// the cursor file's newest slot where there is one, else the progress record's. For
/// the durable claims checked at opening (`engine::claims`): a cursor only ever names a
/// position that was durable when it was written.
///
/// # Errors
/// `storage` when the book or a progress record is unreadable or damaged.
pub fn stored_cursors(store: &dyn LogStore) -> Result<Vec<(OrgId, Uuid, u64)>, StoreError> {
    let Some(bytes) = store.checkpoint(BOOK_RECORD)? else {
        return Ok(Vec::new());
    };
    let stored: StoredBook = serde_json::from_slice(&bytes).map_err(|e| corrupt(BOOK_RECORD, e))?;
    let mut cursors = Vec::new();
    for sub in stored.subscriptions {
        let id = sub.view.id;
        let from_file = store
            .checkpoint(&cursor::file_name(id))?
            .and_then(|bytes| cursor::newest_position(&bytes));
        let position = match from_file {
            Some(position) => position,
            None => match store.checkpoint(&record_name(id))? {
                Some(bytes) => {
                    let progress: Progress =
                        serde_json::from_slice(&bytes).map_err(|e| corrupt(&record_name(id), e))?;
                    progress.cursor
                }
                None => continue,
            },
        };
        cursors.push((sub.view.org_id, id, position));
    }
    Ok(cursors)
}

fn record_name(id: Uuid) -> String {
    format!("{PROGRESS_PREFIX}{id}")
}

fn corrupt(record: &str, e: serde_json::Error) -> StoreError {
    StoreError::Io(format!(
        "checkpoints/{record} is damaged ({e}); restore it from a backup"
    ))
}

impl Hub {
    /// Loads every subscription and its progress from `engine`'s store, each cursor from
    /// its cursor file, and, on the node that leads, deletes the records of subscriptions
    /// no longer in the book (left by a removal or an add that a crash interrupted; a
    /// follower writes nothing: the leader may be adding the one it would see as left).
    ///
    /// # Errors
    /// `storage` when a record is unreadable or damaged.
    pub fn load(engine: &Engine) -> Result<Self, StoreError> {
        let store = Arc::clone(engine.store());
        let data = engine.data_dir().map(Path::to_path_buf);
        let book = read_book(store.as_ref(), data.as_deref())?;
        let hub = Self {
            store,
            vault: Arc::clone(engine.vault()),
            data,
            book: Mutex::new(book),
            saving: Mutex::new(()),
            key: Mutex::new(None),
            changed: watch::Sender::new(0),
            metrics: WebhookMetrics::default(),
        };
        if engine.role().is_leader() {
            hub.sweep()?;
        }
        Ok(hub)
    }

    /// Reads every subscription and its progress again from the store, for a node
    /// that takes over as the leader (another node changed them meanwhile), deletes the
    /// records of subscriptions no longer in the book (as [`Hub::load`] does on a
    /// leader), and wakes the delivery tasks; work handed out before is discarded (its
    /// generation is over).
    ///
    /// # Errors
    /// `storage` when a record is unreadable or damaged (the copy in memory stays).
    pub fn reload(&self) -> Result<(), StoreError> {
        let _saving = self.saving.lock().unwrap_or_else(|p| p.into_inner());
        let mut fresh = read_book(self.store.as_ref(), self.data.as_deref())?;
        {
            let mut book = self.lock();
            for (id, generation) in &book.generations {
                fresh.generations.insert(*id, generation + 1);
            }
            *book = fresh;
        }
        self.sweep()?;
        self.changed.send_modify(|n| *n += 1);
        Ok(())
    }

    /// Deletes the progress and cursor records of subscriptions not in the book.
    fn sweep(&self) -> Result<(), StoreError> {
        let known: BTreeSet<Uuid> = self.lock().subscriptions.keys().copied().collect();
        for name in self.store.checkpoint_names(PROGRESS_PREFIX)? {
            let rest = &name[PROGRESS_PREFIX.len()..];
            let (id, is_cursor) = match rest.strip_suffix(".cursor") {
                Some(id) => (id, true),
                None => (rest, false),
            };
            let Ok(id) = id.parse::<Uuid>() else {
                continue;
            };
            if known.contains(&id) {
                continue;
            }
            tracing::info!(subscription = %id, "removing the records of a removed webhook subscription");
            match (&self.data, is_cursor) {
                (Some(data), true) => {
                    crate::store::slot_file::remove_file(&data.join("checkpoints").join(&name))?;
                }
                _ => self.store.remove_checkpoint(&name)?,
            }
        }
        Ok(())
    }

    /// The delivery counters (`GET /metrics` registers them).
    pub fn metrics(&self) -> &WebhookMetrics {
        &self.metrics
    }

    fn lock(&self) -> MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn key(&self) -> Result<SealingKey, StoreError> {
        let mut key = self.key.lock().unwrap_or_else(|p| p.into_inner());
        if key.is_none() {
            *key = Some(SealingKey::load_or_create(
                self.store.as_ref(),
                &self.vault,
            )?);
        }
        Ok(key.clone().expect("just loaded"))
    }

    /// A receiver of change notices (the delivery tasks wait on it).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    fn save_book(&self, book: &Book) -> Result<(), StoreError> {
        let stored = StoredBook {
            subscriptions: book.subscriptions.values().cloned().collect(),
        };
        self.store.put_checkpoint(
            BOOK_RECORD,
            &serde_json::to_vec(&stored).expect("a book always serializes"),
        )?;
        self.changed.send_modify(|n| *n += 1);
        Ok(())
    }

    fn save_progress(&self, id: Uuid, progress: &Progress) -> Result<(), StoreError> {
        self.store.put_checkpoint(
            &record_name(id),
            &serde_json::to_vec(progress).expect("progress always serializes"),
        )
    }

    /// Adds a subscription for `org` that delivers the events after `after` (the log's
    /// last durable position when it is called). **Durability: when it returns `Ok`, the
    /// subscription, its sealed secret and its starting cursor are on stable storage.**
    ///
    /// # Errors
    /// `invalid_input` for a refused URL (see [`ssrf::check_url`]), an unknown or empty
    /// event type, a description over [`MAX_DESCRIPTION`] characters or holding an
    /// invisible or control character, or an org that has [`MAX_SUBSCRIPTIONS`] already.
    pub fn add(
        &self,
        org: OrgId,
        new: NewSubscription,
        options: &WebhookOptions,
        after: u64,
        now: DateTime<Utc>,
    ) -> Result<WithSecret, WebhookError> {
        ssrf::check_url(&new.url, options).map_err(WebhookError::Invalid)?;
        let mut events = new.events;
        // An empty name must not widen the subscription to every event.
        if events.iter().any(|e| e.trim().is_empty()) {
            return Err(WebhookError::Invalid(
                "an event type is empty; name each type, or leave the list out to receive every event".into(),
            ));
        }
        if let Some(unknown) = events.iter().find(|e| !Event::TYPES.contains(&e.as_str())) {
            return Err(WebhookError::Invalid(format!(
                "{unknown:?} is not an event type (one of {})",
                Event::TYPES.join(", ")
            )));
        }
        events.sort();
        events.dedup();
        let description = new.description.filter(|d| !d.trim().is_empty());
        if description
            .as_ref()
            .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION)
        {
            return Err(WebhookError::Invalid(format!(
                "descriptions are at most {MAX_DESCRIPTION} characters"
            )));
        }
        if let Some(c) = description
            .as_deref()
            .and_then(|d| d.chars().find(|c| is_hidden(*c)))
        {
            return Err(WebhookError::Invalid(format!(
                "the description holds the invisible or control character U+{:04X}: type it without",
                u32::from(c)
            )));
        }
        let secret = secret::generate();
        let sealed = self.key()?.seal(&secret);
        let view = Subscription {
            id: Uuid::new_v4(),
            org_id: org,
            url: new.url,
            events,
            description,
            format: new.format,
            when_parked: new.when_parked,
            status: SubscriptionStatus::Active,
            paused_reason: None,
            created_at: now,
            secret_rotated_at: None,
        };
        let progress = Progress {
            cursor: after,
            ..Progress::default()
        };
        let (cursor, _) = CursorFile::open(self.data.as_deref(), view.id)?;
        let _saving = self.saving();
        let mut book = self.lock();
        let held = book.subscriptions.values();
        if held.filter(|s| s.view.org_id == org).count() >= MAX_SUBSCRIPTIONS {
            drop(book);
            let _ = cursor.remove();
            return Err(WebhookError::Invalid(format!(
                "the org has {MAX_SUBSCRIPTIONS} subscriptions, the most it may have; remove one first"
            )));
        }
        // Cursor and progress first: a book naming a subscription whose cursor is
        // missing would start it at position 1 and deliver the org's whole history.
        cursor.write_synced(after)?;
        self.save_progress(view.id, &progress)?;
        book.subscriptions.insert(
            view.id,
            StoredSubscription {
                view: view.clone(),
                secrets: vec![StoredSecret {
                    sealed,
                    expires_at: None,
                }],
            },
        );
        if let Err(e) = self.save_book(&book) {
            book.subscriptions.remove(&view.id);
            return Err(e.into());
        }
        book.progress.insert(view.id, progress);
        book.cursors.insert(view.id, Arc::new(cursor));
        Ok(WithSecret {
            secret,
            subscription: view,
        })
    }

    /// The org's subscriptions, oldest first.
    pub fn list(&self, org: OrgId) -> Vec<Subscription> {
        let mut subs: Vec<Subscription> = self
            .lock()
            .subscriptions
            .values()
            .filter(|s| s.view.org_id == org)
            .map(|s| s.view.clone())
            .collect();
        subs.sort_by_key(|s| s.created_at);
        subs
    }

    /// Every subscription's id, of every org (the delivery tasks).
    pub fn ids(&self) -> Vec<Uuid> {
        self.lock().subscriptions.keys().copied().collect()
    }

    /// One subscription of `org` with its progress; `last`: the log's last durable
    /// position.
    pub fn show(
        &self,
        org: OrgId,
        id: Uuid,
        last: u64,
    ) -> Result<SubscriptionDetail, WebhookError> {
        let book = self.lock();
        let sub = Self::find(&book, org, id)?;
        Ok(detail(sub, book.progress.get(&id), last))
    }

    fn find(book: &Book, org: OrgId, id: Uuid) -> Result<&StoredSubscription, WebhookError> {
        book.subscriptions
            .get(&id)
            .filter(|s| s.view.org_id == org)
            .ok_or_else(|| WebhookError::NotFound(id.to_string()))
    }

    /// Applies `change` to subscription `id` of `org` and writes the book through.
    fn change<T>(
        &self,
        org: OrgId,
        id: Uuid,
        change: impl FnOnce(&mut StoredSubscription) -> T,
    ) -> Result<(Subscription, T), WebhookError> {
        let mut book = self.lock();
        Self::find(&book, org, id)?;
        let before = book.subscriptions[&id].clone();
        let sub = book.subscriptions.get_mut(&id).expect("found above");
        let out = change(sub);
        let view = sub.view.clone();
        if let Err(e) = self.save_book(&book) {
            book.subscriptions.insert(id, before);
            return Err(e.into());
        }
        Ok((view, out))
    }

    /// Stops delivery until [`Hub::resume`]; an attempt in flight finishes. **Durability:
    /// when it returns `Ok`, the pause is on stable storage (it holds across a restart).**
    pub fn pause(&self, org: OrgId, id: Uuid) -> Result<Subscription, WebhookError> {
        Ok(self
            .change(org, id, |s| {
                s.view.status = SubscriptionStatus::Paused;
                s.view.paused_reason = Some("paused by request".to_owned());
            })?
            .0)
    }

    /// Delivery goes on after the cursor. **Durability: when it returns `Ok`, the
    /// subscription is active on stable storage.**
    pub fn resume(&self, org: OrgId, id: Uuid) -> Result<Subscription, WebhookError> {
        Ok(self
            .change(org, id, |s| {
                s.view.status = SubscriptionStatus::Active;
                s.view.paused_reason = None;
            })?
            .0)
    }

    /// A new secret; the previous ones still sign until `overlap` has passed, so every
    /// delivery meanwhile carries both signatures. **Durability: when it returns `Ok`,
    /// the new sealed secret is on stable storage.**
    pub fn rotate_secret(
        &self,
        org: OrgId,
        id: Uuid,
        overlap: Duration,
        now: DateTime<Utc>,
    ) -> Result<WithSecret, WebhookError> {
        let secret = secret::generate();
        let sealed = self.key()?.seal(&secret);
        let (subscription, ()) = self.change(org, id, |s| {
            for old in &mut s.secrets {
                let until = now + overlap;
                old.expires_at = Some(old.expires_at.map_or(until, |e| e.min(until)));
            }
            s.secrets
                .retain(|old| old.expires_at.is_some_and(|e| e > now));
            s.secrets.insert(
                0,
                StoredSecret {
                    sealed,
                    expires_at: None,
                },
            );
            s.view.secret_rotated_at = Some(now);
        })?;
        Ok(WithSecret {
            secret,
            subscription,
        })
    }

    /// Removes the subscription, its secrets, its progress (attempt history, parked
    /// events) and its cursor; nothing more is delivered to it. **Durability: when it
    /// returns `Ok`, the removal from the book is on stable storage**; its progress and
    /// cursor files are deleted before it returns, and should that fail (logged), at
    /// the next load.
    pub fn remove(&self, org: OrgId, id: Uuid) -> Result<Subscription, WebhookError> {
        let _saving = self.saving();
        let mut book = self.lock();
        Self::find(&book, org, id)?;
        let removed = book.subscriptions.remove(&id).expect("found above");
        if let Err(e) = self.save_book(&book) {
            book.subscriptions.insert(id, removed);
            return Err(e.into());
        }
        book.progress.remove(&id);
        book.unsaved.remove(&id);
        *book.generations.entry(id).or_default() += 1;
        let cursor = book.cursors.remove(&id);
        drop(book);
        let deleted = self
            .store
            .remove_checkpoint(&record_name(id))
            .and_then(|()| cursor.map_or(Ok(()), |c| c.remove()));
        if let Err(e) = deleted {
            tracing::warn!(subscription = %id, error = %e, "a removed webhook subscription's records stay until the next start");
        }
        Ok(removed.view)
    }

    /// Delivers again from position `from` (parked events from there on included):
    /// the cursor moves to `from - 1`, the parked events at or after `from` leave the
    /// parked list, and a paused subscription resumes. **Durability: when it returns
    /// `Ok`, the new cursor and status are on stable storage.**
    ///
    /// # Errors
    /// `invalid_input` when `from` is 0 or past `last + 1` (`last`: the log's end).
    pub fn replay(
        &self,
        org: OrgId,
        id: Uuid,
        from: u64,
        last: u64,
    ) -> Result<SubscriptionDetail, WebhookError> {
        if from == 0 || from > last + 1 {
            return Err(WebhookError::Invalid(format!(
                "--from must be a position from 1 to {} (the log ends at {last})",
                last + 1
            )));
        }
        {
            let _saving = self.saving();
            let mut book = self.lock();
            Self::find(&book, org, id)?;
            let mut progress = book.progress.get(&id).cloned().unwrap_or_default();
            progress.cursor = from - 1;
            progress.attempts = 0;
            progress.next_attempt_at = None;
            progress.parked.retain(|p| p.position < from);
            // The cursor first: after a crash between the two writes, the parked events
            // past it are dropped at load (`load_progress`) and delivered again.
            if let Some(cursor) = book.cursors.get(&id) {
                cursor.write_synced(progress.cursor)?;
            }
            self.save_progress(id, &progress)?;
            book.progress.insert(id, progress);
            book.unsaved.remove(&id);
            *book.generations.entry(id).or_default() += 1;
        }
        self.resume(org, id)?;
        self.show(org, id, last)
    }

    /// For `offboard repair --accept-loss`: the positions after `to` were lost, and the
    /// events written there next (the loss record first) must be delivered. Moves every
    /// subscription whose cursor is past `to` back to `to`, keeping its status, and
    /// forgets the failed attempts of an event in hand that was lost (a tester saw the
    /// loss record inherit a lost event's backoff and attempt count, and be parked after
    /// fewer attempts than `--webhook-attempts`). **Durability: when it returns `Ok`, every changed cursor and
    /// progress record is on stable storage.**
    ///
    /// # Errors
    /// `storage` when a cursor or progress record cannot be written.
    pub fn lower_cursors(&self, to: u64) -> Result<(), WebhookError> {
        let _saving = self.saving();
        let mut book = self.lock();
        let ids: Vec<Uuid> = book.subscriptions.keys().copied().collect();
        for id in ids {
            let mut progress = book.progress.get(&id).cloned().unwrap_or_default();
            // The event in hand is the one last attempted; unknown, it may be lost too.
            let in_hand_lost = (progress.attempts > 0 || progress.next_attempt_at.is_some())
                && progress.recent.back().is_none_or(|a| a.position > to);
            if progress.cursor <= to && !in_hand_lost {
                continue;
            }
            progress.cursor = progress.cursor.min(to);
            progress.attempts = 0;
            progress.next_attempt_at = None;
            progress.parked.retain(|p| p.position <= to);
            // The cursor first, as `replay` does: where it now stands, never past it.
            if let Some(cursor) = book.cursors.get(&id) {
                cursor.write_synced(progress.cursor)?;
            }
            self.save_progress(id, &progress)?;
            book.progress.insert(id, progress);
            book.unsaved.remove(&id);
            *book.generations.entry(id).or_default() += 1;
        }
        Ok(())
    }

    /// The recent attempts (`failed`: only the parked events), newest first.
    pub fn deliveries(
        &self,
        org: OrgId,
        id: Uuid,
        failed: bool,
    ) -> Result<DeliveryLog, WebhookError> {
        let book = self.lock();
        Self::find(&book, org, id)?;
        let progress = book.progress.get(&id).cloned().unwrap_or_default();
        let mut recent: Vec<Attempt> = progress.recent.into_iter().rev().collect();
        if failed {
            recent.retain(|a| a.outcome != "delivered");
        }
        Ok(DeliveryLog {
            parked: progress.parked.into_iter().rev().collect(),
            recent,
        })
    }

    /// What the delivery task of `id` works from; `None` once removed.
    pub fn work(&self, id: Uuid, now: DateTime<Utc>) -> Option<Work> {
        let mut book = self.lock();
        let book = &mut *book;
        let sub = book.subscriptions.get(&id)?;
        let mut secrets = Vec::with_capacity(sub.secrets.len());
        for stored in sub
            .secrets
            .iter()
            .filter(|s| s.expires_at.is_none_or(|e| e > now))
        {
            // Opened once, not at every delivery.
            let opened = match book.opened.get(&stored.sealed) {
                Some(secret) => secret.clone(),
                None => {
                    let secret = self.key().ok()?.open(&stored.sealed)?;
                    book.opened.insert(stored.sealed.clone(), secret.clone());
                    secret
                }
            };
            secrets.push(opened);
        }
        // Without the attempt history and parked list: a task looks at this every turn.
        let progress = book
            .progress
            .get(&id)
            .map_or_else(Progress::default, |p| Progress {
                cursor: p.cursor,
                attempts: p.attempts,
                next_attempt_at: p.next_attempt_at,
                delivered: p.delivered,
                ..Progress::default()
            });
        Some(Work {
            subscription: sub.view.clone(),
            secrets,
            progress,
            generation: book.generations.get(&id).copied().unwrap_or_default(),
        })
    }

    fn saving(&self) -> MutexGuard<'_, ()> {
        self.saving.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `work` is still what the book holds (not replayed or removed since).
    fn current(book: &Book, work: &Work) -> bool {
        let id = work.subscription.id;
        book.generations.get(&id).copied().unwrap_or_default() == work.generation
            && book.subscriptions.contains_key(&id)
    }

    /// Whether [`Hub::record`] of `outcome` is quick — a delivery (2xx) of an event with
    /// no failed attempt, the common case — so an async task may call it in place: one
    /// write into the page cache, no sync.
    pub fn is_quick(work: &Work, outcome: &Outcome) -> bool {
        outcome.retry_at.is_none() && work.progress.attempts == 0
    }

    /// Records the outcome of one attempt of the event at `attempt.position` by the task
    /// working from `work`. A 2xx moves the cursor to it; a failure counts an attempt
    /// and, at `max_attempts`, parks the event (cursor moves past it) and pauses the
    /// subscription if its policy says so. **Durability: for a quick outcome (see
    /// [`Hub::is_quick`]), when it returns `Ok(true)` the new cursor is in the kernel (a
    /// killed process keeps it), on stable storage after the next [`Hub::sync`], and the
    /// attempt is in the history saved by the next [`Hub::save`]; for any other, the
    /// new progress and cursor are on stable storage. `Ok(false)`: the subscription was
    /// replayed or removed meanwhile and nothing was recorded.**
    pub fn record(
        &self,
        work: &Work,
        outcome: Outcome,
        max_attempts: u32,
    ) -> Result<bool, StoreError> {
        let id = work.subscription.id;
        if Self::is_quick(work, &outcome) {
            let mut book = self.lock();
            if !Self::current(&book, work) {
                return Ok(false);
            }
            if book.progress.get(&id).is_some_and(|p| p.attempts == 0) {
                self.delivered(&mut book, id, outcome.attempt)?;
                return Ok(true);
            }
        }
        let _saving = self.saving();
        let mut book = self.lock();
        if !Self::current(&book, work) {
            return Ok(false);
        }
        let mut progress = book.progress.get(&id).cloned().unwrap_or_default();
        let before = progress.cursor;
        let (label, pause) = settle(&mut progress, work, outcome, max_attempts);
        self.save_progress(id, &progress)?;
        // The cursor after the progress: a crash between the two leaves a parked event
        // past the cursor, which the next load drops and delivers again.
        if progress.cursor != before {
            if let Some(cursor) = book.cursors.get(&id) {
                cursor.write_synced(progress.cursor)?;
            }
        }
        book.progress.insert(id, progress);
        book.unsaved.remove(&id);
        self.metrics.attempted(label);
        if let Some(reason) = pause {
            let sub = book.subscriptions.get_mut(&id).expect("checked above");
            sub.view.status = SubscriptionStatus::Paused;
            sub.view.paused_reason = Some(reason);
            self.save_book(&book)?;
        }
        Ok(true)
    }

    /// The quick path of [`Hub::record`]: the cursor written to the kernel, the rest in
    /// memory until the next [`Hub::save`].
    fn delivered(&self, book: &mut Book, id: Uuid, attempt: Attempt) -> Result<(), StoreError> {
        if let Some(cursor) = book.cursors.get(&id) {
            cursor.write(attempt.position)?;
        }
        let progress = book.progress.entry(id).or_default();
        progress.cursor = attempt.position;
        progress.delivered += 1;
        remember(progress, attempt);
        book.unsaved.insert(id);
        self.metrics.attempted("delivered");
        Ok(())
    }

    /// Moves the cursor over events the subscription does not receive (another org's,
    /// other types): in memory and written to the kernel like a delivery's (see
    /// [`Hub::record`]), so a restart does not read them again.
    pub fn skip_to(&self, work: &Work, position: u64) {
        let id = work.subscription.id;
        let mut guard = self.lock();
        let book = &mut *guard;
        if book.generations.get(&id).copied().unwrap_or_default() != work.generation {
            return;
        }
        if let Some(progress) = book.progress.get_mut(&id) {
            if progress.attempts == 0 && progress.cursor < position {
                progress.cursor = position;
                let written = book.cursors.get(&id).map_or(Ok(()), |c| c.write(position));
                if let Err(e) = written {
                    tracing::warn!(subscription = %id, error = %e, "webhook cursor not written");
                }
            }
        }
    }

    /// Syncs every cursor written since the last sync. **Durability: when it returns
    /// `Ok`, every cursor recorded before the call is on stable storage.** The delivery
    /// tasks' keeper calls it every 100 ms, and once more when delivery stops.
    ///
    /// # Errors
    /// `storage` from the first cursor that could not be synced (the others still are).
    pub fn sync(&self) -> Result<(), StoreError> {
        let cursors: Vec<Arc<CursorFile>> = self.lock().cursors.values().cloned().collect();
        let mut first_error = None;
        for cursor in cursors {
            if let Err(e) = cursor.sync() {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Saves the progress records (attempt history, `delivered`) changed in memory by
    /// quick records since the last save. **Durability: when it returns `Ok`, every
    /// progress recorded before the call is on stable storage.** The keeper calls it
    /// every second, and once more when delivery stops.
    ///
    /// # Errors
    /// `storage` from the first record that could not be saved (it is tried again next
    /// time).
    pub fn save(&self) -> Result<(), StoreError> {
        let _saving = self.saving();
        let unsaved: Vec<(Uuid, Progress)> = {
            let mut book = self.lock();
            let ids = std::mem::take(&mut book.unsaved);
            ids.into_iter()
                .filter_map(|id| Some((id, book.progress.get(&id)?.clone())))
                .collect()
        };
        let mut first_error = None;
        for (id, progress) in unsaved {
            if let Err(e) = self.save_progress(id, &progress) {
                self.lock().unsaved.insert(id);
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Every subscription of every org with its progress (`GET /metrics`); `last`: the
    /// log's last durable position.
    pub fn details(&self, last: u64) -> Vec<SubscriptionDetail> {
        let book = self.lock();
        book.subscriptions
            .values()
            .map(|sub| {
                let progress = book.progress.get(&sub.view.id);
                detail(sub, progress, last)
            })
            .collect()
    }
}

/// Applies a slow outcome (a failure, or a delivery after failures) to `progress`:
/// returns the attempt's outcome label and, when the event is parked under policy
/// `pause`, why the subscription pauses.
fn settle(
    progress: &mut Progress,
    work: &Work,
    outcome: Outcome,
    max_attempts: u32,
) -> (&'static str, Option<String>) {
    let mut attempt = outcome.attempt;
    let mut pause = None;
    let label = if outcome.retry_at.is_none() {
        progress.cursor = attempt.position;
        progress.attempts = 0;
        progress.next_attempt_at = None;
        progress.delivered += 1;
        "delivered"
    } else if progress.attempts + 1 >= max_attempts {
        attempt.outcome = "parked".to_owned();
        progress.parked.retain(|p| p.position != attempt.position);
        progress.parked.push(Parked {
            position: attempt.position,
            webhook_id: attempt.webhook_id.clone(),
            parked_at: attempt.at,
            attempts: progress.attempts + 1,
            last_status: attempt.status,
            detail: attempt.detail.clone(),
        });
        if progress.parked.len() > MAX_PARKED {
            progress.parked.remove(0);
        }
        progress.cursor = attempt.position;
        progress.attempts = 0;
        progress.next_attempt_at = None;
        if work.subscription.when_parked == WhenParked::Pause {
            pause = Some(format!(
                "event at position {} parked after {max_attempts} attempts",
                attempt.position
            ));
        }
        "parked"
    } else {
        progress.attempts += 1;
        progress.next_attempt_at = outcome.retry_at;
        "failed"
    };
    remember(progress, attempt);
    (label, pause)
}

/// Adds `attempt` to the recent ones, dropping the oldest beyond [`RECENT`].
fn remember(progress: &mut Progress, attempt: Attempt) {
    progress.recent.push_back(attempt);
    while progress.recent.len() > RECENT {
        progress.recent.pop_front();
    }
}

/// `sub` as `show` answers it.
fn detail(sub: &StoredSubscription, progress: Option<&Progress>, last: u64) -> SubscriptionDetail {
    let (cursor, attempts, next_attempt_at, delivered, parked) =
        progress.map_or((0, 0, None, 0, 0), |p| {
            (
                p.cursor,
                p.attempts,
                p.next_attempt_at,
                p.delivered,
                p.parked.len(),
            )
        });
    SubscriptionDetail {
        subscription: sub.view.clone(),
        cursor,
        lag: last.saturating_sub(cursor),
        attempts,
        next_attempt_at,
        delivered,
        parked,
    }
}

/// One subscription's progress record, its cursor taken from the cursor file when that
/// holds one (it is written at every acknowledgement, the record only now and then).
fn load_progress(
    store: &dyn LogStore,
    data: Option<&Path>,
    id: Uuid,
) -> Result<(CursorFile, Progress), StoreError> {
    let record = record_name(id);
    let mut progress: Progress = match store.checkpoint(&record)? {
        Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| corrupt(&record, e))?,
        None => Progress::default(),
    };
    let (cursor, stored) = CursorFile::open(data, id)?;
    if let Some(at) = stored.filter(|at| *at != progress.cursor) {
        // The attempts counted were of another event than the one after this cursor.
        progress.cursor = at;
        progress.attempts = 0;
        progress.next_attempt_at = None;
    }
    // Parked events are at or before the cursor; one past it was parked, or replayed,
    // by writes a crash cut short: it is delivered again.
    let cursor_at = progress.cursor;
    progress.parked.retain(|p| p.position <= cursor_at);
    Ok((cursor, progress))
}

/// `webhook deliveries`: the parked events and the recent attempts, newest first.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
pub struct DeliveryLog {
    pub parked: Vec<Parked>,
    pub recent: Vec<Attempt>,
}
