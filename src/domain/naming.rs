//! How a command names users. The domain decides commands whose users are ids
//! ([`UserId`]); the HTTP API takes the same commands with users named as people write
//! them ([`UserRef`]: an id or an email). [`UserNaming`] ties each way of naming a user
//! to how it writes a distribution member and a credit account, so one generic
//! `Command<U>` is both the domain's command and the wire contract; [`MapUsers`] is how
//! [`Command::map_users`](super::Command::map_users) turns one into the other.

use std::fmt::Debug;

use offboard_events::{CreditAccount, Member, UserId};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A way of naming users in a command: [`UserId`] (the domain) or [`UserRef`] (the wire).
pub trait UserNaming:
    Clone + Debug + PartialEq + Eq + Serialize + DeserializeOwned + JsonSchema
{
    /// A distribution member with its weight, its user named this way.
    type Member: Clone + Debug + PartialEq + Eq + Serialize + DeserializeOwned + JsonSchema;
    /// A credit account (the pool or a user named this way).
    type Account: Clone + Debug + PartialEq + Eq + Serialize + DeserializeOwned + JsonSchema;
}

impl UserNaming for UserId {
    type Member = Member;
    type Account = CreditAccount;
}

impl UserNaming for UserRef {
    type Member = MemberRef;
    type Account = AccountRef;
}

/// A user of the caller's organization: the user's id (UUID) or email address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct UserRef(pub String);

impl From<UserId> for UserRef {
    fn from(id: UserId) -> Self {
        Self(id.to_string())
    }
}

impl From<&str> for UserRef {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

/// A distribution member and its weight, the user named by id or email.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberRef {
    pub user: UserRef,
    pub weight: u32,
}

/// A credit account on the wire: `"pool"`, or a user by id or email.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct AccountRef(pub String);

impl AccountRef {
    /// The text that names the org's pool.
    pub const POOL: &'static str = "pool";
}

/// Whether a user reference may name a deleted user: only restore and purge act on one
/// (by the email it had while no one else has taken it, or by id).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Listed users only (invited, active, deactivated).
    Listed,
    /// Listed users, then deleted ones (the most recently deleted for an email).
    DeletedToo,
}

/// How [`Command::map_users`](super::Command::map_users) turns a command naming users
/// as `A` into one naming them as `B`: each user, member and account, one at a time.
pub trait MapUsers<A: UserNaming, B: UserNaming> {
    type Error;
    /// One user; `lookup` says whether the command may name a deleted one.
    fn user(&mut self, user: A, lookup: Lookup) -> Result<B, Self::Error>;
    fn member(&mut self, member: A::Member) -> Result<B::Member, Self::Error>;
    fn account(&mut self, account: A::Account) -> Result<B::Account, Self::Error>;
}

/// Resolves a wire command's users to ids with one function (e.g. the server's lookup
/// in the caller's org), used for members and accounts too.
#[derive(Debug)]
pub struct Resolve<F>(pub F);

impl<F, E> MapUsers<UserRef, UserId> for Resolve<F>
where
    F: FnMut(&UserRef, Lookup) -> Result<UserId, E>,
{
    type Error = E;

    fn user(&mut self, user: UserRef, lookup: Lookup) -> Result<UserId, E> {
        (self.0)(&user, lookup)
    }

    fn member(&mut self, member: MemberRef) -> Result<Member, E> {
        Ok(Member {
            user: (self.0)(&member.user, Lookup::Listed)?,
            weight: member.weight,
        })
    }

    fn account(&mut self, account: AccountRef) -> Result<CreditAccount, E> {
        if account.0.trim() == AccountRef::POOL {
            Ok(CreditAccount::Pool)
        } else {
            let id = (self.0)(&UserRef(account.0), Lookup::Listed)?;
            Ok(CreditAccount::User { id })
        }
    }
}

/// Writes a domain command's users as ids on the wire (what a client sends).
#[derive(Clone, Copy, Debug, Default)]
pub struct ById;

impl MapUsers<UserId, UserRef> for ById {
    type Error = std::convert::Infallible;

    fn user(&mut self, user: UserId, _: Lookup) -> Result<UserRef, Self::Error> {
        Ok(user.into())
    }

    fn member(&mut self, member: Member) -> Result<MemberRef, Self::Error> {
        Ok(MemberRef {
            user: member.user.into(),
            weight: member.weight,
        })
    }

    fn account(&mut self, account: CreditAccount) -> Result<AccountRef, Self::Error> {
        Ok(AccountRef(match account {
            CreditAccount::Pool => AccountRef::POOL.to_owned(),
            CreditAccount::User { id } => id.to_string(),
        }))
    }
}
