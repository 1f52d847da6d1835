//! The `offboard` command line: everything an administrator, support agent or auditor
//! does from a terminal, and what scripts drive with `--json`.
//!
//! [`run`] opens the data directory once — or, with `--server`, connects to a server
//! ([`remote`], client mode) — and hands the parsed subcommand to its group's module
//! (`setup`, `users`, `resources`, `routing`, `credits`, `offboarding`, `audit`,
//! `log_io`, `tokens`, `serve`, `demo`). Every module works through a [`Ctx`]: the
//! [`Backend`] (the open engine or the server), the global flags, and the [`Output`] its
//! answer goes to. Users are named and described through [`names::Names`], and commands
//! are submitted as domain commands, so one piece of argument handling serves both
//! backends; reads fetch their data from the org's views or the API, then print it the
//! same way. Adding a subcommand is one variant in `args.rs` and one arm in [`dispatch`].

pub mod args;
mod audit;
mod backup;
mod bench;
mod console_link;
mod context;
mod credits;
mod demo;
pub(crate) mod describe;
mod describe_record;
pub mod error;
pub mod guided;
mod head;
mod import;
mod input;
mod kek;
mod log_io;
mod manual;
mod migrate;
pub mod names;
mod not_undone;
mod offboarding;
pub mod output;
mod plan_file;
pub mod reader;
pub mod remote;
mod repair;
pub mod resolve;
mod resources;
mod roles;
mod routing;
pub mod schedule;
mod serve;
mod setup;
mod sync;
mod tokens;
mod user_import;
mod users;
mod webhooks;

use std::path::{Path, PathBuf};

use tokio::runtime::Runtime;

pub use args::{Cli, Cmd, Global};
pub use context::{Backend, Ctx, Done};
pub use error::CliError;
pub use output::Output;

use crate::engine::{Engine, Options};
use crate::privacy::key_settings::KeySettings;
use crate::store::Location;
use guided::Prompter;

/// Runs one parsed command line; its answer goes to stdout.
pub fn run(cli: Cli) -> Result<(), CliError> {
    // `serve` logs every request through its own subscriber (`server::init_tracing`).
    if !matches!(cli.command, Cmd::Serve { .. }) {
        report_warnings();
    }
    let mut out = Output::print(cli.global.json);
    // Generated from the parser alone: no data directory, no server.
    match &cli.command {
        Cmd::Completions { shell } => return manual::completions(*shell),
        Cmd::Man { dir } => return manual::man(dir.as_deref()),
        Cmd::Kek(args::KekCmd::Create { path }) => return kek::create(path, &mut out),
        _ => {}
    }
    if let Some(url) = cli
        .global
        .server
        .as_deref()
        .filter(|u| !u.trim().is_empty())
    {
        return run_remote(url, &cli, &mut out);
    }
    match &cli.command {
        Cmd::Demo => {
            data_dir_only(&cli.global, "demo")?;
            demo::run(&cli.global, &mut out)
        }
        Cmd::Bench { scale, only } => bench::run(&cli.global, *scale, only, &mut out),
        Cmd::ImportLog { file, expect_head } => log_io::import(
            &data_dir_only(&cli.global, "import-log")?,
            file,
            expect_head.as_deref(),
            &mut out,
        ),
        Cmd::Serve {
            addr,
            anchor,
            anchor_every,
            cors_origins,
            advertise,
            webhooks,
        } => serve::run(
            &existing_location(&cli.global)?,
            &kek::key_settings(&cli.global),
            serve::Listen {
                addr: *addr,
                advertise: advertise.as_deref(),
            },
            anchor.as_deref().map(|file| serve::Anchor {
                file,
                every: std::time::Duration::from_secs(*anchor_every),
            }),
            cors_origins,
            webhooks.options()?,
            &mut out,
        ),
        Cmd::Repair {
            accept_loss,
            expect_head,
        } => {
            let keys = kek::key_settings(&cli.global);
            repair::run(
                &existing_location(&cli.global)?,
                &keys,
                *accept_loss,
                expect_head.as_deref(),
                &mut out,
            )
        }
        Cmd::Kek(args::KekCmd::Rotate { to }) => kek::rotate(
            &existing_location(&cli.global)?,
            &kek::key_settings(&cli.global),
            to,
            &mut out,
        ),
        Cmd::Backup { dir } => {
            let keys = kek::key_settings(&cli.global);
            backup::embedded(&existing_location(&cli.global)?, &keys, dir, &mut out)
        }
        Cmd::Migrate {
            from_data,
            from,
            to,
            to_data,
        } => migrate::run(
            &cli.global,
            migrate::Route {
                from_data: from_data.as_deref(),
                from: from.as_deref(),
                to: to.as_deref(),
                to_data: to_data.as_deref(),
            },
            &mut out,
        ),
        command => {
            let at = match command {
                Cmd::Init(_) => location(&cli.global)?,
                _ => existing_location(&cli.global)?,
            };
            let session = Session::open_keyed(&at, &kek::key_settings(&cli.global))?;
            session.dispatch(&cli.global, command, &mut out, None)
        }
    }
}

/// The engine and store report what they recover from or give up on (a discarded sled
/// snapshot, a checkpoint not saved, writes refused) through `tracing`: a command line
/// shows those lines on stderr as they are, without time or level (`RUST_LOG` filters;
/// default `warn`, without sled's own lines: [`crate::store::QUIET_SLED`]). A line that
/// cannot be written is dropped: `eprintln!` panics when stderr is a file on a full disk.
fn report_warnings() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("warn,{}", crate::store::QUIET_SLED))
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .without_time()
        .with_level(false)
        .with_target(false)
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .log_internal_errors(false)
        .try_init();
}

/// Client mode: the command goes to the server at `url`, as the token's principal.
fn run_remote(url: &str, cli: &Cli, out: &mut Output) -> Result<(), CliError> {
    if let Some(name) = embedded_only(&cli.command) {
        return Err(CliError::usage(format!(
            "`{name}` works on a data directory only, not through a server: leave out --server (and OFFBOARD_SERVER)"
        )));
    }
    // `token create --as` and `console-link --as` name a principal, not who acts.
    let names_a_principal = matches!(
        cli.command,
        Cmd::Token(args::TokenCmd::Create) | Cmd::ConsoleLink { .. }
    );
    if cli.global.actor.is_some() && !names_a_principal {
        return Err(CliError::usage(
            "in client mode the token decides who acts: leave out --as (and OFFBOARD_ACTOR), or use that principal's token",
        ));
    }
    let remote = remote::Remote::connect(url, cli.global.token.as_deref(), &cli.global)?;
    dispatch(
        Backend::Remote(&remote),
        &cli.global,
        &cli.command,
        out,
        None,
    )
}

/// Commands that work on a data directory only: creating orgs (the system actor), the
/// server itself, and whole-log tools.
fn embedded_only(command: &Cmd) -> Option<&'static str> {
    Some(match command {
        Cmd::Init(_) => "init",
        Cmd::Serve { .. } => "serve",
        Cmd::Demo => "demo",
        Cmd::Bench { .. } => "bench",
        Cmd::ImportLog { .. } => "import-log",
        Cmd::Export { .. } => "export",
        Cmd::Rebuild => "rebuild",
        Cmd::Head => "head",
        Cmd::Repair { .. } => "repair",
        Cmd::RunDue => "run-due",
        _ => return None,
    })
}

/// The data directory: `--data`, `OFFBOARD_DATA`, or `./offboard-data`.
pub fn data_dir(global: &Global) -> PathBuf {
    global
        .data
        .clone()
        .unwrap_or_else(|| PathBuf::from(args::DEFAULT_DATA_DIR))
}

/// The data directory of a command that needs one to exist already: every command but
/// `init`, `demo`, `import-log` and `bench`, so a mistyped `--data` never leaves an empty
/// directory behind. `not_found` (exit 1) naming the directory when it is missing.
pub fn existing_data_dir(global: &Global) -> Result<PathBuf, CliError> {
    let dir = data_dir(global);
    // Something that is not a directory is the engine's to refuse (`storage`).
    if dir.exists() {
        return Ok(dir);
    }
    Err(CliError::not_found(format!(
        "no data directory at {}: check --data (or OFFBOARD_DATA), or create one with `offboard init`",
        dir.display()
    )))
}

/// Where the log is: `--store URL` (a PostgreSQL database, with `--data` for the files
/// that stay local) or the data directory; a blank `--store` (an empty `OFFBOARD_STORE`)
/// is none. `store_url_invalid` (exit 3) for a `--store` that is not a PostgreSQL URL.
pub fn location(global: &Global) -> Result<Location, CliError> {
    Ok(Location::choose(store_url(global), data_dir(global))?)
}

/// `--store`, unless blank.
fn store_url(global: &Global) -> Option<&str> {
    global.store.as_deref().filter(|url| !url.trim().is_empty())
}

/// [`location`] for a command that needs the log to exist already: a data directory must
/// be there (see [`existing_data_dir`]); a database is checked by opening it.
pub fn existing_location(global: &Global) -> Result<Location, CliError> {
    match location(global)? {
        Location::Dir(_) => Ok(Location::Dir(existing_data_dir(global)?)),
        postgres => Ok(postgres),
    }
}

/// Refuses `--store` for a command that works on a data directory only.
fn data_dir_only(global: &Global, command: &str) -> Result<PathBuf, CliError> {
    if store_url(global).is_some() {
        return Err(CliError::usage(format!(
            "`{command}` works on a data directory only: leave out --store (and OFFBOARD_STORE)"
        )));
    }
    Ok(data_dir(global))
}

/// An open data directory and the runtime commands are awaited on.
#[derive(Debug)]
pub struct Session {
    engine: Engine,
    rt: Runtime,
    dir: PathBuf,
    location: Location,
}

impl Session {
    /// Opens (or creates) the log in `dir`. A directory another process holds answers
    /// `data_dir_locked` (exit 3) after a few seconds, never a hang.
    pub fn open(dir: &Path) -> Result<Self, CliError> {
        Self::open_at(&Location::Dir(dir.to_path_buf()))
    }

    /// Opens the log at `location` (see [`Engine::open_at`]); a database another process
    /// writes answers `store_in_use` (exit 3) after a few seconds.
    pub fn open_at(location: &Location) -> Result<Self, CliError> {
        Self::open_keyed(location, &KeySettings::default())
    }

    /// [`Session::open_at`] with a PostgreSQL store's key settings (`--kek-file`,
    /// `--backup-retention`).
    pub fn open_keyed(location: &Location, keys: &KeySettings) -> Result<Self, CliError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let engine = Engine::open_at_keyed(location, Options::default(), keys)?;
        Ok(Self {
            engine,
            rt,
            dir: location.local_dir().to_path_buf(),
            location: location.clone(),
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The runtime commands are awaited on.
    pub fn runtime(&self) -> &Runtime {
        &self.rt
    }

    /// The data directory, or a PostgreSQL store's local directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the log is.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// Runs one subcommand against this directory.
    pub fn dispatch<'a>(
        &'a self,
        global: &'a Global,
        command: &Cmd,
        out: &'a mut Output,
        prompter: Option<&'a mut (dyn Prompter + 'a)>,
    ) -> Result<(), CliError> {
        dispatch(Backend::Embedded(self), global, command, out, prompter)
    }
}

/// Runs one subcommand on `backend`.
pub fn dispatch<'a>(
    backend: Backend<'a>,
    global: &'a Global,
    command: &Cmd,
    out: &'a mut Output,
    prompter: Option<&'a mut (dyn Prompter + 'a)>,
) -> Result<(), CliError> {
    let mut cx = Ctx {
        backend,
        global,
        out,
        prompter,
    };
    let cx = &mut cx;
    // `init` acts as the system and `token create --as` names the new token's principal;
    // every other command acts as --as, so an unknown one stops reads as it stops writes.
    let names_a_principal = matches!(
        command,
        Cmd::Init(_) | Cmd::Token(args::TokenCmd::Create) | Cmd::ConsoleLink { .. }
    );
    if cx.remote().is_none() && !names_a_principal {
        cx.check_actor()?;
    }
    {
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
            Cmd::Owner(a) => match &a.role {
                Some(role) => roles::record_roles(cx, &a.resource, Some(role), a.as_of.as_deref()),
                None => resources::owner(cx, a),
            },
            Cmd::Role(c) => roles::role(cx, c),
            Cmd::Duty(c) => routing::duty(cx, c),
            Cmd::Distribution(c) => routing::distribution(cx, c),
            Cmd::Label(c) => routing::label(cx, c),
            Cmd::Credits(c) => credits::credits(cx, c),
            Cmd::Plan { user, template } => offboarding::plan(cx, user, *template),
            Cmd::TransferAllBuyers(a) => offboarding::transfer_all_buyers(cx, a),
            Cmd::Transfer(a) => offboarding::transfer(cx, a),
            Cmd::TransferAccount(a) => offboarding::transfer_account(cx, a),
            Cmd::Offboard(a) => offboarding::offboard(cx, a),
            Cmd::Schedule(a) => schedule::schedule(cx, a),
            Cmd::RunDue => schedule::run_due(cx),
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
            Cmd::Verify(a) => audit::verify(cx, a),
            Cmd::Head => head::head(cx),
            Cmd::Rebuild => audit::rebuild(cx),
            Cmd::Export { file } => log_io::export(cx, file),
            Cmd::ImportLog { .. } => Err(CliError::usage(
                "import-log opens its own, empty data directory",
            )),
            Cmd::Demo => Err(CliError::usage("demo opens its own data directory")),
            Cmd::Bench { .. } => Err(CliError::usage("bench opens its own data directories")),
            Cmd::Serve { .. } => Err(CliError::usage("serve opens its own data directory")),
            Cmd::Repair { .. } => Err(CliError::usage("repair opens its own data directory")),
            Cmd::Token(c) => tokens::token(cx, c),
            Cmd::ConsoleLink { ttl, url } => console_link::run(cx, ttl, url.as_deref()),
            Cmd::Backup { dir } => backup::remote(cx, dir),
            Cmd::Migrate { .. } => Err(CliError::usage(
                "migrate opens both stores itself: leave out --server",
            )),
            Cmd::Completions { shell } => manual::completions(*shell),
            Cmd::Man { dir } => manual::man(dir.as_deref()),
            Cmd::Kek(args::KekCmd::Create { path }) => kek::create(path, cx.out),
            Cmd::Kek(args::KekCmd::Rotate { .. }) => Err(CliError::usage(
                "kek rotate works on the store itself, with every node stopped: leave out --server",
            )),
            Cmd::Webhook(c) => webhooks::webhook(cx, c),
        }
    }
}
