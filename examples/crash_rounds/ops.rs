//! The commands the clients send: each one's endpoint and body, and the one event it
//! appends, so the log can be compared with what was asked (wholly there, unchanged).

use offboard_events::{CreditAccount, Envelope, Event, ResourceKey, UserId};
use serde_json::{json, Value};

/// One command, as the harness chose it.
#[derive(Debug, Clone)]
pub enum Op {
    /// Hand-picked resources of one owner to another user.
    Transfer {
        from: UserId,
        to: UserId,
        resources: Vec<String>,
    },
    /// New resources registered to a user.
    Register {
        owner: UserId,
        resources: Vec<String>,
    },
    /// Credits bought into the pool.
    AddToPool { amount: u64 },
    /// Pool → user.
    Grant { user: UserId, amount: u64 },
    /// A user spends credits.
    Use { user: UserId, amount: u64 },
    /// Between a user and another user or the pool.
    MoveCredits {
        from: CreditAccount,
        to: CreditAccount,
        amount: u64,
    },
    /// New users from an HR export, in one command: `user{first}@{domain}` up to
    /// `first + count` (exclusive). Only the failover harness sends it (a bulk append).
    #[allow(dead_code)]
    ImportUsers {
        domain: String,
        first: u64,
        count: u64,
    },
}

impl Op {
    /// A short name for reports.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Transfer { .. } => "transfer",
            Op::Register { .. } => "register",
            Op::AddToPool { .. } => "add-to-pool",
            Op::Grant { .. } => "grant",
            Op::Use { .. } => "use",
            Op::MoveCredits { .. } => "move-credits",
            Op::ImportUsers { .. } => "import-users",
        }
    }

    /// The endpoint (README, "Over HTTP").
    pub fn path(&self) -> String {
        match self {
            Op::Transfer { from, .. } => format!("/v1/users/{from}/transfer-resources"),
            Op::Register { owner, .. } => format!("/v1/users/{owner}/resources"),
            Op::AddToPool { .. } => "/v1/credits/pool".to_owned(),
            Op::Grant { user, .. } => format!("/v1/users/{user}/credits/grant"),
            Op::Use { user, .. } => format!("/v1/users/{user}/credits/use"),
            Op::MoveCredits { .. } => "/v1/credits/transfer".to_owned(),
            Op::ImportUsers { .. } => "/v1/users/import".to_owned(),
        }
    }

    /// The JSON body; the same on a resend, or the key would be `conflict`.
    pub fn body(&self) -> Value {
        match self {
            Op::Transfer { to, resources, .. } => json!({ "resources": resources, "to": to }),
            Op::Register { resources, .. } => json!({ "resources": resources }),
            Op::AddToPool { amount } | Op::Grant { amount, .. } | Op::Use { amount, .. } => {
                json!({ "amount": amount })
            }
            Op::MoveCredits { from, to, amount } => {
                json!({ "from": account(from), "to": account(to), "amount": amount })
            }
            Op::ImportUsers {
                domain,
                first,
                count,
            } => (*first..first + count)
                .map(|i| json!({ "email": format!("user{i}@{domain}"), "first": "Bulk", "last": format!("N{i}") }))
                .collect(),
        }
    }

    /// Whether `body`, the 2xx answer to this command sent again under its key, says
    /// it was done already at `at`: `duplicate: true` at those positions (a user import
    /// too, since its resend answers as every command's does).
    pub fn answers_resend(&self, body: &Value, at: Option<(u64, u64)>) -> bool {
        let positions = body["positions"]["first"]
            .as_u64()
            .zip(body["positions"]["last"].as_u64());
        body["duplicate"] == true && positions == at
    }

    /// Whether `events` — everything the log holds under this command's id — are exactly
    /// the one event this command appends (an import: one invitation per row).
    pub fn matches(&self, events: &[&Envelope]) -> bool {
        if let Op::ImportUsers { count, .. } = self {
            let invited = events
                .iter()
                .filter(|e| matches!(e.event, Event::UserInvited(_)))
                .count();
            return invited as u64 == *count;
        }
        let [envelope] = events else {
            return false;
        };
        match (self, &envelope.event) {
            (
                Op::Transfer {
                    from,
                    to,
                    resources,
                },
                Event::ResourcesTransferred(t),
            ) => {
                t.from == *from
                    && matches!(t.handovers.as_slice(), [h] if h.to == *to && same(&h.resources, resources))
            }
            (Op::Register { owner, resources }, Event::ResourcesRegistered(r)) => {
                r.owner == *owner && same(&r.resources, resources)
            }
            (Op::AddToPool { amount }, Event::CreditsAddedToPool(c)) => c.amount == *amount,
            (Op::Grant { user, amount }, Event::CreditsGranted(c)) => {
                c.user == *user && c.amount == *amount
            }
            (Op::Use { user, amount }, Event::CreditsUsed(c)) => {
                c.user == *user && c.amount == *amount
            }
            (Op::MoveCredits { from, to, amount }, Event::CreditsTransferred(c)) => {
                c.from == *from && c.to == *to && c.amount == *amount
            }
            _ => false,
        }
    }
}

fn account(a: &CreditAccount) -> String {
    match a {
        CreditAccount::Pool => "pool".to_owned(),
        CreditAccount::User { id } => id.to_string(),
    }
}

/// The same keys, in any order.
fn same(logged: &[ResourceKey], sent: &[String]) -> bool {
    let mut logged: Vec<String> = logged.iter().map(ToString::to_string).collect();
    let mut sent = sent.to_vec();
    logged.sort();
    sent.sort();
    logged == sent
}
