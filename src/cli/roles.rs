//! Record roles (R29): `role declare`, `resource role set|unset`, `resource roles
//! KIND:ID` (now or as of a time or position, with every change), `user roles USER`
//! and `owner KIND:ID --role ROLE`.

use serde_json::json;

use super::args::{RecordRoleCmd, RoleCmd};
use super::error::CliError;
use super::resolve;
use super::resources::as_of_position;
use super::Ctx;
use crate::domain::{plural, Command};
use crate::read::{RecordRolesQuery, RecordRolesView, UserRolesQuery};

/// `role declare ROLE --multi|--single`.
pub fn role(cx: &mut Ctx, c: &RoleCmd) -> Result<(), CliError> {
    match c {
        RoleCmd::Declare {
            role,
            multi,
            single,
        } => {
            if !multi && !single {
                return Err(CliError::invalid("say --multi or --single"));
            }
            let command = Command::DeclareRecordRole {
                role: role.clone(),
                multi: *multi,
            };
            cx.run(command, None)?;
            Ok(())
        }
    }
}

/// `resource role set KIND:ID ROLE USER` / `resource role unset KIND:ID ROLE [USER]`.
pub fn record_role(cx: &mut Ctx, c: &RecordRoleCmd) -> Result<(), CliError> {
    let keys = |resources: &str| -> Result<Vec<_>, CliError> {
        resources.split(',').map(resolve::resource).collect()
    };
    let command = match c {
        RecordRoleCmd::Set {
            resources,
            role,
            user,
        } => Command::SetRecordRole {
            role: role.clone(),
            user: cx.user(user)?,
            resources: keys(resources)?,
        },
        RecordRoleCmd::Unset {
            resources,
            role,
            user,
        } => Command::UnsetRecordRole {
            role: role.clone(),
            user: user.as_deref().map(|u| cx.user(u)).transpose()?,
            resources: keys(resources)?,
        },
    };
    cx.run(command, None)?;
    Ok(())
}

/// `resource roles KIND:ID [--role R] [--as-of T|POS]` and `owner KIND:ID --role R`:
/// the holders then, and every change.
pub fn record_roles(
    cx: &mut Ctx,
    resource: &str,
    role: Option<&str>,
    as_of: Option<&str>,
) -> Result<(), CliError> {
    let key = resolve::resource(resource)?;
    let position = as_of_position(cx, as_of)?;
    let view = cx.ask(&RecordRolesQuery {
        resource: Some(key),
        role: role.map(str::to_owned),
        position,
        ..RecordRolesQuery::default()
    })?;
    if cx.out.is_json() {
        cx.out.doc(&json!({
            "resource": view.resource,
            "as_of": position,
            "roles": view.roles,
            "history": view.history,
        }))?;
        return Ok(());
    }
    print_record_roles(cx, &view, position);
    Ok(())
}

fn print_record_roles(cx: &mut Ctx, view: &RecordRolesView, position: Option<u64>) {
    let when = position.map_or("now".to_owned(), |p| format!("as of position {p}"));
    if view.roles.is_empty() {
        cx.out
            .line(format!("{} has no role besides its owner.", view.resource));
    }
    for r in &view.roles {
        let who: Vec<&str> = r.holders.iter().map(|h| h.email.as_str()).collect();
        let name = r.role.replace('_', " ");
        cx.out.line(match who.as_slice() {
            [] => format!("{} has no {name} {when}.", view.resource),
            _ => format!("{}'s {name}: {} {when}.", view.resource, who.join(", ")),
        });
    }
    cx.out
        .line(format!("Every change ({}):", view.history.len()));
    let rows: Vec<Vec<String>> = view
        .history
        .iter()
        .map(|c| {
            vec![
                c.position.to_string(),
                c.occurred_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                c.role.clone(),
                format!("{} {}", if c.assigned { "+" } else { "-" }, c.email),
                c.correlation_id.to_string(),
            ]
        })
        .collect();
    cx.out
        .table(&["position", "time", "role", "holder", "operation"], &rows);
}

/// `user roles USER [--role R] [--kind K]`: every record where the user holds a role.
pub fn user_roles(
    cx: &mut Ctx,
    user: &str,
    role: Option<&str>,
    kind: Option<&str>,
) -> Result<(), CliError> {
    let id = cx.any_user(user)?;
    let view = cx.ask(&UserRolesQuery {
        user: Some(id.into()),
        role: role.map(str::to_owned),
        kind: kind.map(str::to_owned),
    })?;
    if cx.out.is_json() {
        cx.out.doc(&view)?;
        return Ok(());
    }
    let counts: Vec<String> = view
        .counts
        .iter()
        .map(|(r, n)| format!("{} on {n} {}", r.replace('_', " "), plural("record", *n)))
        .collect();
    cx.out.line(match counts.is_empty() {
        true => format!("{} holds no role on any record.", view.email),
        false => format!("{} is {}.", view.email, counts.join(", ")),
    });
    let rows: Vec<Vec<String>> = view
        .roles
        .iter()
        .map(|r| vec![r.role.clone(), r.resource.clone()])
        .collect();
    if !rows.is_empty() {
        cx.out.table(&["role", "record"], &rows);
    }
    Ok(())
}
