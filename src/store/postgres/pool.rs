//! The connection pool to PostgreSQL and the bridge from the synchronous [`LogStore`]
//! world to the async driver (`tokio-postgres` behind `deadpool-postgres`).
//!
//! Why a runtime of its own: the store is called from plain threads (the writer's
//! pipeline), from the CLI's current-thread runtime and from tokio worker threads of
//! `serve`. `Handle::block_on` and `blocking_recv` panic inside a runtime, so every call
//! is spawned on this pool's small runtime and its caller waits on a `std::sync::mpsc`
//! channel, which is allowed on any thread but the pool's own.
//!
//! [`LogStore`]: crate::store::LogStore

use std::future::Future;
use std::sync::Arc;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use tokio_postgres::tls::NoTlsStream;
use tokio_postgres::{NoTls, Socket};

use super::error::{from_pg, from_pool, Target};
use crate::store::StoreError;

/// How many connections the pool keeps at most: the writer, a few readers and the
/// checkpointer. The single-writer lock has its own connection beside these.
const MAX_CONNECTIONS: usize = 8;

/// The runtime's worker threads: the work is waiting on the network, not computing.
const WORKER_THREADS: usize = 2;

/// A session's connection half, as [`PgPool::dedicated_with`] hands it to its driver.
pub(crate) type Connection = tokio_postgres::Connection<Socket, NoTlsStream>;

/// A pool of connections to one PostgreSQL database, usable from any thread.
/// Cheap to clone: clones share the pool and its runtime.
#[derive(Clone, Debug)]
pub struct PgPool {
    pool: Pool,
    runtime: Arc<OwnedRuntime>,
    target: Target,
    config: tokio_postgres::Config,
}

impl PgPool {
    /// Connects to the database named by `url` (`postgres://user:password@host:port/db`,
    /// or `postgresql://…`; `host=/dir` for a unix socket) and checks with one round trip
    /// that it answers.
    ///
    /// Errors: `store_url_invalid` for a URL the driver cannot parse, `store_unreachable`
    /// (naming host:port, never the password) when nothing answers or the login is
    /// refused, `storage` for anything else.
    pub fn connect(url: &str) -> Result<PgPool, StoreError> {
        let mut config: tokio_postgres::Config = url.parse().map_err(|e| StoreError::BadUrl {
            why: format!("{e}"),
        })?;
        durable_commits(&mut config);
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        notice_dead_peers(&mut config);
        plans_for_the_table_as_it_is(&mut config);
        let target = Target::of(&config);
        let runtime = OwnedRuntime::start()?;
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(MAX_CONNECTIONS)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::Io(format!("PostgreSQL pool for {target}: {e}")))?;
        let pg = PgPool {
            pool,
            runtime: Arc::new(runtime),
            target,
            config,
        };
        pg.run(|client| async move {
            client.simple_query("SELECT 1").await?;
            Ok(())
        })?;
        Ok(pg)
    }

    /// Runs `work` with a pooled connection on the pool's runtime and waits for its
    /// result; callable from any thread, tokio worker threads included (never from inside
    /// another `run`). The connection goes back to the pool when `work` is done.
    /// What is durable when it returns is what `work` committed.
    ///
    /// Errors: what `work` returns; `store_unreachable` when no connection can be had.
    pub fn run<T, F, Fut>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(Object) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, PgError>> + Send + 'static,
    {
        let pool = self.pool.clone();
        let target = self.target.clone();
        self.block(async move {
            let client = pool.get().await.map_err(|e| from_pool(e, &target))?;
            work(client).await.map_err(|e| e.into_store(&target))
        })
    }

    /// Runs `future` on the pool's runtime and waits for it, from any thread but the
    /// runtime's own.
    pub fn block<T, Fut>(&self, future: Fut) -> Result<T, StoreError>
    where
        T: Send + 'static,
        Fut: Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.runtime.handle().spawn(async move {
            let _ = tx.send(future.await);
        });
        rx.recv().map_err(|_| {
            StoreError::Io(format!("the PostgreSQL client for {} stopped", self.target))
        })?
    }

    /// Runs `future` on the pool's runtime in the background (a heartbeat); abort the
    /// handle to stop it.
    pub(crate) fn spawn(
        &self,
        future: impl Future<Output = ()> + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        self.runtime.handle().spawn(future)
    }

    /// Opens a connection outside the pool (the single-writer lock's session), its
    /// connection task running on the pool's runtime until the client is dropped.
    pub(crate) fn dedicated(&self) -> Result<tokio_postgres::Client, StoreError> {
        self.dedicated_with(|connection, target| async move {
            if let Err(e) = connection.await {
                tracing::warn!("offboard: PostgreSQL session at {target} ended: {e}");
            }
        })
    }

    /// [`PgPool::dedicated`] with the connection task `drive` (which must poll the
    /// connection until it ends, e.g. to receive notifications).
    pub(crate) fn dedicated_with<D, Fut>(
        &self,
        drive: D,
    ) -> Result<tokio_postgres::Client, StoreError>
    where
        D: FnOnce(Connection, Target) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let config = self.config.clone();
        let target = self.target.clone();
        self.block(async move {
            let (client, connection) = config
                .connect(NoTls)
                .await
                .map_err(|e| from_pg(e, &target))?;
            tokio::spawn(drive(connection, target));
            Ok(client)
        })
    }

    /// `host:port/database` of the server, for messages (never the password).
    pub fn target(&self) -> &Target {
        &self.target
    }
}

/// Every session commits with `synchronous_commit=on` (an acknowledged command is
/// committed), unless the URL's `options` name a setting of their own (e.g.
/// `remote_apply` for a synchronous standby). Startup options outrank the server's,
/// the database's and the role's settings.
fn durable_commits(config: &mut tokio_postgres::Config) {
    unless_named(config, "synchronous_commit", "-c synchronous_commit=on");
}

/// Appends the startup `settings` to the URL's `options`, unless those already name
/// `name` (the operator's own choice wins).
fn unless_named(config: &mut tokio_postgres::Config, name: &str, settings: &str) {
    let options = config.get_options().unwrap_or("").to_owned();
    if !options.contains(name) {
        config.options(format!("{options} {settings}").trim());
    }
}

/// Every session plans each execution of a prepared statement for the tables as they
/// are then (`plan_cache_mode=force_custom_plan`), unless the URL's `options` say
/// otherwise. The pool's connections live for days and prepare each statement once;
/// PostgreSQL's default may freeze a generic plan after five executions, and the one it
/// froze while `log_commands` was nearly empty was a sequential scan (seen with
/// `auto_explain`: `Seq Scan on log_commands (cost=0.00..29.56)`) that then read the
/// whole table for every group's idempotency lookup: 4–5 ms a group once the table held
/// 32,000 commands, so `offboard bench` on PostgreSQL ran at 5,000–9,000 commands/s in
/// some runs and 20,000–30,000 in others. Planning these one-table statements costs
/// tens of microseconds.
fn plans_for_the_table_as_it_is(config: &mut tokio_postgres::Config) {
    unless_named(
        config,
        "plan_cache_mode",
        "-c plan_cache_mode=force_custom_plan",
    );
}

/// A server that vanished (a partition, a machine off) is noticed by TCP within seconds,
/// not the kernel's defaults of hours: keepalive probes after 5 s idle, and a request
/// that stays unacknowledged for 15 s ends the connection. Then every call on it fails
/// (`store_unreachable`) instead of hanging, and a leader steps down (`engine::node`).
fn notice_dead_peers(config: &mut tokio_postgres::Config) {
    config
        .keepalives(true)
        .keepalives_idle(std::time::Duration::from_secs(5))
        .keepalives_interval(std::time::Duration::from_secs(2))
        .keepalives_retries(3)
        .tcp_user_timeout(std::time::Duration::from_secs(15));
    // The same from the server's side, so a vanished leader's session — and with it the
    // writer lock — ends within about 11 s, and another node can lead.
    unless_named(
        config,
        "tcp_keepalives",
        "-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3",
    );
}

/// A host that never answers (a dropped packet, not a refusal) is `store_unreachable`
/// after this long rather than a hang, unless the URL's `connect_timeout` says otherwise.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// What work given to [`PgPool::run`] fails with: a driver error (mapped to a
/// [`StoreError`] naming the server) or a [`StoreError`] of its own.
#[derive(Debug)]
pub enum PgError {
    /// What the driver reported (`?` on any `tokio_postgres` call makes one).
    Driver(tokio_postgres::Error),
    /// A failure the work decided itself, passed on as it is.
    Store(StoreError),
}

impl PgError {
    fn into_store(self, target: &Target) -> StoreError {
        match self {
            PgError::Driver(e) => from_pg(e, target),
            PgError::Store(e) => e,
        }
    }
}

impl From<tokio_postgres::Error> for PgError {
    fn from(e: tokio_postgres::Error) -> Self {
        PgError::Driver(e)
    }
}

impl From<StoreError> for PgError {
    fn from(e: StoreError) -> Self {
        PgError::Store(e)
    }
}

/// The pool's runtime, shut down without blocking when the last clone goes: a store may
/// be dropped inside another runtime (an async test, `serve`), where dropping a runtime
/// the ordinary way panics.
#[derive(Debug)]
struct OwnedRuntime(Option<tokio::runtime::Runtime>);

impl OwnedRuntime {
    fn start() -> Result<Self, StoreError> {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(WORKER_THREADS)
            .thread_name("offboard-postgres")
            .enable_all()
            .build()
            .map(|rt| OwnedRuntime(Some(rt)))
            .map_err(|e| StoreError::Io(format!("cannot start the PostgreSQL client: {e}")))
    }

    fn handle(&self) -> &tokio::runtime::Handle {
        self.0.as_ref().expect("present until dropped").handle()
    }
}

impl Drop for OwnedRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}
