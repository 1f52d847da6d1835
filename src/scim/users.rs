//! `/scim/v2/Users`: offboard's directory as SCIM Users. The email comes from `emails`
//! (the primary, else the work one, else the first) or from an email-shaped `userName`;
//! `userName` is kept beside it when it is not the email (RFC 7643 §4.1.1: the
//! provider's unique name for the person, not necessarily an email).
//! `name.givenName`/`familyName`, `title`, `externalId` and the enterprise
//! `department`, `employeeNumber` and `manager` are the profile and manager;
//! `active` is the lifecycle. A `PUT` and a `PATCH` (applied to the user's SCIM JSON)
//! both end in [`reconcile`], which sends the commands that make the directory say what
//! the provider sent, all under one correlation id; `active: false` and `DELETE` run the
//! org's deprovisioning policy (`Deprovision`), `active: false` always ending in a
//! deactivation (the provider may enable the user again), `DELETE` in the policy's
//! follow-up.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::{Duration, Utc};
use offboard_events::{CorrelationId, Profile, Reprovision, UserId, UserStatus};
use offboard_projections::text::caseless_key;
use offboard_projections::{OrgState, User};
use serde_json::{json, Map, Value};

use super::filter::member;
use super::schema::{ENTERPRISE, USER};
use super::{
    caller, check_version, created, json_body, meta, patched, replaced, resource, run, version_of,
};
use super::{text, ListQuery, ScimError, Shape, BASE};
use crate::domain::{Command, NewUser, ProfileChange};
use crate::server::{ApiError, AppState, Caller, Read};

type Who = Result<Caller, ApiError>;

/// A user as SCIM shows it, `meta` (version and times) included.
pub fn render(org: &OrgState, u: &User) -> Value {
    let p = &u.profile;
    let mut body = json!({
        "schemas": [USER],
        "id": u.id.to_string(),
        "userName": p.user_name(),
        "name": {"givenName": p.first_name, "familyName": p.last_name},
        "displayName": format!("{} {}", p.first_name, p.last_name),
        "emails": [{"value": p.email, "type": "work"}],
        "active": u.status == UserStatus::Active,
        "groups": u.groups.iter().map(|g| json!({
            "value": g.id(),
            "display": org.directory().group(g).map_or(g.id(), |g| g.name.as_str()),
            "$ref": format!("{BASE}/Groups/{}", g.id()),
        })).collect::<Vec<_>>(),
    });
    let object = body.as_object_mut().expect("an object");
    if let Some(t) = &p.job_title {
        object.insert("title".into(), t.clone().into());
    }
    if let Some(x) = &p.external_id {
        object.insert("externalId".into(), x.clone().into());
    }
    let mut enterprise = Map::new();
    if let Some(d) = &p.department {
        enterprise.insert("department".into(), d.clone().into());
    }
    if let Some(n) = &p.employee_number {
        enterprise.insert("employeeNumber".into(), n.clone().into());
    }
    if let Some(m) = u.manager {
        enterprise.insert(
            "manager".into(),
            json!({"value": m.to_string(), "$ref": format!("{BASE}/Users/{m}")}),
        );
    }
    // The extension (and its schema) only where it holds something: an empty one would
    // read as a value that is set.
    if !enterprise.is_empty() {
        object.insert(ENTERPRISE.into(), Value::Object(enterprise));
        object.insert("schemas".into(), json!([USER, ENTERPRISE]));
    }
    let version = version_of(&body);
    body["meta"] = json!({
        "resourceType": "User",
        "created": super::timestamp(u.created_at),
        "lastModified": super::timestamp(u.modified_at),
        "location": format!("{BASE}/Users/{}", u.id),
        "version": version,
    });
    body
}

/// What a SCIM User body asks the directory to hold.
#[derive(Debug, PartialEq)]
struct Desired {
    email: String,
    /// `userName` when it is not the email.
    user_name: Option<String>,
    first: String,
    last: String,
    title: Option<String>,
    external_id: Option<String>,
    department: Option<String>,
    employee_number: Option<String>,
    /// The manager as sent (`value`: a user's id or external id).
    manager: Option<String>,
    active: bool,
}

/// `active` as a boolean, or as Entra's `"True"`/`"False"` strings; absent is `true`.
fn active(v: Option<&Value>) -> Result<bool, ScimError> {
    match v {
        None | Some(Value::Null) => Ok(true),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
        Some(other) => Err(ScimError::invalid_value(format!(
            "active must be true or false, not {other}"
        ))),
    }
}

/// Reads a User body. `userName` is required; without `name`, the names come from
/// `displayName` (first word, the rest) and else from the email's local part, because
/// offboard requires both names and SCIM does not.
///
/// The email is [`chosen_email`], else an email-shaped `userName`; neither is `400
/// invalidValue`. A user whose user name is their email (`current`, when updating)
/// keeps it so when only the email changes: Entra updates `emails[type eq
/// "work"].value` alone, and means the user's sign-in name to follow.
fn desired(body: &Value, current: Option<&Profile>) -> Result<Desired, ScimError> {
    let user_name = text(member(body, "userName"))
        .ok_or_else(|| ScimError::invalid_value("userName is required"))?;
    let email = match chosen_email(body) {
        Some(email) => email,
        None if email_shaped(&user_name) => user_name.clone(),
        None => {
            return Err(ScimError::invalid_value(
                "offboard needs an email for every user: send emails, or an email as userName",
            ))
        }
    };
    let same = |a: &str, b: &str| caseless_key(a) == caseless_key(b);
    let follows = current.is_some_and(|p| p.user_name.is_none() && same(&user_name, &p.email));
    let user_name = (!follows && !same(&user_name, &email)).then_some(user_name);
    let name = member(body, "name");
    let display = text(member(body, "displayName")).unwrap_or_default();
    let (display_first, display_last) = display
        .split_once(' ')
        .map(|(f, l)| (f.to_owned(), l.trim().to_owned()))
        .unwrap_or((display.clone(), String::new()));
    let local = email.split('@').next().unwrap_or("").to_owned();
    let pick = |field: &str, fallback: &str, last: &str| {
        text(name.and_then(|n| member(n, field)))
            .or_else(|| Some(fallback.to_owned()).filter(|s| !s.is_empty()))
            .unwrap_or_else(|| last.to_owned())
    };
    let enterprise = member(body, ENTERPRISE);
    let manager = match enterprise.and_then(|e| member(e, "manager")) {
        Some(Value::String(s)) => text(Some(&Value::String(s.clone()))),
        Some(m @ Value::Object(_)) => text(member(m, "value")),
        _ => None,
    };
    Ok(Desired {
        first: pick("givenName", &display_first, &local),
        last: pick("familyName", &display_last, "-"),
        email,
        user_name,
        title: text(member(body, "title")),
        external_id: text(member(body, "externalId")),
        department: text(enterprise.and_then(|e| member(e, "department"))),
        employee_number: text(enterprise.and_then(|e| member(e, "employeeNumber"))),
        manager,
        active: active(member(body, "active"))?,
    })
}

/// The email `emails` names: the primary one, else the one of type `work`, else the
/// first.
fn chosen_email(body: &Value) -> Option<String> {
    let emails = member(body, "emails")?.as_array()?;
    let is = |e: &&Value, field: &str, want: &Value| member(e, field) == Some(want);
    emails
        .iter()
        .find(|e| is(e, "primary", &Value::Bool(true)))
        .or_else(|| emails.iter().find(|e| is(e, "type", &json!("work"))))
        .or_else(|| emails.first())
        .and_then(|e| text(member(e, "value")))
}

/// Whether a `userName` reads as an email (`local@domain.tld`); the domain's checks
/// decide whether it is a valid one.
fn email_shaped(name: &str) -> bool {
    name.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && domain.contains('.') && !domain.contains('@')
    })
}

/// The user a manager reference names: an id, else an external id.
fn manager_id(org: &OrgState, reference: &str) -> Result<UserId, ScimError> {
    let directory = org.directory();
    let by_id = reference
        .parse::<UserId>()
        .ok()
        .and_then(|id| directory.user(id))
        .filter(|u| u.is_listed());
    by_id
        .or_else(|| directory.user_by_external_id(reference))
        .map(|u| u.id)
        .ok_or_else(|| ScimError::invalid_value(format!("manager {reference:?} is not a user")))
}

/// The listed user `id` names, `404` otherwise (deleted users are gone for SCIM).
fn visible<'o>(org: &'o OrgState, id: &str) -> Result<&'o User, ScimError> {
    id.parse::<UserId>()
        .ok()
        .and_then(|id| org.directory().user(id))
        .filter(|u| u.is_listed())
        .ok_or_else(|| ScimError::not_found(format!("user {id}")))
}

/// The commands that make `user` what `want` says: its profile, manager and
/// (re)activation as ONE `ApplyUserChanges` (a refusal of any leaves the user as it
/// was), then a deprovisioning, its own command as the org's policy decides it.
fn commands(org: &OrgState, user: &User, want: &Desired) -> Result<Vec<Command>, ScimError> {
    let (mut changes, deprovision) = changes(org, user, want)?;
    let mut out = Vec::new();
    match changes.len() {
        0 => {}
        1 => out.append(&mut changes),
        _ => out.push(Command::ApplyUserChanges {
            changes: changes.iter().map(Command::to_wire).collect(),
        }),
    }
    out.extend(deprovision);
    Ok(out)
}

/// The changes that make `user` what `want` says (profile, manager, then activation),
/// and the deprovisioning `active: false` asks for, if any.
fn changes(
    org: &OrgState,
    user: &User,
    want: &Desired,
) -> Result<(Vec<Command>, Option<Command>), ScimError> {
    let p = &user.profile;
    let differs = |now: &Option<String>, wanted: &Option<String>| {
        (now != wanted).then(|| wanted.clone().unwrap_or_default())
    };
    let change = ProfileChange {
        email: (p.email != want.email).then(|| want.email.clone()),
        first_name: (p.first_name != want.first).then(|| want.first.clone()),
        last_name: (p.last_name != want.last).then(|| want.last.clone()),
        job_title: differs(&p.job_title, &want.title),
        external_id: differs(&p.external_id, &want.external_id),
        department: differs(&p.department, &want.department),
        employee_number: differs(&p.employee_number, &want.employee_number),
        user_name: differs(&p.user_name, &want.user_name),
    };
    let mut out = Vec::new();
    if change != ProfileChange::default() {
        out.push(Command::UpdateProfile {
            user: user.id,
            change,
        });
    }
    let manager = want
        .manager
        .as_deref()
        .map(|m| manager_id(org, m))
        .transpose()?;
    if manager != user.manager {
        out.push(Command::SetManager {
            user: user.id,
            manager,
        });
    }
    let mut deprovision = None;
    match (want.active, user.status) {
        (true, UserStatus::Invited) => out.push(Command::ActivateUser { user: user.id }),
        (true, UserStatus::Deactivated) => out.push(Command::ReactivateUser { user: user.id }),
        // Disabled, not deleted: the provider may enable the user again.
        (false, UserStatus::Active) => {
            deprovision = Some(Command::Deprovision {
                user: user.id,
                deactivate_only: true,
            })
        }
        _ => {}
    }
    Ok((out, deprovision))
}

/// The user's SCIM JSON now.
fn current(state: &AppState, who: &Caller, id: &str) -> Result<Value, ScimError> {
    let projections = state.engine().state();
    let org = who.may_read(&projections, Read::Directory)?;
    Ok(render(org, visible(org, id)?))
}

/// Makes user `id` what `body` says, then answers the user.
async fn reconcile(
    state: &AppState,
    who: &Caller,
    id: &str,
    body: &Value,
) -> Result<Response, ScimError> {
    let todo = {
        let projections = state.engine().state();
        let org = who.org(&projections)?;
        let user = visible(org, id)?;
        commands(org, user, &desired(body, Some(&user.profile))?)?
    };
    run(state, who, todo).await?;
    Ok(resource(StatusCode::OK, &current(state, who, id)?))
}

pub async fn list(
    State(state): State<AppState>,
    who: Who,
    Query(query): Query<ListQuery>,
) -> Result<Response, ScimError> {
    let who = caller(who)?;
    let all = {
        let projections = state.engine().state();
        let org = who.may_read(&projections, Read::Directory)?;
        org.directory()
            .listed()
            .map(|u| render(org, u))
            .collect::<Vec<_>>()
    };
    let body = query.answer(all)?;
    Ok(super::respond(StatusCode::OK, &body, None))
}

pub async fn read(
    State(state): State<AppState>,
    who: Who,
    Path(id): Path<String>,
    Query(shape): Query<Shape>,
) -> Result<Response, ScimError> {
    let who = caller(who)?;
    super::partial(current(&state, &who, &id)?, &shape)
}

/// `POST /Users`: invites the user (active unless `active` is false). An email a listed
/// user has is `409 uniqueness`; so is one a deleted user still has within the restore
/// window, unless policy `reprovision` is `restore`: then that user is restored (with
/// what they owned, active unless `active` is false) and answered `201` like a new one.
pub async fn create(
    State(state): State<AppState>,
    who: Who,
    body: Bytes,
) -> Result<Response, ScimError> {
    let who = caller(who)?;
    let want = desired(&json_body(&body)?, None)?;
    let command = {
        let projections = state.engine().state();
        let org = who.org(&projections)?;
        if let Provision::Restore(user) = provision_for(org, &want)? {
            Command::RestoreUser {
                user,
                return_ownership: true,
                new_email: None,
                reactivate: want.active,
            }
        } else {
            let manager = want
                .manager
                .as_deref()
                .map(|m| manager_id(org, m))
                .transpose()?;
            Command::InviteUser {
                user: NewUser {
                    email: want.email.clone(),
                    first_name: want.first.clone(),
                    last_name: want.last.clone(),
                    job_title: want.title.clone(),
                    external_id: want.external_id.clone(),
                    department: want.department.clone(),
                    employee_number: want.employee_number.clone(),
                    user_name: want.user_name.clone(),
                },
                role: offboard_events::Role::Member,
                manager,
                active: want.active,
            }
        }
    };
    run(&state, &who, vec![command]).await?;
    let body = {
        let projections = state.engine().state();
        let org = who.org(&projections)?;
        let user = org
            .directory()
            .user_by_email(&want.email)
            .ok_or_else(|| ScimError::not_found("the new user"))?;
        render(org, user)
    };
    Ok(created(&body))
}

/// What a `POST /Users` does with its email.
enum Provision {
    /// Nobody has it: a new user is invited.
    Invite,
    /// A user deleted within the restore window has it, and policy `reprovision` is
    /// `restore`: that person comes back.
    Restore(UserId),
}

/// `409 uniqueness` for an email, user name or external id in use, and for the email of
/// a user deleted within the restore window (re-provisioning must not create a second
/// person beside one that can still be restored) unless policy `reprovision` restores
/// them.
fn provision_for(org: &OrgState, want: &Desired) -> Result<Provision, ScimError> {
    let directory = org.directory();
    // Checked first: a deleted user keeps their email, which is exactly what is asked for.
    let window = Duration::days(i64::from(org.policy().retention_days));
    let key = caseless_key(want.email.trim());
    let deleted = directory.users().find(|u| {
        u.status == UserStatus::Deleted
            && caseless_key(&u.profile.email) == key
            && u.deleted_at
                .is_some_and(|(_, at)| Utc::now() <= at + window)
    });
    if let Some(u) = deleted {
        if org.policy().reprovision == Reprovision::Restore {
            return Ok(Provision::Restore(u.id));
        }
        return Err(ScimError::uniqueness(format!(
            "userName {} belongs to user {} deleted within the restore window: restore them \
             (offboard restore, or policy --reprovision restore) instead of provisioning a \
             new user",
            want.email, u.id
        )));
    }
    if directory.user_by_email(&want.email).is_some() {
        return Err(ScimError::uniqueness(format!(
            "the email {} is taken",
            want.email
        )));
    }
    let user_name = want.user_name.as_deref().unwrap_or(&want.email);
    if directory.user_by_user_name(user_name).is_some() {
        return Err(ScimError::uniqueness(format!(
            "userName {user_name} is taken"
        )));
    }
    if let Some(x) = &want.external_id {
        if directory.user_by_external_id(x).is_some() {
            return Err(ScimError::uniqueness(format!("externalId {x} is taken")));
        }
    }
    Ok(Provision::Invite)
}

pub async fn replace(
    State(state): State<AppState>,
    who: Who,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ScimError> {
    let who = caller(who)?;
    let body = replaced(&current(&state, &who, &id)?, &headers, &body)?;
    reconcile(&state, &who, &id, &body).await
}

pub async fn patch(
    State(state): State<AppState>,
    who: Who,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ScimError> {
    let who = caller(who)?;
    let patched = patched(current(&state, &who, &id)?, &headers, &body)?;
    reconcile(&state, &who, &id, &patched).await
}

/// `DELETE /Users/{id}`: the org's deprovisioning policy (its follow-up decides whether
/// the user is deactivated or deleted), `204`. A user whose access is already removed
/// and whom the policy leaves deactivated is `204` too.
pub async fn delete(
    State(state): State<AppState>,
    who: Who,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ScimError> {
    let who = caller(who)?;
    check_version(&headers, &current(&state, &who, &id)?)?;
    let user: UserId = id.parse().map_err(|_| ScimError::not_found(&id))?;
    let meta = meta(&who, CorrelationId::new());
    match state
        .engine()
        .execute(
            meta,
            Command::Deprovision {
                user,
                deactivate_only: false,
            },
        )
        .await
    {
        Ok(_) => {}
        // Access already removed, and the policy leaves the user deactivated.
        Err(e) => {
            let e = ApiError::from(e);
            if e.code() != "invalid_state" {
                return Err(e.into());
            }
        }
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_without_names_takes_them_from_display_name_or_the_email() {
        let want = desired(
            &json!({"userName": "pat@acme.example", "displayName": "Pat Kim"}),
            None,
        )
        .unwrap();
        assert_eq!((want.first.as_str(), want.last.as_str()), ("Pat", "Kim"));
        let want = desired(&json!({"userName": "pat@acme.example"}), None).unwrap();
        assert_eq!((want.first.as_str(), want.last.as_str()), ("pat", "-"));
        assert!(want.active, "active defaults to true");
    }

    #[test]
    fn the_email_is_the_primary_then_the_work_then_the_first_then_an_email_user_name() {
        let email = |emails: Value| {
            desired(&json!({"userName": "jdoe", "emails": emails}), None)
                .map(|d| (d.email, d.user_name))
        };
        let (home, work) = (
            json!({"value": "j@home.example", "type": "home"}),
            json!({"value": "j@work.example", "type": "work"}),
        );
        let primary = json!({"value": "j@main.example", "primary": true});
        let named = |e: &str| Ok((e.to_owned(), Some("jdoe".to_owned())));
        assert_eq!(email(json!([home, work, primary])), named("j@main.example"));
        assert_eq!(email(json!([home, work])), named("j@work.example"));
        assert_eq!(email(json!([home])), named("j@home.example"));
        let e = email(json!([])).unwrap_err();
        assert_eq!(e.scim_type, Some("invalidValue"));
        // An email-shaped userName stands in for a missing email, and is not kept twice
        let d = desired(&json!({"userName": "Pat@acme.example"}), None).unwrap();
        assert_eq!((d.email.as_str(), d.user_name), ("Pat@acme.example", None));
    }

    #[test]
    fn a_user_name_that_was_the_email_follows_a_new_email() {
        let now = Profile {
            email: "old@acme.example".into(),
            first_name: "P".into(),
            last_name: "K".into(),
            job_title: None,
            external_id: None,
            department: None,
            employee_number: None,
            user_name: None,
        };
        let body = json!({"userName": "old@acme.example",
                          "emails": [{"value": "new@acme.example", "type": "work"}]});
        let d = desired(&body, Some(&now)).unwrap();
        assert_eq!((d.email.as_str(), d.user_name), ("new@acme.example", None));
        // A user with a user name of their own keeps it
        let named = Profile {
            user_name: Some("pkim".into()),
            ..now
        };
        let body = json!({"userName": "pkim",
                          "emails": [{"value": "new@acme.example"}]});
        let d = desired(&body, Some(&named)).unwrap();
        assert_eq!(d.user_name.as_deref(), Some("pkim"));
    }

    #[test]
    fn entra_string_booleans_and_bad_values() {
        let off = desired(&json!({"userName": "a@b.example", "active": "False"}), None).unwrap();
        assert!(!off.active);
        let e = desired(&json!({"userName": "a@b.example", "active": 3}), None).unwrap_err();
        assert_eq!(e.scim_type, Some("invalidValue"));
        let e = desired(&json!({"active": true}), None).unwrap_err();
        assert_eq!(e.scim_type, Some("invalidValue"));
    }
}
