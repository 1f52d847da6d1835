//! Turns what people type into what commands need, in one place: the org (by name or
//! id, or the only one), the actor (`--as`), users (by email or id), resource keys,
//! times and positions (`--as-of`, `--since`, `--until`), weighted members and credit
//! accounts. Every failure is an `invalid_input` or `not_found` [`CliError`].

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use offboard_events::{
    Actor, CorrelationId, CreditAccount, Member, OrgId, PrincipalKind, ResourceKey, UserId,
    UserStatus,
};
use offboard_projections::text::caseless_key;
use offboard_projections::{OrgState, State};

use super::error::CliError;
use super::names::Names;

/// The org `arg` names (by id, or by name compared NFC and case-folded), or the only org
/// when `arg` is absent or empty. An id is tried first: a name that reads as an id is
/// refused at creation, but an earlier build could have stored one, and it must not
/// take another org's place. Several orgs and no `--org` is a usage error listing them.
pub fn org(state: &State, arg: Option<&str>) -> Result<OrgId, CliError> {
    match arg.map(str::trim).filter(|a| !a.is_empty()) {
        Some(name) => {
            if let Ok(id) = name.parse::<OrgId>() {
                if state.org(id).is_some() {
                    return Ok(id);
                }
            }
            if let Some(org) = state.org_by_name(name) {
                return Ok(org.id());
            }
            Err(CliError::not_found(format!(
                "organization {name:?} not found{}",
                known(state)
            )))
        }
        None => {
            let mut orgs = state.orgs();
            match (orgs.next(), orgs.next()) {
                (Some(only), None) => Ok(only.id()),
                (None, _) => Err(CliError::not_found(
                    "this data directory has no organization yet: run `offboard init --org NAME --owner-email …` first",
                )),
                (Some(_), Some(_)) => Err(CliError::usage(format!(
                    "this data directory holds several organizations: choose one with --org{}",
                    known(state)
                ))),
            }
        }
    }
}

fn known(state: &State) -> String {
    let names: Vec<String> = state.orgs().map(|o| format!("{:?}", o.name())).collect();
    if names.is_empty() {
        String::new()
    } else {
        format!(" (known: {})", names.join(", "))
    }
}

/// Why a blank `--as` is refused (a variable meant to hold someone, left empty).
pub const BLANK_ACTOR: &str =
    "--as is blank: name a user, support:NAME or auditor:NAME, or leave it out to act as the org's owner";

/// `--as`: a user's email or id, `support:NAME` or `auditor:NAME`; absent means the
/// org's owner. Someone the org does not know — no such user, or a principal not
/// registered for it (R5) — is `not_found`, for reads as for writes.
pub fn actor(org: &OrgState, arg: Option<&str>) -> Result<Actor, CliError> {
    let Some(arg) = arg.map(str::trim) else {
        return Ok(Actor::User { id: org.owner() });
    };
    if arg.is_empty() {
        // A blank `--as` is a mistake (a variable that was meant to hold someone), never
        // a quiet way to act as the owner.
        return Err(CliError::invalid(BLANK_ACTOR));
    }
    let principal = |kind: PrincipalKind, name: &str| {
        if org.serves(kind, name) {
            Ok(name.to_owned())
        } else {
            Err(CliError::not_found(format!(
                "no principal {arg:?} serves {:?} (register it with `offboard principal add`)",
                org.name()
            )))
        }
    };
    if let Some(name) = arg.strip_prefix("support:") {
        return Ok(Actor::Support {
            name: principal(PrincipalKind::Support, name)?,
        });
    }
    if let Some(name) = arg.strip_prefix("auditor:") {
        return Ok(Actor::Auditor {
            name: principal(PrincipalKind::Auditor, name)?,
        });
    }
    if let Some(name) = arg.strip_prefix("provisioner:") {
        return Ok(Actor::Provisioner {
            name: principal(PrincipalKind::Provisioner, name)?,
        });
    }
    Ok(Actor::User {
        id: user(org, arg)?,
    })
}

/// A user of the directory by email (NFC, case-folded) or id. Emails name listed users
/// only; an id names any user ever invited (the domain then says what it allows).
pub fn user(org: &OrgState, arg: &str) -> Result<UserId, CliError> {
    let arg = arg.trim();
    if let Some(u) = org.directory().user_by_email(arg) {
        return Ok(u.id);
    }
    if let Ok(id) = arg.parse::<UserId>() {
        if org.directory().user(id).is_some() {
            return Ok(id);
        }
    }
    Err(CliError::not_found(format!(
        "no user {arg:?} in {:?}",
        org.name()
    )))
}

/// Like [`user`], but an email also finds a deleted user (the most recently deleted one
/// with that email), for commands about deleted users.
pub fn any_user(org: &OrgState, arg: &str) -> Result<UserId, CliError> {
    if let Ok(id) = user(org, arg) {
        return Ok(id);
    }
    let wanted = caseless_key(arg.trim());
    org.directory()
        .users()
        .filter(|u| u.status == UserStatus::Deleted && caseless_key(&u.profile.email) == wanted)
        .max_by_key(|u| u.deleted_at.map(|(p, _)| p))
        .map(|u| u.id)
        .ok_or_else(|| CliError::not_found(format!("no user {:?} in {:?}", arg.trim(), org.name())))
}

/// Several users, each by email or id.
pub fn users(names: &dyn Names, args: &[String]) -> Result<Vec<UserId>, CliError> {
    args.iter().map(|a| names.user(a)).collect()
}

/// A user's email for people (the id when the user is unknown).
pub fn email(org: &OrgState, id: UserId) -> String {
    org.directory()
        .user(id)
        .map_or_else(|| id.to_string(), |u| u.profile.email.clone())
}

/// A `kind:id` resource key.
pub fn resource(arg: &str) -> Result<ResourceKey, CliError> {
    crate::domain::resource_key(arg).map_err(CliError::invalid)
}

/// Hex digits a correlation id prefix must have at least.
pub const MIN_CORRELATION_PREFIX: usize = 8;

/// What `history --correlation` and `revert` were given: a whole correlation id, or the
/// lowercase hex digits (hyphens dropped) a unique one starts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorrelationArg {
    Id(CorrelationId),
    Prefix(String),
}

/// A correlation id (a UUID) or a prefix of at least [`MIN_CORRELATION_PREFIX`] hex
/// digits; `invalid_input` otherwise.
pub fn correlation(arg: &str) -> Result<CorrelationArg, CliError> {
    let arg = arg.trim();
    if let Ok(id) = arg.parse() {
        return Ok(CorrelationArg::Id(id));
    }
    let digits: String = arg.chars().filter(|c| *c != '-').collect();
    let hex = digits.chars().all(|c| c.is_ascii_hexdigit());
    if !hex || digits.len() < MIN_CORRELATION_PREFIX || digits.len() >= 32 {
        return Err(CliError::invalid(format!(
            "{arg:?} is not a correlation id: give the whole id (a UUID) or its first \
             {MIN_CORRELATION_PREFIX} or more hex digits"
        )));
    }
    Ok(CorrelationArg::Prefix(digits.to_ascii_lowercase()))
}

/// `USER=WEIGHT`.
pub fn member(names: &dyn Names, arg: &str) -> Result<Member, CliError> {
    let (who, weight) = arg.rsplit_once('=').ok_or_else(|| {
        CliError::invalid(format!(
            "{arg:?} must look like USER=WEIGHT, e.g. ann@example.com=2"
        ))
    })?;
    let weight = weight.trim().parse().map_err(|_| {
        CliError::invalid(format!(
            "weight {weight:?} must be a whole number from 1 to {}",
            offboard_projections::MAX_TOTAL_WEIGHT
        ))
    })?;
    Ok(Member {
        user: names.user(who)?,
        weight,
    })
}

/// `pool` or a user.
pub fn credit_account(names: &dyn Names, arg: &str) -> Result<CreditAccount, CliError> {
    if arg.trim().eq_ignore_ascii_case("pool") {
        Ok(CreditAccount::Pool)
    } else {
        Ok(CreditAccount::User {
            id: names.user(arg)?,
        })
    }
}

/// Which end of a day a bare date stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayEnd {
    Start,
    End,
}

/// A time: RFC 3339 (`2026-03-01T09:00:00Z`), or a date `YYYY-MM-DD` meaning the start or
/// the end of that day in UTC.
pub fn time(arg: &str, day: DayEnd) -> Result<DateTime<Utc>, CliError> {
    let arg = arg.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(arg) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(date) = NaiveDate::parse_from_str(arg, "%Y-%m-%d") {
        let clock = match day {
            DayEnd::Start => NaiveTime::MIN,
            DayEnd::End => {
                NaiveTime::from_hms_nano_opt(23, 59, 59, 999_999_999).expect("a valid time of day")
            }
        };
        return Ok(Utc.from_utc_datetime(&date.and_time(clock)));
    }
    Err(CliError::invalid(format!(
        "{arg:?} is not a time: use RFC 3339 (2026-03-01T09:00:00Z) or a date (2026-03-01)"
    )))
}

/// What `--as-of` names: a log position, or a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    Position(u64),
    Time(DateTime<Utc>),
}

/// `--as-of T|POS`: a plain integer is a position; anything else a time (a bare date
/// is the end of that day).
pub fn as_of(arg: &str) -> Result<AsOf, CliError> {
    match arg.trim().parse::<u64>() {
        Ok(p) => Ok(AsOf::Position(p)),
        Err(_) => time(arg, DayEnd::End).map(AsOf::Time),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_of_reads_positions_dates_and_times() {
        assert_eq!(as_of("42").unwrap(), AsOf::Position(42));
        assert_eq!(
            as_of("2026-03-01").unwrap(),
            AsOf::Time(
                Utc.with_ymd_and_hms(2026, 3, 1, 23, 59, 59).unwrap()
                    + chrono::Duration::nanoseconds(999_999_999)
            )
        );
        assert_eq!(
            as_of("2026-03-01T09:00:00+01:00").unwrap(),
            AsOf::Time(Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap())
        );
        assert_eq!(
            time("2026-03-01", DayEnd::Start).unwrap(),
            Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap()
        );
        let e = as_of("yesterday").unwrap_err();
        assert_eq!((e.code.as_str(), e.exit), ("invalid_input", 1));
    }

    /// An org created by `OrganizationCreated` alone (enough for resolving names).
    fn created(state: &mut State, id: OrgId, name: &str) {
        let position = state.position() + 1;
        let event: offboard_events::Event = offboard_events::OrganizationCreated {
            name: name.to_owned(),
            owner: UserId(uuid::Uuid::from_u128(u128::from(position))),
        }
        .into();
        let command = offboard_events::CommandId(uuid::Uuid::from_u128(u128::from(position)));
        state.apply(&offboard_events::Envelope {
            position,
            org_id: id,
            stream_id: event.stream(id),
            stream_version: 1,
            event_id: offboard_events::EventId(uuid::Uuid::from_u128(u128::from(position))),
            occurred_at: Utc::now(),
            actor: Actor::System,
            on_behalf_of: None,
            command_id: command,
            correlation_id: CorrelationId(command.0),
            causation_id: command.0,
            prev_hash: String::new(),
            hash: String::new(),
            event,
        });
    }

    #[test]
    fn an_id_names_its_org_even_where_another_org_is_named_like_it() {
        // Given Acme and, as earlier builds allowed (issue 15), an org named Acme's id.
        let mut state = State::default();
        let acme = OrgId(uuid::Uuid::from_u128(0xac));
        let impostor = OrgId(uuid::Uuid::from_u128(0xbad));
        created(&mut state, acme, "Acme");
        created(&mut state, impostor, &acme.to_string());
        // When --org names Acme's id, then it is Acme; names still resolve, any case.
        assert_eq!(org(&state, Some(&acme.to_string())).unwrap(), acme);
        assert_eq!(org(&state, Some(" ACME ")).unwrap(), acme);
        assert_eq!(org(&state, Some(&impostor.to_string())).unwrap(), impostor);
    }

    #[test]
    fn resource_keys_and_members_are_checked() {
        assert_eq!(resource("buyer:B-1").unwrap().kind(), "buyer");
        assert_eq!(resource("B-1").unwrap_err().code, "invalid_input");
    }
}
