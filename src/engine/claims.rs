//! Durable claims about how far the log goes, checked when the engine opens.
//!
//! Five things saved beside the log say it reached at least some position: the
//! projection checkpoint (its position, and the hash of the event there), the head record
//! (`checkpoints/chain-head`, see [`crate::anchor`]), the head note written after every
//! acknowledged round (`chain-head.note`, see `store::head_note`), every named consumer's acked
//! position (`checkpoints/server.consumer.*`) and every webhook subscription's cursor
//! (`checkpoints/server.webhook.*`). Each was written only after the positions
//! it names were durable, so a log that now ends before one of them LOST acknowledged
//! events — sled's recovery drops a damaged tail without a word — and a log whose event at
//! a recorded position has another hash was rewritten. Either way opening refuses with
//! `integrity_broken` naming the positions: serving it would answer from a shorter
//! history and hand out the lost positions again. `offboard repair --accept-loss` is the
//! operator's way on (see `cli::repair`).

use offboard_events::OrgId;
use offboard_projections::State;

use crate::anchor::{self, HeadRecord};
use crate::integrity::VerifyError;
use crate::server::consumers;
use crate::store::{LogStore, StoreError, HEAD_NOTE_FILE};

/// What made a claim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClaimSource {
    /// The projection checkpoint (`checkpoints/projections`).
    Checkpoint,
    /// The head record (`checkpoints/chain-head`).
    HeadRecord,
    /// The head note (`chain-head.note`), written after every acknowledged round.
    HeadNote,
    /// A named consumer's acked position: the consumer `name` of `org`.
    Consumer { org: OrgId, name: String },
    /// A webhook subscription's cursor: the last position it delivered or parked.
    Webhook { org: OrgId, id: uuid::Uuid },
}

/// One durable claim: the log holds `position` (with `hash`, when recorded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    /// What made it.
    pub source: ClaimSource,
    /// The position it says the log holds.
    pub position: u64,
    /// The hash it recorded for that position's event (hex), if it recorded one.
    pub hash: Option<String>,
}

impl Claim {
    /// e.g. `projection checkpoint at 9`, `consumer crm of org … at 9`.
    pub fn describe(&self) -> String {
        let what = match &self.source {
            ClaimSource::Checkpoint => "projection checkpoint".to_owned(),
            ClaimSource::HeadRecord => "head record".to_owned(),
            ClaimSource::HeadNote => "head note".to_owned(),
            ClaimSource::Consumer { org, name } => format!("consumer {name} of org {org}"),
            ClaimSource::Webhook { org, id } => {
                format!("webhook subscription {id} of org {org}")
            }
        };
        format!("{what} at {}", self.position)
    }
}

/// Every durable claim in `store`; `checkpoint` is the projection checkpoint as loaded
/// (an unusable one claims nothing: it is rebuilt).
pub fn gather(
    store: &dyn LogStore,
    checkpoint: Option<&Result<State, String>>,
) -> Result<Vec<Claim>, StoreError> {
    let mut claims = Vec::new();
    if let Some(Ok(state)) = checkpoint {
        claims.push(Claim {
            source: ClaimSource::Checkpoint,
            position: state.position(),
            // A checkpoint of an earlier build did not record its hash.
            hash: (!state.hash().is_empty()).then(|| state.hash().to_owned()),
        });
    }
    if let Some(HeadRecord { position, hash }) = anchor::load_record(store)? {
        claims.push(Claim {
            source: ClaimSource::HeadRecord,
            position,
            hash: Some(hash),
        });
    }
    if let Some(head) = store.noted_head()? {
        claims.push(Claim {
            source: ClaimSource::HeadNote,
            position: head.last_position,
            hash: Some(head.last_hash),
        });
    }
    for (org, consumer) in consumers::all(store)? {
        claims.push(Claim {
            source: ClaimSource::Consumer {
                org,
                name: consumer.name,
            },
            position: consumer.position,
            hash: None,
        });
    }
    for (org, id, position) in crate::webhooks::book::stored_cursors(store)? {
        claims.push(Claim {
            source: ClaimSource::Webhook { org, id },
            position,
            hash: None,
        });
    }
    Ok(claims)
}

/// The claims the log does not hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Damage {
    /// The log's last position.
    pub log_end: u64,
    /// Claims past the log's end.
    pub beyond: Vec<Claim>,
    /// Claims whose position holds an event with another hash, with that hash.
    pub rewritten: Vec<(Claim, String)>,
    /// The head note is gone (or unreadable) though the log says it has kept one since
    /// this position: how far the log went can no longer be checked by it.
    pub note_missing: Option<u64>,
}

impl Damage {
    /// Every claim holds.
    pub fn is_none(&self) -> bool {
        self.beyond.is_empty() && self.rewritten.is_empty() && self.note_missing.is_none()
    }

    /// The positions lost, `log_end + 1 ..= the furthest claim`, if any claim is beyond.
    pub fn missing(&self) -> Option<(u64, u64)> {
        let furthest = self.beyond.iter().map(|c| c.position).max()?;
        Some((self.log_end + 1, furthest))
    }

    /// The hash a claim recorded for the furthest missing position, if one did.
    pub fn claimed_head_hash(&self) -> Option<String> {
        let (_, furthest) = self.missing()?;
        self.beyond
            .iter()
            .filter(|c| c.position == furthest)
            .find_map(|c| c.hash.clone())
    }

    /// The refusal: `integrity_broken`, naming the missing positions and what claimed
    /// them, or the rewritten positions.
    pub fn to_error(&self) -> VerifyError {
        let mut problems = Vec::new();
        if let Some((from, to)) = self.missing() {
            let by: Vec<String> = self
                .beyond
                .iter()
                .map(|c| format!("the {}", c.describe()))
                .collect();
            let say = if by.len() == 1 { "says" } else { "say" };
            problems.push(format!(
                "the log ends at {} but {} {say} it went further: positions {from}..={to} are missing",
                self.log_end,
                by.join(", ")
            ));
        }
        for (claim, found) in &self.rewritten {
            problems.push(format!(
                "the {} recorded hash {} but the event there has hash {found}: the log was rewritten behind it",
                claim.describe(),
                claim.hash.as_deref().unwrap_or_default()
            ));
        }
        if let Some(since) = self.note_missing {
            problems.push(format!(
                "the log ends at {end}, and nothing left in this directory vouches that it ended there: the head note {HEAD_NOTE_FILE} is missing or unreadable, though this log has kept one since position {since}, so whether acknowledged events were lost after {end} cannot be told from this directory; `offboard repair` prints the log's head (POS:HASH) to compare with one kept outside (an anchor file, a saved `offboard head`), and `offboard repair --accept-loss --expect-head POS:HASH`, given that head, writes the note again only if the log ends exactly there (`--accept-loss` alone cannot tell a whole log from a shortened one)",
                end = self.log_end
            ));
        }
        let problem = format!(
            "{}; `offboard repair` shows what accepting the loss would drop",
            problems.join("; ")
        );
        // A rewritten position is one the log holds; everything else lies past its end,
        // where no position exists to be named as broken.
        match self.rewritten.iter().map(|(c, _)| c.position).min() {
            Some(position) => VerifyError::Broken { position, problem },
            None => VerifyError::Short {
                log_end: self.log_end,
                problem,
            },
        }
    }
}

/// Which of `claims` the log in `store` does not hold.
pub fn assess(store: &dyn LogStore, claims: &[Claim]) -> Result<Damage, StoreError> {
    let mut damage = Damage {
        log_end: store.head()?.last_position,
        ..Damage::default()
    };
    if let Some(since) = store.note_kept_since()? {
        if store.noted_head()?.is_none() {
            damage.note_missing = Some(since);
        }
    }
    for claim in claims {
        if claim.position > damage.log_end {
            damage.beyond.push(claim.clone());
            continue;
        }
        let Some(expected) = &claim.hash else {
            continue;
        };
        match anchor::hash_at(store, claim.position)? {
            Some(found) if &found == expected => {}
            Some(found) => damage.rewritten.push((claim.clone(), found)),
            None => damage.beyond.push(claim.clone()),
        }
    }
    Ok(damage)
}

/// Refuses with `integrity_broken` unless every durable claim in `store` holds.
pub fn check(
    store: &dyn LogStore,
    checkpoint: Option<&Result<State, String>>,
) -> Result<(), super::ReadError> {
    let damage = assess(store, &gather(store, checkpoint)?)?;
    if damage.is_none() {
        Ok(())
    } else {
        Err(super::ReadError::Integrity(damage.to_error()))
    }
}
