//! What a command works with ([`Ctx`]): where it runs ([`Backend`]: an open data
//! directory, or a server), the global flags and the [`Output`] its answer goes to; and
//! the steps every command shares, written once for both backends — naming users,
//! submitting a domain command, and reporting what its events did.

use offboard_events::{CorrelationId, Envelope, Event, OrgId, UserId};
use offboard_projections::OrgState;
use serde_json::{json, Value};

use super::args::Global;
use super::describe;
use super::error::CliError;
use super::guided::Prompter;
use super::names::Names;
use super::output::Output;
use super::remote::Remote;
use super::{resolve, Session};
use crate::domain::{plural, Command};
use crate::engine::{Appended, CommandMeta, Engine};
use crate::server::CommandResult;

/// The `--json` document of a write: `ok`, `command` (the type tag) and `message`, the
/// API's answer to the same command (`CommandResult`: `command_id`, `correlation_id`,
/// `positions` as `{first, last}` or `null`, `events` a count, `duplicate`), the
/// appended `envelopes` themselves, then `extra`'s fields.
pub fn written(
    command: &str,
    message: String,
    appended: &Appended,
    envelopes: &[Envelope],
    extra: Value,
) -> Result<Value, CliError> {
    let result = serde_json::to_value(CommandResult::from(appended));
    let envelopes = serde_json::to_value(envelopes);
    let mut doc = json!({ "ok": true, "command": command, "message": message });
    let parts = [
        result.map_err(std::io::Error::from)?,
        json!({ "envelopes": envelopes.map_err(std::io::Error::from)? }),
        extra,
    ];
    if let Some(doc) = doc.as_object_mut() {
        for part in parts {
            if let Value::Object(fields) = part {
                doc.extend(fields);
            }
        }
    }
    Ok(doc)
}

/// Where commands run.
#[derive(Clone, Copy, Debug)]
pub enum Backend<'a> {
    /// On a data directory this process opened.
    Embedded(&'a Session),
    /// Through a server's API (`--server`), as the token's principal.
    Remote(&'a Remote),
}

/// A command carried out: where its events landed, and the events.
#[derive(Debug)]
pub struct Done {
    pub appended: Appended,
    /// The appended events. In client mode, empty when the token may not read
    /// histories (members and managers).
    pub events: Vec<Envelope>,
    /// The server's answer in client mode (`Null` embedded).
    pub answer: Value,
}

impl Done {
    /// The id of the user an invitation added.
    pub fn invited(&self) -> Option<UserId> {
        self.events
            .iter()
            .find_map(|e| match &e.event {
                Event::UserInvited(i) => Some(i.user_id),
                _ => None,
            })
            .or_else(|| {
                self.answer
                    .get("user_id")
                    .and_then(|v| serde_json::from_value(v.clone()).ok())
            })
    }
}

/// What a command works with.
pub struct Ctx<'a> {
    pub backend: Backend<'a>,
    pub global: &'a Global,
    pub out: &'a mut Output,
    /// Answers for the guided offboarding when they do not come from a terminal.
    pub prompter: Option<&'a mut (dyn Prompter + 'a)>,
}

impl std::fmt::Debug for Ctx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("backend", &self.backend)
            .field("global", &self.global)
            .finish_non_exhaustive()
    }
}

impl Ctx<'_> {
    /// The open data directory (commands that only exist embedded).
    pub fn session(&self) -> Result<&Session, CliError> {
        match self.backend {
            Backend::Embedded(session) => Ok(session),
            Backend::Remote(_) => Err(CliError::usage(
                "this works on a data directory only, not through a server: leave out --server",
            )),
        }
    }

    /// The server, in client mode.
    pub fn remote(&self) -> Option<&Remote> {
        match self.backend {
            Backend::Embedded(_) => None,
            Backend::Remote(r) => Some(r),
        }
    }

    pub fn engine(&self) -> Result<&Engine, CliError> {
        Ok(self.session()?.engine())
    }

    /// Runs `f` on the selected org's current views (embedded, under the read lock: `f`
    /// must not call back into the engine).
    pub fn read<R>(&self, f: impl FnOnce(&OrgState) -> Result<R, CliError>) -> Result<R, CliError> {
        let state = self.engine()?.state();
        let id = resolve::org(&state, self.global.org.as_deref())?;
        let org = state
            .org(id)
            .ok_or_else(|| CliError::not_found(format!("organization {id}")))?;
        f(org)
    }

    /// Runs `f` with the selected org's names and ids: its views (embedded, under the
    /// read lock) or the server.
    pub fn names<R>(
        &self,
        f: impl FnOnce(&dyn Names) -> Result<R, CliError>,
    ) -> Result<R, CliError> {
        match self.backend {
            Backend::Embedded(_) => self.read(|org| f(org)),
            Backend::Remote(r) => f(r),
        }
    }

    /// A listed user by email, or any user by id.
    pub fn user(&self, arg: &str) -> Result<UserId, CliError> {
        self.names(|n| n.user(arg))
    }

    /// A user by email (deleted ones too) or id.
    pub fn any_user(&self, arg: &str) -> Result<UserId, CliError> {
        self.names(|n| n.any_user(arg))
    }

    /// `none` or a user.
    pub fn optional_user(&self, arg: &str) -> Result<Option<UserId>, CliError> {
        if arg.trim().eq_ignore_ascii_case("none") {
            Ok(None)
        } else {
            self.user(arg).map(Some)
        }
    }

    /// The operation a correlation id or a unique prefix of one names (embedded: among
    /// the selected org's operations). A prefix matching none is `not_found`, several
    /// `invalid_input` naming them; through a server only whole ids are known.
    pub fn correlation(&self, arg: &str) -> Result<CorrelationId, CliError> {
        let prefix = match resolve::correlation(arg)? {
            resolve::CorrelationArg::Id(id) => return Ok(id),
            resolve::CorrelationArg::Prefix(p) => p,
        };
        if self.remote().is_some() {
            return Err(CliError::invalid(format!(
                "{arg:?}: through a server, give the whole correlation id"
            )));
        }
        let found = self.read(|org| Ok(org.audit().correlations_with_prefix(&prefix)))?;
        match found.as_slice() {
            [one] => Ok(*one),
            [] => Err(CliError::not_found(format!(
                "no operation whose correlation id starts with {}",
                arg.trim()
            ))),
            many => {
                let shown: Vec<String> = many.iter().take(5).map(|c| c.to_string()).collect();
                Err(CliError::invalid(format!(
                    "{} starts {} correlation ids ({}{}): give more digits",
                    arg.trim(),
                    many.len(),
                    shown.join(", "),
                    if many.len() > 5 { ", …" } else { "" }
                )))
            }
        }
    }

    pub fn org_id(&self) -> Result<OrgId, CliError> {
        self.names(|n| Ok(n.org_id()))
    }

    /// Embedded: `--as` must name someone the selected org knows, for reads as for
    /// writes (`not_found` otherwise; [`resolve::actor`]). Where no single org is
    /// selected (`orgs` on a directory of several), someone any org knows.
    pub fn check_actor(&self) -> Result<(), CliError> {
        let Some(arg) = self.global.actor.as_deref() else {
            return Ok(());
        };
        if arg.trim().is_empty() {
            return Err(CliError::invalid(resolve::BLANK_ACTOR));
        }
        let state = self.engine()?.state();
        if let Ok(id) = resolve::org(&state, self.global.org.as_deref()) {
            let org = state
                .org(id)
                .ok_or_else(|| CliError::not_found(format!("organization {id}")))?;
            return resolve::actor(org, Some(arg)).map(drop);
        }
        // No org selected: the command answers why itself, once --as is known somewhere.
        let known = state
            .orgs()
            .any(|org| resolve::actor(org, Some(arg)).is_ok());
        match known {
            true => Ok(()),
            false if state.orgs().next().is_none() => Ok(()),
            false => Err(CliError::not_found(format!(
                "no user or principal {:?} in any organization of this directory",
                arg.trim()
            ))),
        }
    }

    /// The user who acts, if a user does: `--as` (default: the owner).
    pub fn acting_user(&self) -> Result<Option<UserId>, CliError> {
        match self.backend {
            Backend::Embedded(_) => Ok(self.meta()?.actor.user_id()),
            Backend::Remote(r) => Ok(r.whoami().principal.user_id()),
        }
    }

    /// The command metadata: the selected org, `--as` (default: the owner) and
    /// `--on-behalf-of`.
    pub fn meta(&self) -> Result<CommandMeta, CliError> {
        self.read(|org| {
            let mut meta =
                CommandMeta::new(org.id(), resolve::actor(org, self.global.actor.as_deref())?);
            if let Some(u) = &self.global.on_behalf_of {
                meta.on_behalf_of = Some(resolve::user(org, u)?);
            }
            Ok(meta)
        })
    }

    /// Decides and appends `command` as the acting principal, under a new command id;
    /// durable when it returns `Ok`.
    pub fn submit(&self, command: Command) -> Result<Appended, CliError> {
        Ok(self.submit_answered(command)?.0)
    }

    /// [`Self::submit`], with the server's answer in client mode.
    fn submit_answered(&self, command: Command) -> Result<(Appended, Value), CliError> {
        match self.backend {
            Backend::Embedded(_) => {
                let meta = self.meta()?;
                Ok((self.submit_as(meta, command)?, Value::Null))
            }
            Backend::Remote(r) => {
                let on_behalf_of = match &self.global.on_behalf_of {
                    Some(u) => Some(self.user(u)?),
                    None => None,
                };
                r.submit(&command, on_behalf_of)
            }
        }
    }

    /// Appends `command` with explicit metadata (embedded: `init` acts as the system).
    pub fn submit_as(&self, meta: CommandMeta, command: Command) -> Result<Appended, CliError> {
        let session = self.session()?;
        session
            .runtime()
            .block_on(session.engine().execute(meta, command))
            .map_err(CliError::from)
    }

    /// The events a command appended.
    pub fn events_of(&self, appended: &Appended) -> Result<Vec<Envelope>, CliError> {
        match (self.backend, appended.positions) {
            (_, None) => Ok(Vec::new()),
            (Backend::Embedded(s), Some((first, last))) => {
                Ok(s.engine().read_range(first, last)?)
            }
            (Backend::Remote(r), Some(_)) => Ok(r.events_of(appended)),
        }
    }

    /// Submits `command` and reads back its events.
    pub fn execute(&self, command: Command) -> Result<Done, CliError> {
        let (appended, answer) = self.submit_answered(command)?;
        let events = self.events_of(&appended)?;
        Ok(Done {
            appended,
            events,
            answer,
        })
    }

    /// A plain-words account of what `done` did: `lead` (if any), one sentence per event.
    pub fn describe(&self, done: &Done, lead: Option<String>) -> Result<Vec<String>, CliError> {
        let mut lines: Vec<String> = lead.into_iter().collect();
        lines.extend(self.names(|n| Ok(describe::events(n, &done.events)))?);
        if done.events.is_empty() && done.appended.count() > 0 {
            let n = done.appended.count();
            lines.push(format!("Wrote {n} {}.", plural("event", n)));
        }
        if done.appended.duplicate {
            lines.push("This command was already carried out; nothing new was written.".into());
        }
        Ok(lines)
    }

    /// Submits `command` and reports it: `lead` (if any) then a plain-words account of
    /// every event, or the JSON document of a command.
    pub fn run(&mut self, command: Command, lead: Option<String>) -> Result<Done, CliError> {
        self.run_with(command, lead, json!({}))
    }

    /// [`Self::run`] with extra fields for the JSON document.
    pub fn run_with(
        &mut self,
        command: Command,
        lead: Option<String>,
        extra: Value,
    ) -> Result<Done, CliError> {
        let name = command.name();
        let done = self.execute(command)?;
        self.report(&name, &done, lead, extra)?;
        Ok(done)
    }

    /// Prints what `done` did: sentences and where its events landed, or the command's
    /// JSON document (`command` the domain command's type tag, plus `extra`'s fields).
    pub fn report(
        &mut self,
        command: &str,
        done: &Done,
        lead: Option<String>,
        extra: Value,
    ) -> Result<(), CliError> {
        let lines = self.describe(done, lead)?;
        let appended = &done.appended;
        if self.out.is_json() {
            let doc = written(command, lines.join("\n"), appended, &done.events, extra)?;
            self.out.doc(&doc)?;
        } else {
            for line in &lines {
                self.out.line(line);
            }
            if let Some((first, last)) = appended.positions {
                let at = if first == last {
                    format!("position {first}")
                } else {
                    format!("positions {first}–{last}")
                };
                self.out.line(format!(
                    "  correlation id {} · {at}",
                    appended.correlation_id
                ));
            }
        }
        Ok(())
    }
}
