//! One node's road to PostgreSQL: a TCP proxy on a loopback port, so that a node can be
//! partitioned from the database alone. A partition closes every PostgreSQL-side socket
//! (PostgreSQL sees the sessions end and frees their advisory locks) and black-holes the
//! node side: bytes from the node are read and dropped, nothing comes back, no reset —
//! what a node sees when a switch between it and the database dies. New connections
//! during a partition are accepted and black-holed too. Healing resets the black-holed
//! sockets (as the first packet after a real partition heals would: PostgreSQL's end is
//! gone) and lets new connections through. Shared by the failover harness
//! (`examples/failover_rounds`) and the server tests of a partitioned node.

use std::net::SocketAddr;

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A running proxy; dropping it stops accepting (open connections end with their peers).
#[derive(Debug)]
pub struct Proxy {
    /// Where the node connects: `127.0.0.1:PORT`.
    pub addr: SocketAddr,
    cut: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards each connection to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Result<Self, String> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("proxy: no loopback port: {e}"))?;
        let addr = listener.local_addr().map_err(|e| format!("proxy: {e}"))?;
        let (cut, cuts) = watch::channel(false);
        let task = tokio::spawn(async move {
            while let Ok((node, _)) = listener.accept().await {
                tokio::spawn(connection(node, upstream, cuts.clone()));
            }
        });
        Ok(Self { addr, cut, task })
    }

    /// Cuts the node off from PostgreSQL (see the module's header).
    pub fn partition(&self) {
        self.cut.send_replace(true);
    }

    /// Ends the partition: black-holed sockets are reset, new connections go through.
    pub fn heal(&self) {
        self.cut.send_replace(false);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Forwards one connection until either side closes it or a partition cuts it.
async fn connection(mut node: TcpStream, upstream: SocketAddr, mut cut: watch::Receiver<bool>) {
    if !*cut.borrow_and_update() {
        let Ok(mut db) = TcpStream::connect(upstream).await else {
            return; // PostgreSQL is down: the node sees its connection closed, as it would
        };
        tokio::select! {
            _ = tokio::io::copy_bidirectional(&mut node, &mut db) => return,
            _ = cut.wait_for(|cut| *cut) => {}
        }
        drop(db); // PostgreSQL sees the session end
    }
    black_hole(&mut node, &mut cut).await;
    // Healed: the node's next packet would meet a reset; send it now. (Deprecated
    // because a lingering close blocks the thread; a zero linger resets at once.)
    #[allow(deprecated)]
    let _ = node.set_linger(Some(std::time::Duration::ZERO));
}

/// Reads and drops what the node sends, answering nothing, until the partition heals.
async fn black_hole(node: &mut TcpStream, cut: &mut watch::Receiver<bool>) {
    let mut sink = [0u8; 8192];
    let mut open = true;
    while open {
        tokio::select! {
            read = node.read(&mut sink) => open = matches!(read, Ok(n) if n > 0),
            _ = cut.wait_for(|cut| !*cut) => return,
        }
    }
    // The node gave up on it: stay silent until the heal anyway.
    let _ = cut.wait_for(|cut| !*cut).await;
}
