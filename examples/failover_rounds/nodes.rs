//! The `serve` nodes: each with its own directory, its own proxy to PostgreSQL and its
//! own stderr log per start; started, SIGKILLed and restarted by index; asked
//! `/readyz` what they are. The clients read the live nodes' URLs from [`Nodes::urls`].

use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::proxy::Proxy;
use super::report::Report;
use super::server::Server;

/// How often a wait asks `/readyz` again.
const POLL: Duration = Duration::from_millis(25);

/// What one `/readyz` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// The HTTP status; 0 when the node did not answer.
    pub status: u16,
    /// `leader`, `follower`, the 503's code (`catching_up`, …), or why there was no answer.
    pub role: String,
    /// The position it reported (200 only).
    pub position: Option<u64>,
}

impl Probe {
    /// Whether the node answered 200 as the leader.
    pub fn is_leader(&self) -> bool {
        self.status == 200 && self.role == "leader"
    }
}

/// One node.
#[derive(Debug)]
pub struct Node {
    /// Its road to PostgreSQL.
    pub proxy: Proxy,
    server: Option<Server>,
    dir: PathBuf,
    /// Its current start's stderr.
    log: PathBuf,
}

/// Every node, and what they share.
#[derive(Debug)]
pub struct Nodes {
    pub nodes: Vec<Node>,
    /// The live nodes' URLs (`None`: down), what the clients choose from.
    pub urls: Arc<RwLock<Vec<Option<String>>>>,
    bin: PathBuf,
    root: PathBuf,
    kek: PathBuf,
    database: String,
    starts: u32,
    probe: reqwest::Client,
}

impl Nodes {
    /// `count` nodes (not started yet), each with a proxy to PostgreSQL at `pg` and its
    /// directory under `root`, all on `database` with the key-encryption key `kek`.
    pub async fn new(
        count: usize,
        (bin, root, kek): (&Path, &Path, &Path),
        pg: SocketAddr,
        database: &str,
    ) -> Result<Self, String> {
        let mut nodes = Vec::with_capacity(count);
        for i in 0..count {
            let dir = root.join(format!("node{i}"));
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let proxy = Proxy::start(pg).await?;
            nodes.push(Node {
                proxy,
                server: None,
                log: dir.join("none.log"),
                dir,
            });
        }
        let probe = reqwest::Client::builder()
            .timeout(Duration::from_secs(1))
            .build()
            .map_err(|e| format!("a reqwest client: {e}"))?;
        Ok(Self {
            urls: Arc::new(RwLock::new(vec![None; count])),
            nodes,
            bin: bin.to_owned(),
            root: root.to_owned(),
            kek: kek.to_owned(),
            database: database.to_owned(),
            starts: 0,
            probe,
        })
    }

    /// Starts node `i` (its `serve` announced its address); its URL.
    pub async fn start(&mut self, i: usize) -> Result<String, String> {
        self.starts += 1;
        let log = self.root.join(format!("node{i}.start{}.log", self.starts));
        self.nodes[i].log.clone_from(&log);
        let node = &self.nodes[i];
        let store = format!(
            "postgresql://postgres@{}/{}",
            node.proxy.addr, self.database
        );
        let (bin, dir, kek) = (self.bin.clone(), node.dir.clone(), self.kek.clone());
        let server = tokio::task::spawn_blocking(move || {
            let global: [&OsStr; 6] = [
                "--data".as_ref(),
                dir.as_os_str(),
                "--store".as_ref(),
                store.as_ref(),
                "--kek-file".as_ref(),
                kek.as_os_str(),
            ];
            Server::launch(&bin, &global, &log)
        })
        .await
        .map_err(|e| format!("node {i}: {e}"))?
        .map_err(|e| format!("node {i}: {e}"))?;
        let url = server.url.clone();
        self.nodes[i].server = Some(server);
        self.urls.write().expect("not poisoned")[i] = Some(url.clone());
        Ok(url)
    }

    /// Restarts every node that exited on its own (a node must outlive what the
    /// scenarios do to it or to PostgreSQL: each exit is a violation).
    pub async fn revive(&mut self, report: &mut Report) -> Result<(), String> {
        for (i, why) in self.exited() {
            report.violation(why);
            self.start(i).await?;
        }
        Ok(())
    }

    /// The nodes that exited on their own since the last call (each then counts as
    /// down), with how they ended and their stderr's last lines.
    fn exited(&mut self) -> Vec<(usize, String)> {
        let mut out = Vec::new();
        for i in 0..self.nodes.len() {
            let Some(status) = self.nodes[i].server.as_mut().and_then(Server::exited) else {
                continue;
            };
            self.kill(i);
            let log = std::fs::read_to_string(&self.nodes[i].log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(5).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            out.push((
                i,
                format!("node {i} exited ({status}): {}", tail.join(" | ")),
            ));
        }
        out
    }

    /// SIGKILLs node `i` (no-op when it is down).
    pub fn kill(&mut self, i: usize) {
        self.urls.write().expect("not poisoned")[i] = None;
        if let Some(server) = self.nodes[i].server.take() {
            server.kill();
        }
    }

    /// The URL of node `i`, when it runs.
    pub fn url(&self, i: usize) -> Option<String> {
        self.nodes[i].server.as_ref().map(|s| s.url.clone())
    }

    /// Indexes of the running nodes.
    pub fn live(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|i| self.nodes[*i].server.is_some())
            .collect()
    }

    /// Asks node `i`'s `/readyz`.
    pub async fn probe(&self, i: usize) -> Probe {
        let Some(url) = self.url(i) else {
            return down("not running");
        };
        let response = match self.probe.get(format!("{url}/readyz")).send().await {
            Ok(r) => r,
            Err(e) => return down(&e.to_string()),
        };
        let status = response.status().as_u16();
        let doc: Value = response.json().await.unwrap_or_default();
        let role = if status == 200 {
            // A server without a cluster behind it (sled) answers no role: it always leads.
            doc["role"].as_str().unwrap_or("leader")
        } else {
            doc["error"]["code"].as_str().unwrap_or("unready")
        };
        Probe {
            status,
            role: role.to_owned(),
            position: doc["position"].as_u64(),
        }
    }

    /// The running nodes that answer as the leader now.
    pub async fn leaders(&self) -> Vec<usize> {
        let mut out = Vec::new();
        for i in self.live() {
            if self.probe(i).await.is_leader() {
                out.push(i);
            }
        }
        out
    }

    /// Waits until a running node other than `except` answers as the leader; which one
    /// and how long it took. Errors after `patience`.
    pub async fn wait_for_leader(
        &self,
        except: Option<usize>,
        patience: Duration,
    ) -> Result<(usize, Duration), String> {
        let started = Instant::now();
        loop {
            let leaders = self.leaders().await;
            if let Some(i) = leaders.into_iter().find(|i| Some(*i) != except) {
                return Ok((i, started.elapsed()));
            }
            if started.elapsed() > patience {
                return Err(format!("no node led within {patience:?}"));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until node `i` answers `/readyz` with `role` (e.g. `follower`); every
    /// distinct answer seen on the way, in order.
    pub async fn wait_for_role(
        &self,
        i: usize,
        role: &str,
        patience: Duration,
    ) -> Result<Vec<Probe>, String> {
        let started = Instant::now();
        let mut seen: Vec<Probe> = Vec::new();
        loop {
            let probe = self.probe(i).await;
            let done = probe.status == 200 && probe.role == role;
            if seen
                .last()
                .is_none_or(|p| (p.status, &p.role) != (probe.status, &probe.role))
            {
                seen.push(probe);
            }
            if done {
                return Ok(seen);
            }
            if started.elapsed() > patience {
                let roles: Vec<&str> = seen.iter().map(|p| p.role.as_str()).collect();
                return Err(format!(
                    "node {i} was not {role} within {patience:?} (answered {})",
                    roles.join(" → ")
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

fn down(why: &str) -> Probe {
    Probe {
        status: 0,
        role: format!("down ({why})"),
        position: None,
    }
}
