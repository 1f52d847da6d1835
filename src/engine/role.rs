//! What a node is to its log: the one writer (leader), a follower serving reads from
//! projections kept current by tailing the log another node writes, or a node catching
//! up on a backlog. A data directory has one process, so an engine on sled is always
//! the leader; on PostgreSQL every `offboard serve` node opens the same database and the
//! one holding the writer lock leads (`store::postgres::lock`).

use serde::Serialize;

/// How far behind a follower may be and still answer `/readyz` 200: past it, it is
/// catching up (a load balancer should send reads elsewhere until it is done).
pub const CATCHING_UP_LAG: u64 = 10_000;

/// This node's part, as `/readyz` reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Role {
    /// The single writer: commands are decided and appended here.
    Leader,
    /// Serves reads; commands go to the leader at `leader` (its advertised URL, `None`
    /// while none is known: an election is under way). `lag` is how many events the log
    /// holds that this node has not applied yet.
    Follower { leader: Option<String>, lag: u64 },
    /// A follower more than [`CATCHING_UP_LAG`] events behind: at `position`, applying
    /// up to `target`; commands still go to the leader at `leader`.
    CatchingUp {
        position: u64,
        target: u64,
        leader: Option<String>,
    },
}

impl Role {
    /// Whether commands are decided here.
    pub fn is_leader(&self) -> bool {
        matches!(self, Role::Leader)
    }

    /// The leader's advertised URL, when this node follows (or catches up) and knows it.
    pub fn leader(&self) -> Option<&str> {
        match self {
            Role::Follower { leader, .. } | Role::CatchingUp { leader, .. } => leader.as_deref(),
            Role::Leader => None,
        }
    }

    /// `leader`, `follower` or `catching_up`.
    pub fn name(&self) -> &'static str {
        match self {
            Role::Leader => "leader",
            Role::Follower { .. } => "follower",
            Role::CatchingUp { .. } => "catching_up",
        }
    }
}
