//! Identifiers of the domain: typed wrappers so a user id can never be passed where an
//! org id is expected. All serialize as their plain inner value (stable JSON).

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh, time-ordered id (UUID v7).
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

uuid_id!(
    /// An organization (tenant, R1).
    OrgId
);
uuid_id!(
    /// A user of one organization's directory (R2).
    UserId
);
uuid_id!(
    /// One event, unique across the whole log.
    EventId
);
uuid_id!(
    /// One command as submitted; resubmitting the same id is idempotent.
    CommandId
);
uuid_id!(
    /// Groups every event caused by one business operation (e.g. one offboarding).
    CorrelationId
);
uuid_id!(
    /// A distribution: a lead rotation, workflow automation or integration (R18).
    DistributionId
);
uuid_id!(
    /// A shared label (R19).
    LabelId
);
uuid_id!(
    /// A scheduled offboarding (R28); also the command id of its run, so it runs once.
    ScheduleId
);

/// The name of an event stream: the unit of optimistic concurrency. Streams are named
/// `<aggregate>-<id>`, e.g. `user-0190…`, `org-0190…`, `distribution-0190…`.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(transparent)]
pub struct StreamId(pub String);

impl StreamId {
    pub fn org(org: OrgId) -> Self {
        Self(format!("org-{org}"))
    }
    pub fn user(user: UserId) -> Self {
        Self(format!("user-{user}"))
    }
    pub fn distribution(id: DistributionId) -> Self {
        Self(format!("distribution-{id}"))
    }
    pub fn label(id: LabelId) -> Self {
        Self(format!("label-{id}"))
    }
    /// A singleton duty is named per org, so its stream carries the org id.
    pub fn duty(org: OrgId, duty: &str) -> Self {
        Self(format!("duty-{org}-{duty}"))
    }
    /// A scheduled offboarding (R28).
    pub fn schedule(id: ScheduleId) -> Self {
        Self(format!("schedule-{id}"))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for StreamId {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}
