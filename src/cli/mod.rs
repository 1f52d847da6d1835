//! The `offboard` command line: everything an administrator, support agent or auditor
//! does from a terminal, and what scripts drive with `--json`.
//!
//! [`run`] opens the data directory once and hands the parsed subcommand to its group's
//! module (`setup`, `users`, `resources`, `routing`, `credits`, `offboarding`, `audit`,
//! `log_io`, `demo`). Every module works through a [`Ctx`]: the open engine, the global
//! flags, and the [`Output`] its answer goes to. Adding a subcommand is one variant in
//! `args.rs` and one arm in [`Session::dispatch`].

pub mod args;
mod audit;
mod bench;
mod credits;
mod demo;
mod describe;
pub mod error;
pub mod guided;
mod log_io;
mod offboarding;
pub mod output;
mod plan_file;
pub mod resolve;
mod resources;
mod routing;
mod serve;
mod setup;
mod tokens;
mod users;

use std::path::{Path, PathBuf};

use offboard_events::{Envelope, OrgId};
use offboard_projections::OrgState;
use serde_json::{json, Value};
use tokio::runtime::Runtime;

pub use args::{Cli, Cmd, Global};
pub use error::CliError;
pub use output::Output;

use crate::domain::Command;
use crate::engine::{Appended, CommandMeta, Engine};
use guided::Prompter;

/// Runs one parsed command line; its answer goes to stdout.
pub fn run(cli: Cli) -> Result<(), CliError> {
    let mut out = Output::print(cli.global.json);
    match &cli.command {
        Cmd::Demo => demo::run(&cli.global, &mut out),
        Cmd::Bench { scale } => bench::run(&cli.global, *scale, &mut out),
        Cmd::ImportLog { file } => log_io::import(&data_dir(&cli.global), file, &mut out),
        Cmd::Serve { addr } => serve::run(&data_dir(&cli.global), *addr, &mut out),
        command => {
            let session = Session::open(&data_dir(&cli.global))?;
            session.dispatch(&cli.global, command, &mut out, None)
        }
    }
}

/// The data directory: `--data`, `OFFBOARD_DATA`, or `./offboard-data`.
pub fn data_dir(global: &Global) -> PathBuf {
    global
        .data
        .clone()
        .unwrap_or_else(|| PathBuf::from(args::DEFAULT_DATA_DIR))
}

/// An open data directory and the runtime commands are awaited on.
#[derive(Debug)]
pub struct Session {
    engine: Engine,
    rt: Runtime,
    dir: PathBuf,
}

impl Session {
    /// Opens (or creates) the log in `dir`. A directory another process holds answers
    /// `data_dir_locked` (exit 3) after a few seconds, never a hang.
    pub fn open(dir: &Path) -> Result<Self, CliError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let engine = Engine::open(dir)?;
        Ok(Self {
            engine,
            rt,
            dir: dir.to_path_buf(),
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Runs one subcommand against this directory.
    pub fn dispatch<'a>(
        &'a self,
        global: &'a Global,
        command: &Cmd,
        out: &'a mut Output,
        prompter: Option<&'a mut (dyn Prompter + 'a)>,
    ) -> Result<(), CliError> {
        let mut cx = Ctx {
            session: self,
            global,
            out,
            prompter,
        };
        let cx = &mut cx;
        match command {
            Cmd::Init(a) => setup::init(cx, a),
            Cmd::Policy(a) => setup::policy(cx, a),
            Cmd::Principal(c) => setup::principal(cx, c),
            Cmd::Orgs => setup::orgs(cx),
            Cmd::TransferOrg { user } => setup::transfer_org(cx, user),
            Cmd::User(c) => users::user(cx, c),
            Cmd::Group(c) => users::group(cx, c),
            Cmd::Resource(c) => resources::resource(cx, c),
            Cmd::Owners(a) => resources::owners(cx, a),
            Cmd::Owner(a) => resources::owner(cx, a),
            Cmd::Duty(c) => routing::duty(cx, c),
            Cmd::Distribution(c) => routing::distribution(cx, c),
            Cmd::Label(c) => routing::label(cx, c),
            Cmd::Credits(c) => credits::credits(cx, c),
            Cmd::Plan { user, template } => offboarding::plan(cx, user, *template),
            Cmd::TransferAllBuyers(a) => offboarding::transfer_all_buyers(cx, a),
            Cmd::Transfer(a) => offboarding::transfer(cx, a),
            Cmd::TransferAccount(a) => offboarding::transfer_account(cx, a),
            Cmd::Offboard(a) => offboarding::offboard(cx, a),
            Cmd::Deactivate { user } => offboarding::deactivate(cx, user),
            Cmd::Reactivate { user } => offboarding::reactivate(cx, user),
            Cmd::Delete { user, confirm } => offboarding::delete(cx, user, confirm),
            Cmd::Restore {
                user,
                return_ownership,
                email,
                reactivate,
            } => offboarding::restore(cx, user, *return_ownership, email.as_deref(), *reactivate),
            Cmd::Revert { correlation } => offboarding::revert(cx, correlation),
            Cmd::Purge { user, confirm } => offboarding::purge(cx, user, confirm),
            Cmd::PurgeExpired => offboarding::purge_expired(cx),
            Cmd::History(a) => audit::history(cx, a),
            Cmd::Events(a) => audit::events(cx, a),
            Cmd::Verify => audit::verify(cx),
            Cmd::Rebuild => audit::rebuild(cx),
            Cmd::Export { file } => log_io::export(cx, file),
            Cmd::ImportLog { .. } => Err(CliError::usage(
                "import-log opens its own, empty data directory",
            )),
            Cmd::Demo => Err(CliError::usage("demo opens its own data directory")),
            Cmd::Bench { .. } => Err(CliError::usage("bench opens its own data directories")),
            Cmd::Serve { .. } => Err(CliError::usage("serve opens its own data directory")),
            Cmd::Token(c) => tokens::token(cx, c),
        }
    }
}

/// What a command works with.
pub struct Ctx<'a> {
    pub session: &'a Session,
    pub global: &'a Global,
    pub out: &'a mut Output,
    /// Answers for the guided offboarding when they do not come from a terminal.
    pub prompter: Option<&'a mut (dyn Prompter + 'a)>,
}

impl std::fmt::Debug for Ctx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("dir", &self.session.dir)
            .field("global", &self.global)
            .finish_non_exhaustive()
    }
}

impl Ctx<'_> {
    pub fn engine(&self) -> &Engine {
        &self.session.engine
    }

    pub fn dir(&self) -> &Path {
        &self.session.dir
    }

    /// Runs `f` on the selected org's current views (under the read lock: `f` must not
    /// call back into the engine).
    pub fn read<R>(&self, f: impl FnOnce(&OrgState) -> Result<R, CliError>) -> Result<R, CliError> {
        let state = self.engine().state();
        let id = resolve::org(&state, self.global.org.as_deref())?;
        let org = state
            .org(id)
            .ok_or_else(|| CliError::not_found(format!("organization {id}")))?;
        f(org)
    }

    pub fn org_id(&self) -> Result<OrgId, CliError> {
        self.read(|org| Ok(org.id()))
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

    /// Decides and appends `command` as the `--as` actor; durable when it returns `Ok`.
    pub fn submit(&self, command: Command) -> Result<Appended, CliError> {
        let meta = self.meta()?;
        self.submit_as(meta, command)
    }

    pub fn submit_as(&self, meta: CommandMeta, command: Command) -> Result<Appended, CliError> {
        self.session
            .rt
            .block_on(self.engine().execute(meta, command))
            .map_err(CliError::from)
    }

    /// The events a command appended.
    pub fn events_of(&self, appended: &Appended) -> Result<Vec<Envelope>, CliError> {
        match appended.positions {
            Some((first, last)) => Ok(self.engine().read_range(first, last)?),
            None => Ok(Vec::new()),
        }
    }

    /// Submits `command` and reports it: `lead` (if any) then a plain-words account of
    /// every event, or the JSON document of a command.
    pub fn run(&mut self, command: Command, lead: Option<String>) -> Result<Appended, CliError> {
        self.run_with(command, lead, json!({}))
    }

    /// [`Self::run`] with extra fields for the JSON document.
    pub fn run_with(
        &mut self,
        command: Command,
        lead: Option<String>,
        extra: Value,
    ) -> Result<Appended, CliError> {
        let name = command.name();
        let appended = self.submit(command)?;
        let events = self.events_of(&appended)?;
        let mut lines: Vec<String> = lead.into_iter().collect();
        lines.extend(self.read(|org| Ok(describe::events(org, &events)))?);
        if appended.duplicate {
            lines.push("This command was already carried out; nothing new was written.".into());
        }
        let message = lines.join("\n");
        if self.out.is_json() {
            let mut doc = json!({
                "ok": true,
                "command": name,
                "message": message,
                "command_id": appended.command_id,
                "correlation_id": appended.correlation_id,
                "positions": appended.positions.map(|(a, b)| [a, b]),
                "duplicate": appended.duplicate,
                "events": events,
            });
            if let (Some(doc), Value::Object(extra)) = (doc.as_object_mut(), extra) {
                doc.extend(extra);
            }
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
        Ok(appended)
    }
}
