//! Resources: `resource add` and `remove` (`resource import` is in `import.rs`,
//! `resource sync` in `sync.rs`), and the ownership
//! views `owners` and `owner` (now or as of a time or position, with every owner a
//! resource had).

use std::collections::BTreeMap;

use offboard_events::{Actor, ResourceKey};
use serde_json::json;

use super::args::{OwnerArgs, OwnersArgs, ResourceCmd};
use super::error::CliError;
use super::resolve::{self, AsOf};
use super::Ctx;
use crate::domain::{plural, Command};
use crate::read::{OwnerAtQuery, OwnerChangesQuery, OwnersQuery, PositionQuery};
use crate::server::{OwnerAt, OwnershipChangeView};

pub fn resource(cx: &mut Ctx, c: &ResourceCmd) -> Result<(), CliError> {
    match c {
        ResourceCmd::Add { resources, owner } => {
            let keys = resources
                .iter()
                .map(|r| resolve::resource(r))
                .collect::<Result<Vec<_>, _>>()?;
            let owner = cx.user(owner)?;
            cx.run(
                Command::RegisterResources {
                    owner,
                    resources: keys,
                },
                None,
            )?;
            Ok(())
        }
        ResourceCmd::Import { file } => super::import::import(cx, file),
        ResourceCmd::Role(c) => super::roles::record_role(cx, c),
        ResourceCmd::Roles {
            resource,
            role,
            as_of,
        } => super::roles::record_roles(cx, resource, role.as_deref(), as_of.as_deref()),
        ResourceCmd::Sync {
            file,
            kinds,
            dry_run,
        } => super::sync::sync(cx, file, kinds, *dry_run),
        ResourceCmd::Remove { resources } => {
            let resources = resources
                .iter()
                .map(|r| resolve::resource(r))
                .collect::<Result<Vec<_>, _>>()?;
            cx.run(Command::RetireResources { resources }, None)?;
            Ok(())
        }
    }
}

/// The position `--as-of` names in `org` (`None`: now).
pub fn as_of_position(cx: &Ctx, arg: Option<&str>) -> Result<Option<u64>, CliError> {
    let Some(arg) = arg else {
        return Ok(None);
    };
    let as_of = resolve::as_of(arg)?;
    let query = PositionQuery {
        at: match as_of {
            AsOf::Position(_) => None,
            AsOf::Time(t) => Some(t),
        },
    };
    let found = cx.ask(&query)?;
    Ok(Some(match as_of {
        AsOf::Position(p) => p.min(found.position),
        AsOf::Time(_) => found.position,
    }))
}

/// `owners [--kind K] [--owner USER] [--as-of T|POS] [--limit N] [--cursor C]`: printed
/// page by page as they are read, rows as a table, `--json` as one document written
/// item by item.
pub fn owners(cx: &mut Ctx, a: &OwnersArgs) -> Result<(), CliError> {
    let position = as_of_position(cx, a.as_of.as_deref())?;
    let owner = match &a.owner {
        Some(o) => Some(cx.any_user(o)?),
        None => None,
    };
    let query = OwnersQuery {
        kind: a.kind.clone(),
        owner: owner.map(Into::into),
        position,
        ..OwnersQuery::default()
    };
    let reader = cx.reader()?;
    let header = ["resource", "owner"];
    let mut widths = None;
    let mut per_owner: BTreeMap<String, u64> = BTreeMap::new();
    let mut count = 0u64;
    // Opened with the first page: a query refused at once prints only its error.
    let next = reader.walk(query, &a.page, |page| {
        if !cx.out.list_open() {
            cx.out.list_begin(json!({ "as_of": position }), "owners")?;
        }
        count += page.owners.len() as u64;
        if cx.out.is_json() {
            for o in &page.owners {
                cx.out.list_item(o)?;
            }
            return Ok(());
        }
        let mut rows = Vec::with_capacity(page.owners.len());
        for o in page.owners {
            *per_owner.entry(o.owner_email.clone()).or_default() += 1;
            rows.push(vec![o.resource, o.owner_email]);
        }
        cx.out.table_page(&mut widths, &header, &rows);
        Ok(())
    })?;
    cx.out.list_end(json!({ "next": next, "count": count }))?;
    if widths.is_none() {
        cx.out.table(&header, &[]);
    }
    let summary: Vec<String> = per_owner.iter().map(|(o, n)| format!("{o} {n}")).collect();
    cx.out.line(format!(
        "{count} {}{}{}",
        plural("resource", count),
        position
            .map(|p| format!(" as of position {p}"))
            .unwrap_or_default(),
        if summary.is_empty() {
            String::new()
        } else {
            format!(" — {}", summary.join(", "))
        }
    ));
    super::users::more(cx, next.as_deref());
    Ok(())
}

/// `owner KIND:ID [--as-of T|POS]`: the owner then, and every owner it ever had.
pub fn owner(cx: &mut Ctx, a: &OwnerArgs) -> Result<(), CliError> {
    let key = resolve::resource(&a.resource)?;
    let position = as_of_position(cx, a.as_of.as_deref())?;
    let reader = cx.reader()?;
    let history = OwnerChangesQuery {
        resource: Some(key.clone()),
        ..OwnerChangesQuery::default()
    };
    let history = reader.all(history, |p| p.changes)?;
    let now = reader.ask(&OwnerAtQuery {
        resource: Some(key.clone()),
        position,
        ..OwnerAtQuery::default()
    })?;
    print_owner(cx, &key, position, now, history)
}

fn print_owner(
    cx: &mut Ctx,
    key: &ResourceKey,
    position: Option<u64>,
    now: OwnerAt,
    history: Vec<OwnershipChangeView>,
) -> Result<(), CliError> {
    if cx.out.is_json() {
        cx.out.doc(&json!({
            "resource": key,
            "as_of": position,
            "owner": now.owner,
            "owner_email": now.owner_email,
            "history": history,
        }))?;
        return Ok(());
    }
    let when = position.map_or("now".to_owned(), |p| format!("as of position {p}"));
    let existed = history
        .first()
        .is_some_and(|c| c.position <= position.unwrap_or(u64::MAX));
    match &now.owner_email {
        Some(email) => cx.out.line(format!("{key} is owned by {email} {when}.")),
        None if existed => cx
            .out
            .line(format!("{key} is retired (owned by nobody) {when}.")),
        None => cx.out.line(format!("{key} did not exist yet {when}.")),
    }
    let actors: Vec<String> = cx.names(|n| {
        Ok(history
            .iter()
            .map(|c| match &c.actor {
                Actor::User { id } => n.email(*id),
                other => other.to_string(),
            })
            .collect())
    })?;
    cx.out
        .line(format!("Every owner it had ({}):", history.len()));
    let rows: Vec<Vec<String>> = history
        .iter()
        .zip(actors)
        .map(|(c, actor)| {
            vec![
                c.position.to_string(),
                c.occurred_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                c.owner_email.clone().unwrap_or_else(|| "(retired)".into()),
                c.previous_email.clone().unwrap_or_else(|| "-".into()),
                actor,
                c.correlation_id.to_string(),
            ]
        })
        .collect();
    cx.out.table(
        &[
            "position",
            "time (UTC)",
            "owner",
            "previous",
            "actor",
            "correlation id",
        ],
        &rows,
    );
    Ok(())
}
