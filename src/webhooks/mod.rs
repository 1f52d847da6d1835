//! Webhooks: signed, durable, ordered, at-least-once delivery of an org's events to
//! HTTP receivers (issue 18).
//!
//! - [`book`]: the subscriptions and each one's delivery progress, kept beside the log
//!   (named checkpoints); [`Hub`] is the shared, in-memory copy the API and the
//!   delivery tasks both go through.
//! - [`cursor`]: each subscription's cursor, written at every acknowledgement without
//!   waiting for the disk and synced in groups.
//! - [`secret`]: `whsec_…` secrets, shown once and stored encrypted.
//! - [`signing`]: the Standard Webhooks headers.
//! - [`payload`]: the `connector` body, the event with the users and resources it names.
//! - [`ssrf`]: which URLs and addresses a subscription may reach.
//! - [`policy`]: retry schedule (exponential backoff with jitter, `Retry-After`).
//! - [`delivery`]: the tasks `serve` starts, one per subscription, and their keeper.
//! - [`priority`]: the delivery tasks' own threads, below the writer's priority.
//! - [`recent`]: the events the tasks read lately and their bodies, shared.
//! - [`pace`]: deliveries yield to commands while commands keep the writer busy.
//! - [`metrics`]: attempts by outcome, each subscription's lag and parked events.

pub mod book;
pub mod cursor;
pub mod delivery;
pub mod metrics;
pub mod pace;
pub mod payload;
pub mod policy;
pub mod priority;
pub mod recent;
pub mod secret;
pub mod signing;
pub mod ssrf;

use std::time::Duration;

pub use book::{
    Attempt, BodyFormat, DeliveryLog, Hub, NewSubscription, Parked, Progress, Subscription,
    SubscriptionDetail, SubscriptionStatus, WebhookError, WhenParked, WithSecret,
    MAX_SUBSCRIPTIONS,
};
pub use delivery::Deliveries;

/// Deliveries a second while commands keep the writer busy: ten subscriptions paced so
/// cost 64 clients 3–16 % of their throughput on two cores (0.84–0.97× in the runs
/// of 2026-12-02 08:39 UTC, the machine's swings included), against 18–23 % unpaced
/// (`offboard bench --only webhooks`, docs/performance.md).
pub const DEFAULT_PACE: u32 = 3_000;

/// How `serve` delivers webhooks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WebhookOptions {
    /// `http://` URLs to loopback addresses are accepted (`serve --allow-http-webhooks`;
    /// tests and local receivers). Everything else must be `https://`.
    pub allow_http_loopback: bool,
    /// Private, link-local, loopback and metadata addresses may be reached
    /// (`serve --allow-private-webhooks`, for receivers inside the network).
    pub allow_private: bool,
    /// Longest one delivery request may take, connection included.
    pub timeout: Duration,
    /// First retry delay; each further one doubles, up to `backoff_max`.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// Attempts of one event before it is parked.
    pub max_attempts: u32,
    /// Subscriptions with a request in flight at once; the others wait their turn.
    pub max_in_flight: usize,
    /// Deliveries a second, all subscriptions together, while commands keep the writer
    /// busy (`serve --webhook-pace`; 0: never paced). See [`pace`].
    pub pace: u32,
}

impl Default for WebhookOptions {
    fn default() -> Self {
        Self {
            allow_http_loopback: false,
            allow_private: false,
            timeout: Duration::from_secs(10),
            backoff_min: Duration::from_secs(5),
            backoff_max: Duration::from_secs(3600),
            max_attempts: 10,
            max_in_flight: 32,
            pace: DEFAULT_PACE,
        }
    }
}
