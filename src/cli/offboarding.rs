//! Offboarding and undoing it: `plan`, `transfer-all-buyers`, `transfer`,
//! `transfer-account`, `offboard` (guided or `--plan FILE`), `deactivate`, `reactivate`,
//! `delete`, `restore`, `revert`, `purge`, `purge-expired`.
//!
//! Each subcommand resolves its users (deleted ones too, for restore and purge), submits
//! ONE domain command, and reports what the events did.

use std::io::IsTerminal;

use offboard_events::{FollowUp, UserId};
use serde_json::{json, Value};

use super::args::{OffboardArgs, TransferAccount, TransferAllBuyers, TransferArgs};
use super::describe::{kind_word, members};
use super::error::CliError;
use super::guided::{self, Prompter, TerminalPrompter};
use super::names::Names;
use super::plan_file::PlanFile;
use super::{resolve, Ctx};
use crate::domain::{plural, Command};
use crate::read::PlanQuery;
use crate::server::{BlockerView, PlanView};

/// `plan USER [--template]` (R21): read-only.
pub fn plan(cx: &mut Ctx, user: &str, template: bool) -> Result<(), CliError> {
    let actor = cx.acting_user()?;
    let id = cx.user(user)?;
    let plan = plan_view(cx, id)?;
    if template {
        // The template is the document in both modes: it is meant to be saved and edited.
        let file = cx.names(|n| {
            let heir = guided::default_heir(n, &plan, actor);
            Ok(PlanFile::template(n, &plan, heir.as_deref()))
        })?;
        let text = serde_json::to_string_pretty(&file).map_err(std::io::Error::other)?;
        println!("{text}");
        return Ok(());
    }
    if cx.out.is_json() {
        cx.out.doc(&plan)?;
    } else {
        let lines = cx.names(|n| Ok(render_plan(n, &plan)))?;
        for l in lines {
            cx.out.line(l);
        }
    }
    Ok(())
}

/// What offboarding `user` involves now (R21).
pub fn plan_view(cx: &Ctx, user: UserId) -> Result<PlanView, CliError> {
    cx.ask(&PlanQuery {
        user: Some(user.into()),
    })
}

/// A plan in sentences: what the user holds and what blocks each follow-up.
pub fn render_plan(org: &dyn Names, plan: &PlanView) -> Vec<String> {
    let mut out = vec![format!(
        "Plan for {} ({}, {}, {}):",
        plan.email,
        plan.name,
        plan.role.as_str(),
        plan.status.as_str()
    )];
    let list = |v: Vec<String>| {
        if v.is_empty() {
            "none".to_owned()
        } else {
            v.join(", ")
        }
    };
    out.push(format!(
        "  resources:     {}",
        list(
            plan.resources
                .iter()
                .map(|(k, n)| format!("{n} {}", plural(k, *n)))
                .collect()
        )
    ));
    out.push(format!(
        "  roles:         {}",
        list(
            plan.roles
                .iter()
                .map(|(role, n)| format!(
                    "{} on {n} {}",
                    role.replace('_', " "),
                    plural("record", *n)
                ))
                .collect()
        )
    ));
    out.push(format!("  duties:        {}", list(plan.duties.clone())));
    out.push(format!(
        "  distributions: {}",
        if plan.distributions.is_empty() {
            "none".to_owned()
        } else {
            String::new()
        }
    ));
    for d in &plan.distributions {
        let role = match (d.member, d.backup) {
            (true, true) => "member and backup",
            (true, false) => "member",
            _ => "backup",
        };
        let next = match (&d.suggested, d.replacement_required) {
            (Some(s), _) => format!(" → suggested {}", members(org, s)),
            (None, true) => " → only member: a replacement is required".to_owned(),
            _ => String::new(),
        };
        out.push(format!(
            "    {} ({}, {role}): {}{next}",
            d.name,
            kind_word(d.kind),
            members(org, &d.members)
        ));
    }
    out.push(format!("  labels:        {}", list(plan.labels.clone())));
    out.push(format!(
        "  manages:       {}",
        list(plan.manages.iter().map(|u| org.email(*u)).collect())
    ));
    out.push(format!(
        "  credits:       {} unused, {} used",
        plan.credit_balance, plan.credits_used
    ));
    out.push(blockers_line("deactivate", &plan.blockers.deactivate));
    if !plan.unattended.is_empty() {
        let all: Vec<&str> = plan.unattended.iter().map(|b| b.message.as_str()).collect();
        out.push(format!(
            "  deactivate leaves work with nobody: {}",
            all.join("; ")
        ));
    }
    out.push(blockers_line("delete", &plan.blockers.delete));
    for s in &plan.schedules {
        let next = s.next_run.as_ref().map_or_else(String::new, |n| {
            format!(", {} run at {}", n.phase.as_str(), n.at.to_rfc3339())
        });
        let failure = s.failure.as_ref().map_or_else(String::new, |f| {
            let blockers: Vec<&str> = f.blockers.iter().map(|b| b.message.as_str()).collect();
            match blockers.is_empty() {
                true => format!(" — {}", f.message),
                false => format!(" — {}: {}", f.code, blockers.join("; ")),
            }
        });
        out.push(format!(
            "  scheduled:     {} {}{next}{failure}",
            s.id,
            s.status.replace('_', " ")
        ));
    }
    out
}

fn blockers_line(action: &str, blockers: &[BlockerView]) -> String {
    if blockers.is_empty() {
        format!("  {action}: nothing blocks it")
    } else {
        let all: Vec<&str> = blockers.iter().map(|b| b.message.as_str()).collect();
        format!("  {action}: blocked — {}", all.join("; "))
    }
}

/// `transfer-all-buyers FROM --to USER[,USER...]` (R15, seed 000).
pub fn transfer_all_buyers(cx: &mut Ctx, a: &TransferAllBuyers) -> Result<(), CliError> {
    let (from, to) = cx.names(|n| Ok((n.user(&a.from)?, resolve::users(n, &a.to)?)))?;
    cx.run(
        Command::TransferAll {
            from,
            kind: "buyer".to_owned(),
            to,
            strategy: a.strategy,
        },
        None,
    )?;
    Ok(())
}

/// `transfer FROM --kind KIND --to …`, `transfer FROM --resource KEY,… --to USER`, or
/// `transfer FROM --role ROLE [--kind KIND] --to …` (R29: FROM's place in a record role).
pub fn transfer(cx: &mut Ctx, a: &TransferArgs) -> Result<(), CliError> {
    let (from, to) = cx.names(|n| Ok((n.user(&a.from)?, resolve::users(n, &a.to)?)))?;
    let command = match (&a.role, &a.kind) {
        (Some(role), kind) => Command::TransferRecordRoles {
            from,
            role: role.clone(),
            kind: kind.clone(),
            to,
            strategy: a.strategy,
        },
        (None, Some(kind)) => Command::TransferAll {
            from,
            kind: kind.clone(),
            to,
            strategy: a.strategy,
        },
        (None, None) => {
            let [to] = to.as_slice() else {
                return Err(CliError::invalid(
                    "chosen resources go to exactly one recipient",
                ));
            };
            Command::TransferResources {
                from,
                resources: a
                    .resource
                    .iter()
                    .map(|r| resolve::resource(r))
                    .collect::<Result<_, _>>()?,
                to: *to,
            }
        }
    };
    cx.run(command, None)?;
    Ok(())
}

/// `transfer-account FROM --to USER [--then …] [--confirm PHRASE]` (R16, seed 001).
pub fn transfer_account(cx: &mut Ctx, a: &TransferAccount) -> Result<(), CliError> {
    let (from, to) = (cx.user(&a.from)?, cx.user(&a.to)?);
    cx.run(
        Command::TransferAccount {
            from,
            to,
            then: a.then,
            confirm: a.confirm.clone(),
        },
        None,
    )?;
    Ok(())
}

/// `offboard USER`: the whole plan as ONE atomic command (R22). The plan comes from
/// `--plan FILE`, or from the guided steps on a terminal; without either it is a usage
/// error. Leaving the guided steps early (Ctrl-C, end of input) writes nothing.
pub fn offboard(cx: &mut Ctx, a: &OffboardArgs) -> Result<(), CliError> {
    let user = cx.user(&a.user)?;
    let (file, follow_up, confirm) = match &a.plan {
        Some(path) => (
            PlanFile::read(path)?,
            a.then.unwrap_or(FollowUp::None),
            a.confirm.clone(),
        ),
        None => {
            let interactive = cx.prompter.is_some()
                || (std::io::stdin().is_terminal() && std::io::stdout().is_terminal());
            if !interactive {
                return Err(CliError::usage(
                    "offboard walks the steps on a terminal; without one, give the plan with --plan FILE (see `offboard plan USER --template`)",
                ));
            }
            let actor = cx.acting_user()?;
            let plan = plan_view(cx, user)?;
            let mut terminal = TerminalPrompter {
                to_stderr: cx.out.is_json(),
            };
            let prompter: &mut dyn Prompter = match cx.prompter.take() {
                Some(p) => p,
                None => &mut terminal,
            };
            let walked = cx.names(|n| {
                Ok(guided::walk(
                    prompter,
                    n,
                    &plan,
                    actor,
                    a.then,
                    a.confirm.clone(),
                ))
            })?;
            match walked {
                Some(w) => (w.file, w.then, w.confirm),
                None => {
                    return Err(CliError::new(
                        "aborted",
                        "offboarding cancelled before the end: nothing was written",
                        super::error::EXIT_REJECTED,
                    ))
                }
            }
        }
    };
    let plan = cx.names(|n| file.resolve(n))?;
    cx.run_with(
        Command::Offboard {
            user,
            plan,
            then: follow_up,
            confirm,
        },
        None,
        json!({ "plan": file, "then": follow_up }),
    )?;
    Ok(())
}

fn one_user(cx: &mut Ctx, user: &str, any: bool) -> Result<UserId, CliError> {
    if any {
        cx.any_user(user)
    } else {
        cx.user(user)
    }
}

/// `deactivate USER` (R8).
pub fn deactivate(cx: &mut Ctx, user: &str) -> Result<(), CliError> {
    let user = one_user(cx, user, false)?;
    cx.run(Command::DeactivateUser { user }, None)?;
    Ok(())
}

/// `reactivate USER` (R9).
pub fn reactivate(cx: &mut Ctx, user: &str) -> Result<(), CliError> {
    let user = one_user(cx, user, true)?;
    cx.run(Command::ReactivateUser { user }, None)?;
    Ok(())
}

/// `delete USER --confirm PHRASE` (R10): every blocker is listed when refused.
pub fn delete(cx: &mut Ctx, user: &str, confirm: &str) -> Result<(), CliError> {
    let user = one_user(cx, user, false)?;
    cx.run(
        Command::DeleteUser {
            user,
            confirm: confirm.to_owned(),
        },
        None,
    )?;
    Ok(())
}

/// `restore USER [--return-ownership] [--email NEW] [--reactivate]` (R12).
pub fn restore(
    cx: &mut Ctx,
    user: &str,
    return_ownership: bool,
    new_email: Option<&str>,
    reactivate: bool,
) -> Result<(), CliError> {
    let user = one_user(cx, user, true)?;
    let earlier = super::not_undone::operations(cx, user)?;
    let command = Command::RestoreUser {
        user,
        return_ownership,
        new_email: new_email.map(str::to_owned),
        reactivate,
    };
    cx.run_with(command, None, json!({ "not_undone": earlier }))?;
    for id in &earlier {
        cx.out.line(format!(
            "An earlier operation ({id}) moved things away from them and was not undone; \
             `offboard revert {id}` gives back what it can."
        ));
    }
    Ok(())
}

/// `revert CORRELATION_ID`: compensate an offboarding that did not delete.
pub fn revert(cx: &mut Ctx, correlation: &str) -> Result<(), CliError> {
    let correlation_id = cx.correlation(correlation)?;
    cx.run(Command::RevertOffboarding { correlation_id }, None)?;
    Ok(())
}

/// `purge USER --confirm PHRASE` (R13). Ends with what may still hold the destroyed
/// key, and for how long (`key_destruction`).
pub fn purge(cx: &mut Ctx, user: &str, confirm: &str) -> Result<(), CliError> {
    let user = one_user(cx, user, true)?;
    let command = Command::PurgeUser {
        user,
        confirm: confirm.to_owned(),
    };
    run_erasing(cx, command, None, json!({}))
}

/// Runs a purge and reports it, with the store's `key_destruction` when it erased
/// anyone: the server's answer in client mode, the engine's own embedded.
fn run_erasing(
    cx: &mut Ctx,
    command: Command,
    lead: Option<String>,
    mut extra: Value,
) -> Result<(), CliError> {
    let name = command.name();
    let done = cx.execute(command)?;
    let remnants = match (&done.appended.positions, cx.remote()) {
        (None, _) => Value::Null,
        (Some(_), Some(_)) => done.answer["key_destruction"].clone(),
        (Some(_), None) => json!(cx.engine()?.key_remnants()),
    };
    if !remnants.is_null() {
        extra["key_destruction"] = remnants.clone();
    }
    cx.report(&name, &done, lead, extra)?;
    if let Some(statement) = remnants["statement"].as_str() {
        cx.out.line(statement);
    }
    Ok(())
}

/// `purge-expired`: the retention sweep (R13). Embedded, it first names the deleted
/// users no purge can erase (plaintext profiles), which the sweep leaves deleted.
pub fn purge_expired(cx: &mut Ctx) -> Result<(), CliError> {
    let unerasable: Vec<Value> = match cx.remote() {
        Some(_) => Vec::new(),
        None => {
            let org = cx.org_id()?;
            let engine = cx.engine()?;
            let found = engine.unerasable_profiles(org)?;
            let state = engine.state();
            let directory = state.org(org).map(|o| o.directory());
            found
                .into_iter()
                .map(|(user, positions)| {
                    let email = directory
                        .and_then(|d| d.user(user))
                        .map(|u| u.profile.email.clone());
                    json!({ "user_id": user, "email": email, "positions": positions })
                })
                .collect()
        }
    };
    let lead = (!unerasable.is_empty()).then(|| {
        let names: Vec<String> = unerasable
            .iter()
            .map(|u| u["email"].as_str().unwrap_or_default().to_owned())
            .collect();
        format!(
            "Left deleted, whatever their window: {} (their profile is stored in plaintext, which no purge can erase: erasure_impossible).",
            names.join(", ")
        )
    });
    run_erasing(
        cx,
        Command::PurgeExpired,
        lead,
        json!({ "unerasable": unerasable }),
    )
}
