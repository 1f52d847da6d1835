//! The closed set of domain events. Each variant wraps a payload struct of the same
//! past-tense name; the name is the explicit type tag (`event_type`) on the wire and the
//! `schema_version` says which shape of the payload was written.
//!
//! One macro lists every event once, with its current schema version and the stream it
//! belongs to, so adding an event cannot forget the tag, the version, the decoder or the
//! JSON Schema.

use schemars::JsonSchema;
use serde::Serialize;

use crate::credit::*;
use crate::deprovision::DeprovisionPending;
use crate::distribution::*;
use crate::duty::*;
use crate::ids::{OrgId, StreamId};
use crate::label::*;
use crate::offboarding::*;
use crate::org::*;
use crate::ownership::*;
use crate::record_role::*;
use crate::schedule::*;
use crate::upcast::{upcast, DecodeError};
use crate::user::*;

macro_rules! domain_events {
    ($( $variant:ident = version $version:literal, stream |$e:ident, $org:ident| $stream:expr; )*) => {
        /// Every event of the domain. Serializes as its payload alone; the envelope carries
        /// the type tag and schema version beside it.
        #[derive(Clone, Debug, PartialEq, Eq, Serialize)]
        #[serde(untagged)]
        pub enum Event {
            $( $variant($variant), )*
        }

        impl Event {
            /// The type tag, e.g. `"UserDeleted"`.
            pub fn event_type(&self) -> &'static str {
                match self { $( Event::$variant(_) => stringify!($variant), )* }
            }

            /// The schema version this code writes for the event's type.
            pub fn schema_version(&self) -> u32 {
                match self { $( Event::$variant(_) => $version, )* }
            }

            /// The version this code writes for `event_type`, or `None` if the type is unknown.
            pub fn current_version(event_type: &str) -> Option<u32> {
                match event_type { $( stringify!($variant) => Some($version), )* _ => None }
            }

            /// Every event type name, in declaration order.
            pub const TYPES: &'static [&'static str] = &[ $( stringify!($variant), )* ];

            /// The stream the event is appended to within `org`.
            pub fn stream(&self, org: OrgId) -> StreamId {
                #[allow(unused_variables)]
                match self { $( Event::$variant($e) => { let $org = org; $stream } )* }
            }

            /// Decodes a payload written at `version`, upcasting older shapes first.
            pub fn decode(event_type: &str, version: u32, data: &str) -> Result<Event, DecodeError> {
                let current = Self::current_version(event_type)
                    .ok_or_else(|| DecodeError::UnknownType(event_type.to_owned()))?;
                if version == current {
                    return Self::decode_current(event_type, data);
                }
                if version > current {
                    return Err(DecodeError::FromTheFuture { event_type: event_type.to_owned(), version, current });
                }
                let value: serde_json::Value = serde_json::from_str(data)
                    .map_err(|e| DecodeError::Payload { event_type: event_type.to_owned(), message: e.to_string() })?;
                let value = upcast(event_type, version, current, value)?;
                Self::decode_current(event_type, &value.to_string())
            }

            fn decode_current(event_type: &str, data: &str) -> Result<Event, DecodeError> {
                let payload = |e: serde_json::Error| DecodeError::Payload { event_type: event_type.to_owned(), message: e.to_string() };
                match event_type {
                    $( stringify!($variant) => serde_json::from_str(data).map(Event::$variant).map_err(payload), )*
                    other => Err(DecodeError::UnknownType(other.to_owned())),
                }
            }
        }

        $(
            impl From<$variant> for Event {
                fn from(e: $variant) -> Self { Event::$variant(e) }
            }
        )*

        /// The wire shape of `event_type` + `data`, for the JSON Schema only.
        #[derive(JsonSchema)]
        #[serde(tag = "event_type", content = "data")]
        #[schemars(transform = crate::schema::title_event_alternatives)]
        #[allow(dead_code)]
        pub(crate) enum EventWire {
            $( $variant($variant), )*
        }
    };
}

domain_events! {
    OrganizationCreated = version 1, stream |e, org| StreamId::org(org);
    PolicyChanged = version 1, stream |e, org| StreamId::org(org);
    OrgOwnershipTransferred = version 1, stream |e, org| StreamId::org(org);
    PrincipalRegistered = version 1, stream |e, org| StreamId::org(org);
    LogLossAccepted = version 1, stream |e, org| StreamId::org(org);

    UserInvited = version 2, stream |e, org| StreamId::user(e.user_id);
    UserActivated = version 1, stream |e, org| StreamId::user(e.user_id);
    UserRoleChanged = version 1, stream |e, org| StreamId::user(e.user_id);
    UserManagerChanged = version 1, stream |e, org| StreamId::user(e.user_id);
    UserJoinedGroup = version 1, stream |e, org| StreamId::user(e.user_id);
    UserLeftGroup = version 1, stream |e, org| StreamId::user(e.user_id);
    GroupChanged = version 1, stream |e, org| StreamId::user(e.owner);
    UserProfileChanged = version 1, stream |e, org| StreamId::user(e.user_id);
    UserDeactivated = version 1, stream |e, org| StreamId::user(e.user_id);
    WorkLeftUnattended = version 1, stream |e, org| StreamId::user(e.user_id);
    UserReactivated = version 1, stream |e, org| StreamId::user(e.user_id);
    UserDeleted = version 1, stream |e, org| StreamId::user(e.user_id);
    UserRestored = version 1, stream |e, org| StreamId::user(e.user_id);
    UserPurged = version 1, stream |e, org| StreamId::user(e.user_id);
    DeprovisionPending = version 1, stream |e, org| StreamId::user(e.user_id);

    ResourcesRegistered = version 1, stream |e, org| StreamId::user(e.owner);
    ResourcesTransferred = version 1, stream |e, org| StreamId::user(e.from);
    ResourcesRetired = version 1, stream |e, org| StreamId::user(e.owner);

    RecordRoleDeclared = version 1, stream |e, org| StreamId::org(org);
    RecordRoleAssigned = version 1, stream |e, org| StreamId::user(e.user);
    RecordRoleUnassigned = version 1, stream |e, org| StreamId::user(e.user);
    RecordRolesTransferred = version 1, stream |e, org| StreamId::user(e.from);

    DutyAssigned = version 1, stream |e, org| StreamId::duty(org, &e.duty);

    DistributionCreated = version 1, stream |e, org| StreamId::distribution(e.distribution_id);
    DistributionRebalanced = version 1, stream |e, org| StreamId::distribution(e.distribution_id);
    DistributionBackupChanged = version 1, stream |e, org| StreamId::distribution(e.distribution_id);

    LabelCreated = version 1, stream |e, org| StreamId::label(e.label_id);
    LabelMemberAdded = version 1, stream |e, org| StreamId::label(e.label_id);
    LabelMemberRemoved = version 1, stream |e, org| StreamId::label(e.label_id);

    CreditsAddedToPool = version 1, stream |e, org| StreamId::org(org);
    CreditsGranted = version 1, stream |e, org| StreamId::user(e.user);
    CreditsUsed = version 1, stream |e, org| StreamId::user(e.user);
    CreditsTransferred = version 1, stream |e, org| match e.from {
        CreditAccount::User { id } => StreamId::user(id),
        CreditAccount::Pool => StreamId::org(org),
    };

    OffboardingStarted = version 1, stream |e, org| StreamId::user(e.user);
    OffboardingCompleted = version 1, stream |e, org| StreamId::user(e.user);
    OffboardingReverted = version 1, stream |e, org| StreamId::user(e.user);

    OffboardingScheduled = version 1, stream |e, org| StreamId::schedule(e.schedule_id);
    ScheduleMoved = version 1, stream |e, org| StreamId::schedule(e.schedule_id);
    ScheduleCancelled = version 1, stream |e, org| StreamId::schedule(e.schedule_id);
    ScheduleStarted = version 1, stream |e, org| StreamId::schedule(e.schedule_id);
    ScheduleCompleted = version 1, stream |e, org| StreamId::schedule(e.schedule_id);
    ScheduleFailed = version 1, stream |e, org| StreamId::schedule(e.schedule_id);
}
