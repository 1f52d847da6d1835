//! The command line as clap parses it: the global flags and every subcommand, with no
//! checks beyond what clap does. `resolve.rs` turns these raw strings into ids.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Where the data lives when neither `--data` nor `OFFBOARD_DATA` says.
pub const DEFAULT_DATA_DIR: &str = "./offboard-data";

#[derive(Debug, Parser)]
#[command(
    name = "offboard",
    version,
    about = "Event-sourced offboarding engine: transfer, deactivate and delete users without losing what they owned",
    after_help = "Exit codes: 0 ok, 1 rejected or invalid input, 2 usage, 3 storage or integrity (a damaged, shortened or rewritten log).\nWithout --as, commands act as the organization's owner."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Cmd,
}

/// Flags every subcommand accepts.
#[derive(Debug, Clone, Args)]
pub struct Global {
    /// The data directory (sled) [default: ./offboard-data; `demo`: a new temporary directory].
    #[arg(long, global = true, env = "OFFBOARD_DATA", value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// The organization, by name or id [default: the only one in the directory].
    /// `history --org` (no value) asks for the org's timeline.
    #[arg(long, global = true, value_name = "NAME", num_args = 0..=1, default_missing_value = "")]
    pub org: Option<String>,
    /// Who acts: a user's email or id, `support:NAME` or `auditor:NAME` [default: the org's owner].
    #[arg(
        long = "as",
        global = true,
        env = "OFFBOARD_ACTOR",
        value_name = "ACTOR"
    )]
    pub actor: Option<String>,
    /// Act on behalf of this deactivated user (R6: an admin moving their work).
    #[arg(long, global = true, value_name = "USER")]
    pub on_behalf_of: Option<String>,
    /// Print one JSON document on stdout (errors included) instead of tables and sentences.
    #[arg(long, global = true)]
    pub json: bool,
    /// Client mode: send every command to this `offboard serve` (e.g.
    /// http://127.0.0.1:8080) instead of opening a data directory.
    #[arg(long, global = true, env = "OFFBOARD_SERVER", value_name = "URL")]
    pub server: Option<String>,
    /// The API token in client mode: it decides the org and who acts.
    #[arg(
        long,
        global = true,
        env = "OFFBOARD_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Create an organization and its owner (`--org NAME` names it).
    Init(Init),
    /// Show the org's offboarding policy, or change the fields given.
    Policy(PolicyArgs),
    /// Outside principals: support agents and auditors (R5).
    #[command(subcommand)]
    Principal(PrincipalCmd),
    /// List the organizations in the data directory.
    Orgs,
    /// Hand the organization to another active user (R3); the owner becomes an admin.
    TransferOrg {
        /// The new owner.
        user: String,
    },

    /// Users of the directory.
    #[command(subcommand)]
    User(UserCmd),
    /// Groups (resources of kind `group`).
    #[command(subcommand)]
    Group(GroupCmd),

    /// Resources (`kind:id`, e.g. `buyer:B-1042`).
    #[command(subcommand)]
    Resource(ResourceCmd),
    /// Who owns what, now or as of a time or position.
    Owners(OwnersArgs),
    /// One resource's owner, now or as of a time or position, and every owner it had.
    Owner(OwnerArgs),

    /// Singleton duties (R17).
    #[command(subcommand)]
    Duty(DutyCmd),
    /// Lead rotations, workflow automations and integrations (R18).
    #[command(subcommand)]
    Distribution(DistributionCmd),
    /// Shared labels (R19).
    #[command(subcommand)]
    Label(LabelCmd),
    /// The credit pool and per-user balances (R20).
    #[command(subcommand)]
    Credits(CreditsCmd),

    /// What the user holds and what blocks deactivating or deleting them (read-only).
    Plan {
        user: String,
        /// Print an editable `--plan` file (JSON) with the suggestions filled in instead.
        #[arg(long)]
        template: bool,
    },
    /// Move every buyer of FROM to one or more colleagues (R15).
    TransferAllBuyers(TransferAllBuyers),
    /// Move every resource of one kind, or chosen resources, of FROM (R15).
    Transfer(TransferArgs),
    /// Move everything FROM holds to one user, then optionally deactivate or delete (R16).
    TransferAccount(TransferAccount),
    /// Offboard a user in one atomic step: guided on a terminal, or from `--plan FILE` (R22).
    Offboard(OffboardArgs),
    /// Stop a user from signing in; they keep everything (R8).
    Deactivate { user: String },
    /// Let a deactivated user sign in again (R9).
    Reactivate { user: String },
    /// Delete a user who holds nothing any more (R10).
    Delete {
        user: String,
        /// The org's confirmation phrase (default CONFIRM).
        #[arg(long, value_name = "PHRASE")]
        confirm: String,
    },

    /// Bring back a deleted user within the retention window (R12): owner or support.
    Restore {
        user: String,
        /// Give back everything the deleting offboarding moved away (what moved again
        /// since stays where it is and is reported as skipped).
        #[arg(long)]
        return_ownership: bool,
        /// A new email, when someone else took the old one meanwhile.
        #[arg(long, value_name = "NEW")]
        email: Option<String>,
        /// Come back active instead of deactivated.
        #[arg(long)]
        reactivate: bool,
    },
    /// Give back what one offboarding that did not delete moved away (by correlation id).
    Revert {
        #[arg(value_name = "CORRELATION_ID")]
        correlation: String,
    },
    /// Erase a deleted user's personal data for good (R13): owner, with the phrase.
    Purge {
        user: String,
        #[arg(long, value_name = "PHRASE")]
        confirm: String,
    },
    /// Purge every deleted user whose retention window has passed (R13).
    PurgeExpired,

    /// Audit history: of a user, a resource, one operation, or the org's timeline.
    History(HistoryArgs),
    /// Print events as JSON lines, in order.
    Events(EventsArgs),
    /// Measure throughput, bulk transfers, restore, rebuild, start-up, memory and
    /// time-travel latency on a temporary data directory (release build recommended).
    Bench {
        /// Shrink every size by this factor for a quick run (1 = the sizes).
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
        /// Run only these scenarios (repeatable; all of them when absent).
        #[arg(long, value_enum)]
        only: Vec<crate::bench::Scenario>,
    },
    /// Walk the hash chain and name the first bad position; optionally check a recorded
    /// head (`--expect-head`) or every line of an anchor file (`--anchor`).
    Verify(VerifyArgs),
    /// Print the chain head, `POS:HASH` (the last position and its event's hash), to keep
    /// outside the data directory and check later with `verify --expect-head`.
    Head,
    /// Show what a log that lost its tail has lost; with `--accept-loss`, go on from the
    /// shorter log, recording the loss as an event.
    Repair {
        /// Drop every durable record that claims the lost positions (the checkpoint is
        /// rebuilt, the head record reset, consumers moved back) and append a
        /// `LogLossAccepted` event per organization. Without it nothing is written.
        #[arg(long)]
        accept_loss: bool,
    },
    /// Rebuild every view from the log.
    Rebuild,
    /// Write the stored log as JSON lines (`-` for stdout).
    Export { file: PathBuf },
    /// Load an exported log into an empty data directory, keeping positions and hashes.
    ImportLog {
        file: PathBuf,
        /// Refuse the file (importing nothing) unless its event at POS has hash HASH, as
        /// `offboard head` printed it on the directory exported.
        #[arg(long, value_name = "POS:HASH")]
        expect_head: Option<String>,
    },
    /// Play one story per seed product on a fresh directory, narrating each step.
    Demo,

    /// Serve the HTTP API and the event stream on the data directory, which it owns
    /// until SIGINT or SIGTERM stops it gracefully.
    Serve {
        /// Where to listen (loopback by default; put a TLS proxy in front for more).
        #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
        addr: SocketAddr,
        /// Append the chain head (`TIME POS HASH`) to this file when the server starts,
        /// every `--anchor-every` seconds when it moved, and at shutdown; keep the file
        /// outside the data directory and check it with `verify --anchor FILE`.
        #[arg(long, value_name = "FILE")]
        anchor: Option<PathBuf>,
        /// Seconds between two anchor lines.
        #[arg(long, default_value_t = 60, value_name = "SECS", requires = "anchor", value_parser = clap::value_parser!(u64).range(1..))]
        anchor_every: u64,
        #[command(flatten)]
        webhooks: super::webhooks::DeliveryFlags,
    },
    /// Webhook subscriptions: signed, ordered, at-least-once delivery of the org's events.
    #[command(subcommand)]
    Webhook(super::webhooks::WebhookCmd),
    /// API tokens for the server: create (printed once), list, revoke.
    #[command(subcommand)]
    Token(TokenCmd),
}

#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// A token acting as `--as` (a user, `support:NAME` or `auditor:NAME`) in `--org`;
    /// printed once.
    Create,
    /// Every token (of `--org`, if given), revoked ones included; never the secrets.
    List,
    /// Revoke a token: requests with it answer 401 from now on.
    Revoke {
        #[arg(value_name = "TOKEN_ID")]
        id: String,
    },
}

#[derive(Debug, Args)]
pub struct Init {
    #[arg(long, value_name = "EMAIL")]
    pub owner_email: String,
    #[arg(long, value_name = "FIRST")]
    pub owner_first: String,
    #[arg(long, value_name = "LAST")]
    pub owner_last: String,
    #[arg(long, value_name = "TITLE")]
    pub owner_title: Option<String>,
}

#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// The phrase an administrator types to confirm a delete.
    #[arg(long, value_name = "PHRASE")]
    pub confirmation_phrase: Option<String>,
    /// Days a deleted user stays restorable.
    #[arg(long, value_name = "DAYS")]
    pub retention_days: Option<u32>,
    /// Admins and managers must be demoted before deactivation.
    #[arg(long, value_name = "BOOL")]
    pub deactivate_requires_demotion: Option<bool>,
    /// Users who ever used credits cannot be deleted.
    #[arg(long, value_name = "BOOL")]
    pub delete_requires_no_credit_history: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PrincipalKindArg {
    Support,
    Auditor,
}

#[derive(Debug, Subcommand)]
pub enum PrincipalCmd {
    /// Let a support agent or an auditor serve this org.
    Add {
        kind: PrincipalKindArg,
        name: String,
    },
    /// List the principals serving this org.
    List,
}

#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Add a user (active unless --inactive).
    Add(UserAdd),
    /// List the directory.
    List {
        /// Only users in this state (invited, active, deactivated, deleted, purged).
        #[arg(long, value_name = "STATUS")]
        status: Option<String>,
    },
    /// Everything about one user.
    Show { user: String },
    /// Promote or demote.
    Role { user: String, role: String },
    /// Set the user's manager (`none` clears it).
    Manager { user: String, manager: String },
    /// Activate an invited user.
    Activate { user: String },
}

#[derive(Debug, Args)]
pub struct UserAdd {
    #[arg(long)]
    pub email: String,
    #[arg(long)]
    pub first: String,
    #[arg(long)]
    pub last: String,
    #[arg(long)]
    pub title: Option<String>,
    /// owner, admin, manager or member.
    #[arg(long, default_value = "member")]
    pub role: String,
    #[arg(long, value_name = "USER")]
    pub manager: Option<String>,
    /// Leave the user invited instead of active.
    #[arg(long)]
    pub inactive: bool,
}

#[derive(Debug, Subcommand)]
pub enum GroupCmd {
    /// Create a group owned by a user.
    Add {
        name: String,
        #[arg(long, value_name = "USER")]
        owner: String,
    },
    /// Add a user to a group.
    Join { name: String, user: String },
    /// Remove a user from a group.
    Leave { name: String, user: String },
}

#[derive(Debug, Subcommand)]
pub enum ResourceCmd {
    /// Register resources with their first owner.
    Add {
        #[arg(required = true, value_name = "KIND:ID")]
        resources: Vec<String>,
        #[arg(long, value_name = "USER")]
        owner: String,
    },
    /// Register resources from JSON lines or CSV (`kind,id,owner`).
    Import { file: PathBuf },
}

#[derive(Debug, Args)]
pub struct OwnersArgs {
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,
    #[arg(long, value_name = "USER")]
    pub owner: Option<String>,
    /// A time (RFC 3339 or YYYY-MM-DD, end of that day UTC) or a log position.
    #[arg(long, value_name = "T|POS")]
    pub as_of: Option<String>,
}

#[derive(Debug, Args)]
pub struct OwnerArgs {
    #[arg(value_name = "KIND:ID")]
    pub resource: String,
    /// A time (RFC 3339 or YYYY-MM-DD, end of that day UTC) or a log position.
    #[arg(long, value_name = "T|POS")]
    pub as_of: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum DutyCmd {
    /// Give a duty (e.g. dealer_trade_contact) to a user.
    Assign { name: String, user: String },
    /// Every duty and its holder.
    List,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DistributionKindArg {
    Rotation,
    Automation,
    Integration,
}

#[derive(Debug, Subcommand)]
pub enum DistributionCmd {
    /// Create a distribution with weighted members.
    Add {
        name: String,
        #[arg(long)]
        kind: DistributionKindArg,
        /// USER=WEIGHT, repeated or comma-separated.
        #[arg(
            long = "member",
            required = true,
            value_name = "USER=WEIGHT",
            value_delimiter = ','
        )]
        members: Vec<String>,
        #[arg(long, value_name = "USER")]
        backup: Option<String>,
    },
    /// Replace the members and weights (the total must stay the same).
    Members {
        name: String,
        #[arg(
            long = "member",
            required = true,
            value_name = "USER=WEIGHT",
            value_delimiter = ','
        )]
        members: Vec<String>,
    },
    /// Set the backup (`none` clears it).
    Backup { name: String, user: String },
    /// Every distribution with its members.
    List,
}

#[derive(Debug, Subcommand)]
pub enum LabelCmd {
    /// Create a shared label.
    Add {
        name: String,
        #[arg(long = "member", value_name = "USER", value_delimiter = ',')]
        members: Vec<String>,
    },
    /// Every label with its members.
    List,
}

#[derive(Debug, Subcommand)]
pub enum CreditsCmd {
    /// The org bought credits: add them to the pool.
    Add { amount: u64 },
    /// Pool → user.
    Grant { user: String, amount: u64 },
    /// Record credits a user spent.
    Use { user: String, amount: u64 },
    /// Move credits between users and the pool (`pool` names the pool).
    Transfer {
        from: String,
        to: String,
        amount: u64,
    },
    /// The pool and every balance.
    Show,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StrategyArg {
    RoundRobin,
    Even,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ThenArg {
    None,
    Deactivate,
    Delete,
}

#[derive(Debug, Args)]
pub struct TransferAllBuyers {
    pub from: String,
    /// Recipients, comma-separated or repeated.
    #[arg(long, required = true, value_name = "USER", value_delimiter = ',')]
    pub to: Vec<String>,
    #[arg(long, value_enum, default_value = "round-robin")]
    pub strategy: StrategyArg,
}

#[derive(Debug, Args)]
pub struct TransferArgs {
    pub from: String,
    /// Move every resource of this kind.
    #[arg(
        long,
        value_name = "KIND",
        required_unless_present = "resource",
        conflicts_with = "resource"
    )]
    pub kind: Option<String>,
    /// Move these resources (one recipient).
    #[arg(long, value_name = "KIND:ID", value_delimiter = ',')]
    pub resource: Vec<String>,
    #[arg(long, required = true, value_name = "USER", value_delimiter = ',')]
    pub to: Vec<String>,
    #[arg(long, value_enum, default_value = "round-robin")]
    pub strategy: StrategyArg,
}

#[derive(Debug, Args)]
pub struct TransferAccount {
    pub from: String,
    #[arg(long, value_name = "USER")]
    pub to: String,
    #[arg(long, value_enum, default_value = "none")]
    pub then: ThenArg,
    #[arg(long, value_name = "PHRASE")]
    pub confirm: Option<String>,
}

#[derive(Debug, Args)]
pub struct OffboardArgs {
    pub user: String,
    /// A plan file (JSON, users by email or id); required without a terminal.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// What happens to the account after the moves [guided default: asked].
    #[arg(long, value_enum)]
    pub then: Option<ThenArg>,
    #[arg(long, value_name = "PHRASE")]
    pub confirm: Option<String>,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[arg(long, value_name = "USER", conflicts_with_all = ["resource", "correlation"])]
    pub user: Option<String>,
    #[arg(long, value_name = "KIND:ID", conflicts_with = "correlation")]
    pub resource: Option<String>,
    #[arg(long, value_name = "ID")]
    pub correlation: Option<String>,
    /// From this time (RFC 3339, or YYYY-MM-DD: the start of that day UTC).
    #[arg(long, value_name = "T")]
    pub since: Option<String>,
    /// Up to this time (RFC 3339, or YYYY-MM-DD: the end of that day UTC).
    #[arg(long, value_name = "T")]
    pub until: Option<String>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Also fail unless the log has an event at POS with hash HASH (what `offboard head`
    /// printed earlier).
    #[arg(long, value_name = "POS:HASH")]
    pub expect_head: Option<String>,
    /// Also check every line of an anchor file written by `serve --anchor`.
    #[arg(long, value_name = "FILE")]
    pub anchor: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EventFormat {
    Json,
    Cloudevents,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// First position to print.
    #[arg(long, default_value_t = 1, value_name = "POS")]
    pub from: u64,
    #[arg(long, value_enum, default_value = "json")]
    pub format: EventFormat,
    /// Keep printing new events as the server commits them, until interrupted
    /// (client mode: needs --server).
    #[arg(long)]
    pub follow: bool,
}
