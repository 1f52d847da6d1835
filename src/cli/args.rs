//! The command line as clap parses it: the global flags and every subcommand, with no
//! checks beyond what clap does. `resolve.rs` turns these raw strings into ids.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use offboard_events::{DistributionKind, FollowUp, PrincipalKind};

use crate::domain::Strategy;

/// Where the data lives when neither `--data` nor `OFFBOARD_DATA` says.
pub const DEFAULT_DATA_DIR: &str = "./offboard-data";

#[derive(Debug, Parser)]
#[command(
    name = "offboard",
    version,
    about = "Event-sourced offboarding engine: transfer, deactivate and delete users without losing what they owned",
    after_help = "Examples:\n  offboard --org Acme init --owner-email dana@acme.example --owner-first Dana --owner-last Reyes\n  offboard user add --email pat@acme.example --first Pat --last Kim\n  offboard resource add buyer:B-1 buyer:B-2 --owner pat@acme.example\n  offboard plan pat@acme.example\n  offboard offboard pat@acme.example\n  offboard history --user pat@acme.example\n\nExit codes: 0 ok, 1 rejected or invalid input, 2 usage, 3 storage or integrity (a damaged, shortened or rewritten log).\nWithout --as, commands act as the organization's owner. Shell completions: `offboard completions bash`; the man page: `offboard man`."
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
    /// Keep the log in this PostgreSQL database (postgres://USER:PASSWORD@HOST:PORT/DB)
    /// instead of sled in --data; --data then holds only this node's default
    /// key-encryption key (offboard.kek), unless --kek-file names one.
    #[arg(
        long,
        global = true,
        env = "OFFBOARD_STORE",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub store: Option<String>,
    /// The organization, by name or id [default: the only one in the directory].
    /// `history --org` (no value) asks for the org's timeline.
    #[arg(long, global = true, value_name = "NAME", num_args = 0..=1, default_missing_value = "")]
    pub org: Option<String>,
    /// Who acts: a user's email or id, `support:NAME`, `auditor:NAME` or `provisioner:NAME` [default: the org's owner].
    #[arg(
        long = "as",
        global = true,
        env = "OFFBOARD_ACTOR",
        value_name = "ACTOR"
    )]
    pub actor: Option<String>,
    /// Act on behalf of this deactivated user (an admin moving their work).
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
    /// A store on PostgreSQL: the key-encryption key wrapping its personal-data keys, a
    /// file of 32 bytes (`offboard kek create PATH`) [default: OFFBOARD_KEK (base64), else
    /// DATA/offboard.kek, created for a new store].
    #[arg(long, global = true, env = "OFFBOARD_KEK_FILE", value_name = "PATH")]
    pub kek_file: Option<PathBuf>,
    /// How long the store's backups (and WAL archive) are kept, e.g. 30d: a purge's
    /// answer says a destroyed key may live on in them that long [default: unknown].
    #[arg(long, global = true, env = "OFFBOARD_BACKUP_RETENTION", value_name = "DURATION", value_parser = crate::privacy::remnants::BackupRetention::parse)]
    pub backup_retention: Option<crate::privacy::remnants::BackupRetention>,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Create an organization and its owner (`--org NAME` names it).
    #[command(
        after_help = "Example:\n  offboard --data ./acme --org Acme init --owner-email dana@acme.example --owner-first Dana --owner-last Reyes"
    )]
    Init(Init),
    /// Show the org's offboarding policy, or change the fields given.
    Policy(PolicyArgs),
    /// Outside principals: support agents and auditors.
    #[command(subcommand)]
    Principal(PrincipalCmd),
    /// List the organizations in the data directory.
    Orgs,
    /// Hand the organization to another active user; the owner becomes an admin.
    TransferOrg {
        /// The new owner: an active user's email or id.
        user: String,
    },

    /// Users of the directory.
    #[command(
        subcommand,
        after_help = "Examples:\n  offboard user add --email pat@acme.example --first Pat --last Kim --manager sam@acme.example\n  offboard user list --status deleted\n  offboard user show pat@acme.example"
    )]
    User(UserCmd),
    /// Groups (resources of kind `group`).
    #[command(subcommand)]
    Group(GroupCmd),

    /// Resources (`kind:id`, e.g. `buyer:B-1042`).
    #[command(
        subcommand,
        after_help = "Examples:\n  offboard resource add buyer:B-1042 lead:L-7 --owner pat@acme.example\n  offboard resource import resources.csv\n  printf 'kind,id,owner\\nbuyer,B-1,pat@acme.example\\n' | offboard resource import -\n  offboard resource remove buyer:B-1042\n  offboard resource sync crm-export.csv --kind buyer --dry-run"
    )]
    Resource(ResourceCmd),
    /// Record roles besides the owner: how many holders each may have.
    #[command(subcommand)]
    Role(RoleCmd),
    /// Who owns what, now or as of a time or position.
    #[command(
        after_help = "Examples:\n  offboard owners --owner pat@acme.example\n  offboard owners --kind buyer --as-of 2026-03-01          # at the end of that day (UTC)\n  offboard owners --kind buyer --as-of 120                 # just after log position 120"
    )]
    Owners(OwnersArgs),
    /// One resource's owner, now or as of a time or position, and every owner it had.
    Owner(OwnerArgs),

    /// Singleton duties: one holder each (e.g. dealer_trade_contact).
    #[command(subcommand)]
    Duty(DutyCmd),
    /// Lead rotations, workflow automations and integrations.
    #[command(subcommand)]
    Distribution(DistributionCmd),
    /// Shared labels.
    #[command(subcommand)]
    Label(LabelCmd),
    /// The credit pool and per-user balances.
    #[command(subcommand)]
    Credits(CreditsCmd),

    /// What the user holds and what blocks deactivating or deleting them (read-only).
    #[command(
        after_help = "Examples:\n  offboard plan pat@acme.example\n  offboard plan pat@acme.example --template > plan.json   # edit, then: offboard offboard pat@acme.example --plan plan.json"
    )]
    Plan {
        /// The user, by email or id.
        user: String,
        /// Print an editable `--plan` file (JSON) with the suggestions filled in instead.
        #[arg(long)]
        template: bool,
    },
    /// Move every buyer of FROM to one or more colleagues.
    #[command(
        after_help = "Example:\n  offboard --as sam@acme.example transfer-all-buyers pat@acme.example --to ann@acme.example,bob@acme.example --strategy even"
    )]
    TransferAllBuyers(TransferAllBuyers),
    /// Move every resource of one kind, or chosen resources, of FROM.
    Transfer(TransferArgs),
    /// Move everything FROM holds to one user, then optionally deactivate or delete.
    #[command(
        after_help = "Examples:\n  offboard transfer-account pat@acme.example --to sam@acme.example\n  offboard transfer-account pat@acme.example --to sam@acme.example --then delete --confirm CONFIRM"
    )]
    TransferAccount(TransferAccount),
    /// Offboard a user in one atomic step: guided on a terminal, or from `--plan FILE`.
    #[command(
        after_help = "Examples:\n  offboard offboard pat@acme.example                       # guided, on a terminal\n  offboard offboard pat@acme.example --plan plan.json --then deactivate\n  offboard plan pat@acme.example --template | offboard offboard pat@acme.example --plan -"
    )]
    Offboard(OffboardArgs),
    /// Schedule an offboarding for a time (the leaver's last day); list, show, move,
    /// cancel schedules.
    #[command(
        after_help = "Examples:\n  offboard schedule pat@acme.example --at 2026-12-31 --plan plan.json\n  offboard schedule pat@acme.example --at 2026-12-31T17:00:00+01:00 --delete-after 30 --confirm CONFIRM\n  offboard schedule list\n  offboard schedule move 0193a4f2 --at 2027-01-15\n  offboard schedule cancel 0193a4f2"
    )]
    Schedule(super::schedule::ScheduleArgs),
    /// Run every scheduled offboarding that is due (for cron; `serve` does it itself).
    RunDue,
    /// Stop a user from signing in; they keep everything.
    Deactivate {
        /// The user, by email or id.
        user: String,
    },
    /// Let a deactivated user sign in again.
    Reactivate {
        /// The user, by email or id.
        user: String,
    },
    /// Delete a user who holds nothing any more.
    #[command(
        after_help = "Example:\n  offboard delete pat@acme.example --confirm CONFIRM   # refused, listing every blocker, while they hold anything"
    )]
    Delete {
        /// The user, by email or id.
        user: String,
        /// The org's confirmation phrase (default CONFIRM).
        #[arg(long, value_name = "PHRASE")]
        confirm: String,
    },

    /// Bring back a deleted user within the retention window: owner or support.
    #[command(
        after_help = "Examples:\n  offboard restore pat@acme.example --return-ownership\n  offboard --as support:alex restore pat@acme.example --email pat.kim@acme.example --reactivate"
    )]
    Restore {
        /// The deleted user, by email or id.
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
        /// The offboarding's correlation id (or a unique prefix of 8+ hex digits), as
        /// `history` shows it.
        #[arg(value_name = "CORRELATION_ID")]
        correlation: String,
    },
    /// Erase a deleted user's personal data for good: owner, with the phrase.
    Purge {
        /// The deleted user, by email or id.
        user: String,
        /// The org's confirmation phrase (default CONFIRM).
        #[arg(long, value_name = "PHRASE")]
        confirm: String,
    },
    /// Purge every deleted user whose retention window has passed.
    PurgeExpired,

    /// Audit history: of a user, a resource, one operation, or the org's timeline.
    #[command(
        after_help = "Examples:\n  offboard history --user pat@acme.example --since 2026-01-01\n  offboard history --resource buyer:B-1\n  offboard history --correlation 0193a4f2        # a unique prefix of the id is enough\n  offboard history --org                          # the org's own timeline"
    )]
    History(HistoryArgs),
    /// Print events as JSON lines, in order.
    Events(EventsArgs),
    /// Measure throughput, bulk transfers, restore, rebuild, start-up, memory and
    /// time-travel latency on a temporary data directory (release build recommended).
    Bench {
        /// Shrink every size by this factor for a quick run (1 = the full sizes).
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
    ///
    /// A loss is known only from what the directory still holds: the head note, the
    /// projection checkpoint, the head record, consumers' and webhooks' positions. When
    /// none of them reaches past the log's end (the head note, the checkpoint and the head
    /// record all gone), `--accept-loss` cannot tell a whole log from a shortened one: it
    /// writes the head note again at the log's end and records no loss. Give it the head
    /// kept outside the directory with `--expect-head POS:HASH` (what `offboard head`
    /// printed, the last line of a `serve --anchor` file) and it goes on only if the log
    /// ends exactly there.
    Repair {
        /// Drop every durable record that claims the lost positions (the checkpoint is
        /// rebuilt, the head record reset, consumers moved back) and append a
        /// `LogLossAccepted` event per organization. Without it nothing is written.
        #[arg(long)]
        accept_loss: bool,
        /// Go on only if the log, as repair finds it, ends exactly at POS with hash HASH
        /// (as `offboard head` printed it); otherwise refuse (`integrity_broken`, exit 3),
        /// writing nothing, and say what the log holds instead.
        #[arg(long, value_name = "POS:HASH")]
        expect_head: Option<String>,
    },
    /// Rebuild every view from the log.
    Rebuild,
    /// Write the stored log as JSON lines.
    Export {
        /// Where to write (`-` for stdout).
        file: PathBuf,
    },
    /// Load an exported log into an empty data directory, keeping positions and hashes.
    ImportLog {
        /// The exported JSON lines (`-` for stdin).
        file: PathBuf,
        /// Refuse the file (importing nothing) unless its event at POS has hash HASH, as
        /// `offboard head` printed it on the directory exported.
        #[arg(long, value_name = "POS:HASH")]
        expect_head: Option<String>,
    },
    /// Write a consistent copy of the data directory into DIR (new or empty) while it
    /// keeps serving; with --server, the server writes it (DIR on its machine).
    Backup {
        /// Where the copy goes: a new or empty directory (absolute with --server: it is a
        /// path on the server's machine).
        dir: PathBuf,
    },
    /// Copy the whole log between stores and verify the copy: a data directory into an
    /// empty PostgreSQL database (`--from-data DIR --to URL`), or a PostgreSQL store into
    /// a new data directory (`--from URL --to-data DIR`).
    #[command(
        after_help = "Examples:\n  offboard migrate --from-data ./acme --to postgres://offboard@db.internal/acme --kek-file /etc/offboard/kek\n  offboard migrate --from postgres://offboard@db.internal/acme --to-data ./acme-copy"
    )]
    Migrate {
        /// The data directory to copy [default: --data].
        #[arg(long, value_name = "DIR", conflicts_with = "from")]
        from_data: Option<PathBuf>,
        /// The PostgreSQL store to copy (a postgres:// URL).
        #[arg(long, value_name = "URL", requires = "to_data")]
        from: Option<String>,
        /// An empty PostgreSQL database to copy into (a postgres:// URL; its keys are
        /// wrapped by --kek-file, else `--data`/offboard.kek, created).
        #[arg(
            long,
            value_name = "URL",
            conflicts_with = "to_data",
            required_unless_present = "to_data"
        )]
        to: Option<String>,
        /// A new or empty directory to copy into.
        #[arg(long, value_name = "DIR")]
        to_data: Option<PathBuf>,
    },
    /// Play one story per seed product on a fresh directory, narrating each step.
    Demo,

    /// Serve the HTTP API and the event stream on the data directory, which it owns
    /// until SIGINT or SIGTERM stops it gracefully.
    #[command(
        after_help = "Examples:\n  offboard --data ./acme serve --addr 127.0.0.1:8080\n  offboard --data ./acme serve --anchor ../acme-anchors --anchor-every 300"
    )]
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
        /// Let browser pages from ORIGIN (`https://host[:port]`, or `*` for any) call the
        /// API (CORS); repeat for several. Without it, no CORS headers are sent.
        #[arg(long = "cors-origin", value_name = "ORIGIN", value_parser = crate::server::conventions::parse_origin)]
        cors_origins: Vec<axum::http::HeaderValue>,
        /// With --store postgres://…: the URL other nodes forward commands to while this
        /// node leads (default: http:// and the address it listens on; this machine's
        /// host name instead of 0.0.0.0 or [::]).
        #[arg(long, value_name = "URL")]
        advertise: Option<String>,
        #[command(flatten)]
        webhooks: super::webhooks::DeliveryFlags,
    },
    /// Webhook subscriptions: signed, ordered, at-least-once delivery of the org's events.
    #[command(subcommand)]
    Webhook(super::webhooks::WebhookCmd),
    /// API tokens for the server: create (printed once), list, revoke.
    #[command(subcommand)]
    Token(TokenCmd),
    /// Print a one-time URL that signs `--as` (a user, `support:NAME` or `auditor:NAME`)
    /// in to the web console: it works once, until it expires.
    ConsoleLink {
        /// How long the link works: e.g. 90s, 10m, 2h (at most 24h).
        #[arg(long, default_value = "10m")]
        ttl: String,
        /// The console's address the link starts with (default: the --server URL in
        /// client mode, else http://127.0.0.1:8080, serve's default).
        #[arg(long, value_name = "BASE")]
        url: Option<String>,
    },

    /// Key-encryption keys for a store on PostgreSQL (personal-data keys are wrapped by one).
    #[command(subcommand)]
    Kek(KekCmd),

    /// Print a shell completion script on stdout.
    #[command(
        after_help = "Examples:\n  offboard completions bash > ~/.local/share/bash-completion/completions/offboard\n  offboard completions zsh > ~/.zfunc/_offboard\n  offboard completions fish > ~/.config/fish/completions/offboard.fish"
    )]
    Completions {
        /// The shell the script is for.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) on stdout, or write one page per command into a directory.
    #[command(
        after_help = "Examples:\n  offboard man | man -l -\n  offboard man --dir ~/.local/share/man/man1   # offboard.1, offboard-transfer-all-buyers.1, …"
    )]
    Man {
        /// Write offboard.1 and a page for every subcommand (offboard-transfer.1,
        /// offboard-user-add.1, …, the pages the main one refers to) into DIR, created
        /// if missing, instead of printing the main page.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum KekCmd {
    /// Write 32 random bytes to PATH (mode 0600; never over an existing file) and print
    /// the KEK's id.
    #[command(after_help = "Example:\n  offboard kek create /etc/offboard/offboard.kek")]
    Create {
        /// Where the key goes: keep it on the nodes, apart from the database's backups.
        #[arg(value_name = "PATH")]
        path: PathBuf,
    },
    /// Rewrap every key of the store on PostgreSQL (--store) from its current KEK
    /// (--kek-file, OFFBOARD_KEK_FILE, OFFBOARD_KEK, else ./offboard-data/offboard.kek) to
    /// the one at --to, in one transaction. Stop every node first; then give every node
    /// the new KEK. Backups taken before still need the old one.
    #[command(
        after_help = "Example:\n  offboard kek create /etc/offboard/next.kek\n  offboard --store postgres://offboard@db/offboard --kek-file /etc/offboard/offboard.kek kek rotate --to /etc/offboard/next.kek"
    )]
    Rotate {
        /// The new KEK (made by `offboard kek create`).
        #[arg(long, value_name = "PATH")]
        to: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// A token acting as `--as` (a user, `support:NAME`, `auditor:NAME` or `provisioner:NAME`) in `--org`;
    /// printed once.
    Create,
    /// Every token (of `--org`, if given), revoked ones included; never the secrets.
    List,
    /// Revoke a token: requests with it answer 401 from now on.
    Revoke {
        /// The token's id, as `token list` shows it.
        #[arg(value_name = "TOKEN_ID")]
        id: String,
    },
}

#[derive(Debug, Args)]
pub struct Init {
    /// The owner's email (their sign-in name from now on).
    #[arg(long, value_name = "EMAIL")]
    pub owner_email: String,
    /// The owner's first name.
    #[arg(long, value_name = "FIRST")]
    pub owner_first: String,
    /// The owner's last name.
    #[arg(long, value_name = "LAST")]
    pub owner_last: String,
    /// The owner's job title.
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
    /// What deprovisioning over SCIM does with what the user holds: deactivate (nothing
    /// moves), offboard_to_manager, or offboard_to:USER.
    #[arg(long, value_name = "POLICY")]
    pub deprovision: Option<String>,
    /// After a deprovisioning's handover: deactivate or delete.
    #[arg(long, value_name = "THEN")]
    pub deprovision_then: Option<String>,
    /// What a deactivation that leaves work with nobody does: warn (record it), block, off.
    #[arg(long, value_name = "POLICY")]
    pub deactivate_handover: Option<offboard_events::HandoverPolicy>,
    /// The IANA time zone a schedule's bare date is read in (e.g. Europe/Berlin).
    #[arg(long, value_name = "ZONE")]
    pub time_zone: Option<String>,
    /// A SCIM POST for the email of a user deleted within the restore window: refuse
    /// (409) or restore that user.
    #[arg(long, value_name = "POLICY")]
    pub reprovision: Option<offboard_events::Reprovision>,
}

#[derive(Debug, Subcommand)]
pub enum PrincipalCmd {
    /// Let a support agent or an auditor serve this org.
    Add {
        /// What the principal is.
        kind: PrincipalKind,
        /// The principal's name.
        name: String,
    },
    /// List the principals serving this org.
    List,
}

#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Add a user (active unless --inactive).
    Add(UserAdd),
    /// Invite the users an export names and update the ones that changed (profile,
    /// role, manager, active); every bad row is reported and nothing is written.
    Import {
        /// CSV with a header (email, first, last, title, role, manager, external_id,
        /// active; any case, `First Name` too) or JSON lines; `-` for stdin.
        file: PathBuf,
        /// Print what would change and write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// List the directory.
    List {
        /// Only users in this state (invited, active, deactivated, deleted, purged).
        #[arg(long, value_name = "STATUS")]
        status: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Every record where the user holds a role besides owner.
    Roles {
        /// The user, by email or id.
        user: String,
        /// Only this role.
        #[arg(long, value_name = "ROLE")]
        role: Option<String>,
        /// Only records of this kind.
        #[arg(long, value_name = "KIND")]
        kind: Option<String>,
    },
    /// Everything about one user.
    Show {
        /// The user, by email or id (deleted users too).
        user: String,
    },
    /// Promote or demote.
    Role {
        /// The user, by email or id.
        user: String,
        /// owner, admin, manager or member.
        role: String,
    },
    /// Set the user's manager (`none` clears it).
    Manager {
        /// The user, by email or id.
        user: String,
        /// The manager, by email or id, or `none`.
        manager: String,
    },
    /// Activate an invited user.
    Activate {
        /// The invited user, by email or id.
        user: String,
    },
    /// Change a user's email, names, job title or external id (the fields given).
    #[command(
        after_help = "Examples:\n  offboard user update pat@acme.example --email pat.kim@acme.example\n  offboard user update pat@acme.example --external-id 00u1a2b3c4 --title ''   # a blank title clears it"
    )]
    Update(UserUpdate),
}

#[derive(Debug, Args)]
pub struct UserUpdate {
    /// The user, by email or id.
    pub user: String,
    /// The new email, unique in the org.
    #[arg(long, value_name = "EMAIL")]
    pub email: Option<String>,
    /// The new first name.
    #[arg(long, value_name = "FIRST")]
    pub first: Option<String>,
    /// The new last name.
    #[arg(long, value_name = "LAST")]
    pub last: Option<String>,
    /// The new job title ('' clears it).
    #[arg(long, value_name = "TITLE")]
    pub title: Option<String>,
    /// The identity provider's id for the user, unique in the org ('' clears it).
    #[arg(long, value_name = "ID")]
    pub external_id: Option<String>,
    /// The identity provider's user name (SCIM userName) when it is not the email,
    /// unique in the org ('' clears it: the user name is the email again).
    #[arg(long, value_name = "NAME")]
    pub user_name: Option<String>,
}

#[derive(Debug, Args)]
pub struct UserAdd {
    /// The user's email, unique in the org (their sign-in name).
    #[arg(long, value_name = "EMAIL")]
    pub email: String,
    /// First name.
    #[arg(long, value_name = "FIRST")]
    pub first: String,
    /// Last name.
    #[arg(long, value_name = "LAST")]
    pub last: String,
    /// Job title.
    #[arg(long, value_name = "TITLE")]
    pub title: Option<String>,
    /// The identity provider's id for the user (SCIM externalId), unique in the org.
    #[arg(long, value_name = "ID")]
    pub external_id: Option<String>,
    /// The identity provider's user name (SCIM userName) when it is not the email,
    /// unique in the org.
    #[arg(long, value_name = "NAME")]
    pub user_name: Option<String>,
    /// owner, admin, manager or member.
    #[arg(long, default_value = "member")]
    pub role: String,
    /// Their manager, by email or id.
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
        /// The group's name (its resource id: `group:NAME`).
        name: String,
        /// Its owner, by email or id.
        #[arg(long, value_name = "USER")]
        owner: String,
    },
    /// Add a user to a group.
    Join {
        /// The group's name.
        name: String,
        /// The user, by email or id.
        user: String,
    },
    /// Remove a user from a group.
    Leave {
        /// The group's name.
        name: String,
        /// The user, by email or id.
        user: String,
    },
    /// Show a group under another name (any text; its key `group:NAME` stays) or set
    /// the identity provider's id for it.
    #[command(
        after_help = "Examples:\n  offboard group update east --name 'East region'\n  offboard group update east --external-id 8aa1a0c0   # '' clears it"
    )]
    Update {
        /// The group's name (its key).
        name: String,
        /// The name to show.
        #[arg(long = "name", value_name = "TEXT")]
        display: Option<String>,
        /// The identity provider's id for the group, unique in the org ('' clears it).
        #[arg(long, value_name = "ID")]
        external_id: Option<String>,
    },
    /// Take every member out of a group and retire it (its history stays).
    Remove {
        /// The group's name (its key).
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ResourceCmd {
    /// Register resources with their first owner.
    Add {
        /// The resources, `kind:id` (lowercase kind), e.g. `buyer:B-1042`.
        #[arg(required = true, value_name = "KIND:ID")]
        resources: Vec<String>,
        /// Their first owner, by email or id.
        #[arg(long, value_name = "USER")]
        owner: String,
    },
    /// Register resources from JSON lines or CSV (`kind,id,owner`).
    Import {
        /// The file (`-` for stdin): CSV with a `kind,id,owner` header (any case; `owner
        /// email` and `resource` = `kind:id` too), or JSON lines
        /// (`{"kind","id","owner"}` or `{"resource","owner"}`).
        file: PathBuf,
    },
    /// Retire resources: owned by nobody from now on, history kept, blocking nothing;
    /// they may be registered again.
    Remove {
        /// The resources, `kind:id`, e.g. `buyer:B-1042`.
        #[arg(required = true, value_name = "KIND:ID")]
        resources: Vec<String>,
    },
    /// Name users on a record in roles besides its owner.
    #[command(
        subcommand,
        after_help = "Examples:\n  offboard resource role set deal:D-9 servicing_specialist bob@acme.example\n  offboard resource role unset deal:D-9 watcher cai@acme.example\n  offboard role declare watcher --multi"
    )]
    Role(RecordRoleCmd),
    /// The roles on a record and their holders, now or as of a time or position, and
    /// every change they had.
    Roles {
        /// The record, `kind:id`.
        #[arg(value_name = "KIND:ID")]
        resource: String,
        /// Only this role.
        #[arg(long, value_name = "ROLE")]
        role: Option<String>,
        /// A time (RFC 3339 or YYYY-MM-DD, end of that day UTC) or a log position.
        #[arg(long, value_name = "T|POS")]
        as_of: Option<String>,
    },
    /// Make offboard agree with a system of record's export: the file is the whole
    /// truth for the kinds it holds (new records registered, owner changes moved,
    /// records it no longer lists retired).
    Sync {
        /// The export (`-` for stdin), CSV (`kind,id,owner`) or JSON lines, read row by
        /// row; owners by email, external id or user id.
        file: PathBuf,
        /// Only these kinds (repeatable); others in the file are ignored. Default: the
        /// kinds the file holds.
        #[arg(long = "kind", value_name = "KIND")]
        kinds: Vec<String>,
        /// Print the diff (counts by kind and action, the first changes) and write nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// `resource role …`: who holds a role on records.
#[derive(Debug, Subcommand)]
pub enum RecordRoleCmd {
    /// USER holds ROLE on the records from now on (a single-holder role moves from its
    /// holder; a multi-holder role gains USER).
    Set {
        /// The record, `kind:id` (comma-separated for several).
        #[arg(value_name = "KIND:ID[,KIND:ID...]")]
        resources: String,
        /// The role, e.g. `servicing_specialist`.
        role: String,
        /// The holder, an active user's email or id.
        user: String,
    },
    /// Nobody (or, with USER, that user no longer) holds ROLE on the records.
    Unset {
        /// The record, `kind:id` (comma-separated for several).
        #[arg(value_name = "KIND:ID[,KIND:ID...]")]
        resources: String,
        /// The role.
        role: String,
        /// The holder to remove (needed when several hold a multi-holder role).
        user: Option<String>,
    },
}

/// `role …`: the org's record roles.
#[derive(Debug, Subcommand)]
pub enum RoleCmd {
    /// Declare ROLE single-holder (one holder per record, the default) or multi-holder.
    Declare {
        /// The role, e.g. `watcher`.
        role: String,
        /// Any number of holders per record.
        #[arg(long, conflicts_with = "single")]
        multi: bool,
        /// One holder per record (refused while a record has several).
        #[arg(long)]
        single: bool,
    },
}

#[derive(Debug, Args)]
pub struct OwnersArgs {
    /// Only resources of this kind.
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,
    /// Only what this user owns (email or id).
    #[arg(long, value_name = "USER")]
    pub owner: Option<String>,
    /// A time (RFC 3339 or YYYY-MM-DD, end of that day UTC) or a log position.
    #[arg(long, value_name = "T|POS")]
    pub as_of: Option<String>,
    #[command(flatten)]
    pub page: PageArgs,
}

#[derive(Debug, Args)]
pub struct OwnerArgs {
    /// The resource, `kind:id`.
    #[arg(value_name = "KIND:ID")]
    pub resource: String,
    /// Who held this record role instead of the owner, e.g. `servicing_specialist`.
    #[arg(long, value_name = "ROLE")]
    pub role: Option<String>,
    /// A time (RFC 3339 or YYYY-MM-DD, end of that day UTC) or a log position.
    #[arg(long, value_name = "T|POS")]
    pub as_of: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum DutyCmd {
    /// Give a duty (e.g. dealer_trade_contact) to a user; `--new` the first time.
    #[command(
        after_help = "Examples:\n  offboard duty assign billing_contact ann@acme.example --new   # a new duty\n  offboard duty assign billing_contact bob@acme.example         # hand it over"
    )]
    Assign {
        /// The duty's name.
        name: String,
        /// Its new holder, by email or id.
        user: String,
        /// Create the duty: needed the first time a name is used, so that a mistyped
        /// name does not quietly become a second duty.
        #[arg(long)]
        new: bool,
    },
    /// Every duty and its holder.
    List,
}

#[derive(Debug, Subcommand)]
pub enum DistributionCmd {
    /// Create a distribution with weighted members.
    Add {
        /// The distribution's name.
        name: String,
        /// What it distributes.
        #[arg(long)]
        kind: DistributionKind,
        /// USER=WEIGHT, repeated or comma-separated.
        #[arg(
            long = "member",
            required = true,
            value_name = "USER=WEIGHT",
            value_delimiter = ','
        )]
        members: Vec<String>,
        /// Who takes over when no member can (email or id).
        #[arg(long, value_name = "USER")]
        backup: Option<String>,
    },
    /// Replace the members and weights (the total must stay the same).
    Members {
        /// The distribution's name.
        name: String,
        /// USER=WEIGHT, repeated or comma-separated.
        #[arg(
            long = "member",
            required = true,
            value_name = "USER=WEIGHT",
            value_delimiter = ','
        )]
        members: Vec<String>,
    },
    /// Set the backup (`none` clears it).
    Backup {
        /// The distribution's name.
        name: String,
        /// The backup, by email or id, or `none`.
        user: String,
    },
    /// Every distribution with its members.
    List,
}

#[derive(Debug, Subcommand)]
pub enum LabelCmd {
    /// Create a shared label.
    Add {
        /// The label's name.
        name: String,
        /// Its members (email or id), repeated or comma-separated.
        #[arg(long = "member", value_name = "USER", value_delimiter = ',')]
        members: Vec<String>,
    },
    /// Every label with its members.
    List,
}

#[derive(Debug, Subcommand)]
pub enum CreditsCmd {
    /// The org bought credits: add them to the pool.
    Add {
        /// How many credits.
        amount: u64,
    },
    /// Pool → user.
    Grant {
        /// Who receives them, by email or id.
        user: String,
        /// How many credits.
        amount: u64,
    },
    /// Record credits a user spent.
    Use {
        /// Who spent them, by email or id.
        user: String,
        /// How many credits.
        amount: u64,
    },
    /// Move credits between users and the pool (`pool` names the pool).
    Transfer {
        /// A user (email or id) or `pool`.
        from: String,
        /// A user (email or id) or `pool`.
        to: String,
        /// How many credits.
        amount: u64,
    },
    /// The pool and every balance.
    Show,
}

#[derive(Debug, Args)]
pub struct TransferAllBuyers {
    /// The user whose buyers move, by email or id.
    pub from: String,
    /// Recipients, comma-separated or repeated.
    #[arg(long, required = true, value_name = "USER", value_delimiter = ',')]
    pub to: Vec<String>,
    /// How the resources are dealt out among the recipients.
    #[arg(long, value_enum, default_value = "round-robin")]
    pub strategy: Strategy,
}

#[derive(Debug, Args)]
pub struct TransferArgs {
    /// The user whose resources move, by email or id.
    pub from: String,
    /// Move every resource of this kind (with `--role`: only records of this kind).
    #[arg(
        long,
        value_name = "KIND",
        required_unless_present_any = ["resource", "role"],
        conflicts_with = "resource"
    )]
    pub kind: Option<String>,
    /// Move FROM's place in this record role instead of ownership: every record (of
    /// `--kind`, or of every kind) where FROM holds it.
    #[arg(long, value_name = "ROLE", conflicts_with = "resource")]
    pub role: Option<String>,
    /// Move these resources (one recipient).
    #[arg(long, value_name = "KIND:ID", value_delimiter = ',')]
    pub resource: Vec<String>,
    /// Recipients (email or id), comma-separated or repeated.
    #[arg(long, required = true, value_name = "USER", value_delimiter = ',')]
    pub to: Vec<String>,
    /// How the resources are dealt out among the recipients.
    #[arg(long, value_enum, default_value = "round-robin")]
    pub strategy: Strategy,
}

#[derive(Debug, Args)]
pub struct TransferAccount {
    /// The user whose everything moves, by email or id.
    pub from: String,
    /// The one recipient, by email or id.
    #[arg(long, value_name = "USER")]
    pub to: String,
    /// What happens to FROM's account after the moves.
    #[arg(long, value_enum, default_value = "none")]
    pub then: FollowUp,
    /// The org's confirmation phrase, needed with `--then delete`.
    #[arg(long, value_name = "PHRASE")]
    pub confirm: Option<String>,
}

#[derive(Debug, Args)]
pub struct OffboardArgs {
    /// The user to offboard, by email or id.
    pub user: String,
    /// A plan file (JSON, users by email or id; `-` for stdin); required without a
    /// terminal.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// What happens to the account after the moves [guided default: asked].
    #[arg(long, value_enum)]
    pub then: Option<FollowUp>,
    /// The org's confirmation phrase, needed when the offboarding deletes.
    #[arg(long, value_name = "PHRASE")]
    pub confirm: Option<String>,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// What happened to and by this user (email or id, deleted users too).
    #[arg(long, value_name = "USER", conflicts_with_all = ["resource", "correlation"])]
    pub user: Option<String>,
    /// Every owner change of this resource (`kind:id`).
    #[arg(long, value_name = "KIND:ID", conflicts_with = "correlation")]
    pub resource: Option<String>,
    /// Every event of one operation: its correlation id, or a unique prefix of 8+ hex
    /// digits.
    #[arg(long, value_name = "ID")]
    pub correlation: Option<String>,
    /// From this time (RFC 3339, or YYYY-MM-DD: the start of that day UTC).
    #[arg(long, value_name = "T")]
    pub since: Option<String>,
    /// Up to this time (RFC 3339, or YYYY-MM-DD: the end of that day UTC).
    #[arg(long, value_name = "T")]
    pub until: Option<String>,
    #[command(flatten)]
    pub page: PageArgs,
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
    /// The envelope as stored.
    Json,
    /// CloudEvents 1.0, structured JSON.
    Cloudevents,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// First position to print.
    #[arg(long, default_value_t = 1, value_name = "POS")]
    pub from: u64,
    /// The envelope as stored, or a CloudEvents 1.0 JSON document per line.
    #[arg(long, value_enum, default_value = "json")]
    pub format: EventFormat,
    /// Keep printing new events as the server commits them, until interrupted
    /// (client mode: needs --server).
    #[arg(long)]
    pub follow: bool,
}

/// Paging of a list command.
#[derive(Debug, Clone, Default, Args)]
pub struct PageArgs {
    /// Print one page of at most N items (1 to 1000) and where the next one starts
    /// (`next`; go on with --cursor); without it, the whole list.
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// Go on from where an earlier page ended: its `next` link, or the `cursor` in it.
    #[arg(long, value_name = "CURSOR")]
    pub cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// Every argument of `cmd` and its subcommands without help text, as `path --arg`.
    fn undocumented(cmd: &clap::Command, path: &str, found: &mut Vec<String>) {
        for arg in cmd.get_arguments() {
            let builtin = matches!(arg.get_id().as_str(), "help" | "version");
            if !builtin && !arg.is_hide_set() && arg.get_help().is_none() {
                found.push(format!("{path} {}", arg.get_id()));
            }
        }
        for sub in cmd.get_subcommands() {
            if sub.get_about().is_none() && sub.get_name() != "help" {
                found.push(format!("{path} {} (no about)", sub.get_name()));
            }
            undocumented(sub, &format!("{path} {}", sub.get_name()), found);
        }
    }

    #[test]
    fn every_argument_and_subcommand_has_help_text() {
        let cmd = Cli::command();
        let mut found = Vec::new();
        undocumented(&cmd, "offboard", &mut found);
        assert!(found.is_empty(), "without help text:\n{}", found.join("\n"));
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    /// Whether `text` cites a design rule (`R26`) or a project issue (`issue 17`): both
    /// live outside the repository, so a reader of the help or the README cannot follow them.
    pub(crate) fn cites_outside_documents(text: &str) -> bool {
        let words: Vec<&str> = text
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        let number = |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_digit());
        words
            .iter()
            .any(|w| w.len() > 1 && w.starts_with('R') && number(&w[1..]))
            || words
                .windows(2)
                .any(|pair| pair[0].eq_ignore_ascii_case("issue") && number(pair[1]))
    }

    #[test]
    fn citations_of_rules_and_issues_are_recognised() {
        assert!(cites_outside_documents("leaves work with nobody (R26)"));
        assert!(cites_outside_documents("a SCIM client (issue 17)"));
        assert!(!cites_outside_documents(
            "RFC 7643, RAID 1, an issue, issued 3 times"
        ));
    }

    #[test]
    fn the_readme_cites_no_rule_numbers_or_issues() {
        let readme = include_str!("../../README.md");
        let cites: Vec<&str> = readme
            .lines()
            .filter(|line| cites_outside_documents(line))
            .collect();
        assert!(
            cites.is_empty(),
            "README lines citing rules or issues:\n{}",
            cites.join("\n")
        );
    }

    #[test]
    fn help_cites_no_rule_numbers_or_issues() {
        fn walk(cmd: &mut clap::Command, found: &mut Vec<String>) {
            let help = cmd.render_long_help().to_string();
            if cites_outside_documents(&help) {
                found.push(cmd.get_name().to_owned());
            }
            for sub in cmd.get_subcommands_mut() {
                walk(sub, found);
            }
        }
        let mut found = Vec::new();
        walk(&mut Cli::command(), &mut found);
        assert!(found.is_empty(), "help citing rules or issues: {found:?}");
    }
}
