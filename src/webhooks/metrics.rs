//! Webhook delivery on `GET /metrics` (`prometheus-client`): attempts by outcome, counted
//! where they are recorded ([`super::Hub::record`]); each subscription's lag and parked
//! events, read at scrape time. Labels are org and subscription ids and the outcome —
//! never a URL, which may name a customer's system.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::Hub;

/// The labels of `offboard_webhook_deliveries_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// `delivered` (2xx), `failed` (to be retried) or `parked` (the last attempt failed).
    pub outcome: &'static str,
}

/// The labels of the per-subscription gauges.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SubscriptionLabels {
    org: String,
    subscription: String,
}

/// The counters every [`Hub`] keeps (cheap to clone: an `Arc` inside).
#[derive(Clone, Debug, Default)]
pub struct WebhookMetrics {
    attempts: Family<OutcomeLabels, Counter>,
    paced: Gauge,
}

impl WebhookMetrics {
    /// Counts one attempt with `outcome` (`delivered`, `failed` or `parked`).
    pub(crate) fn attempted(&self, outcome: &'static str) {
        self.attempts
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// `offboard_webhook_paced`, which [`super::pace::Pace`] sets.
    pub(crate) fn paced(&self) -> Gauge {
        self.paced.clone()
    }

    /// Whether deliveries are paced now (`offboard_webhook_paced` is 1).
    pub fn is_paced(&self) -> bool {
        self.paced.get() == 1
    }

    /// Registers `offboard_webhook_deliveries_total{outcome}` and `offboard_webhook_paced`
    /// in `registry` (whose prefix is `offboard`).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "webhook_deliveries",
            "Webhook delivery attempts, by outcome (delivered, failed, parked)",
            self.attempts.clone(),
        );
        registry.register(
            "webhook_paced",
            "1 while webhook deliveries are paced because commands keep the writer busy, else 0",
            self.paced.clone(),
        );
    }
}

/// Registers, with the values of now: `offboard_webhook_lag_events{org,subscription}`
/// (positions of the log after the subscription's cursor, `last` being the log's last
/// durable position) and `offboard_webhook_parked_events{org,subscription}`.
pub fn register_gauges(hub: &Hub, last: u64, registry: &mut Registry) {
    let lag = Family::<SubscriptionLabels, Gauge>::default();
    let parked = Family::<SubscriptionLabels, Gauge>::default();
    for detail in hub.details(last) {
        let labels = SubscriptionLabels {
            org: detail.subscription.org_id.to_string(),
            subscription: detail.subscription.id.to_string(),
        };
        lag.get_or_create(&labels)
            .set(i64::try_from(detail.lag).unwrap_or(i64::MAX));
        parked
            .get_or_create(&labels)
            .set(i64::try_from(detail.parked).unwrap_or(i64::MAX));
    }
    registry.register(
        "webhook_lag_events",
        "Positions of the log after a webhook subscription's cursor (every org's events count)",
        lag,
    );
    registry.register(
        "webhook_parked_events",
        "Events a webhook subscription parked after their last attempt, still listed",
        parked,
    );
}
