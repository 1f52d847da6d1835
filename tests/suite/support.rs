//! Helpers shared by the suite: events to append and engines to append them to.

use offboard::{AppendRequest, CommandMeta};
use offboard_events::{Actor, Event, OrgId, UserActivated, UserId};
use uuid::Uuid;

/// A fixed org, so every test's events look alike.
pub fn org() -> OrgId {
    OrgId(Uuid::from_u128(0x0f))
}

/// The `n`th of a fixed set of users; each has its own stream `user-<id>`.
pub fn user(n: u64) -> UserId {
    UserId(Uuid::from_u128(0x1000 + n as u128))
}

/// A small event on user `n`'s stream.
pub fn touch(n: u64) -> Event {
    UserActivated { user_id: user(n) }.into()
}

/// A one-event append by the system actor.
pub fn append_one(event: Event) -> AppendRequest {
    AppendRequest {
        meta: CommandMeta::new(org(), Actor::System),
        expected: Vec::new(),
        events: vec![event],
    }
}

/// The read and checkpoint half of `LogStore`, handed to the wrapped store in field
/// `$inner` — for the test stores that only change how writes and syncs behave.
macro_rules! delegate_reads {
    ($inner:tt) => {
        fn head(&self) -> Result<offboard::store::ChainHead, offboard::store::StoreError> {
            self.$inner.head()
        }
        fn get(&self, position: u64) -> Result<Option<Vec<u8>>, offboard::store::StoreError> {
            self.$inner.get(position)
        }
        fn scan(
            &self,
            from: u64,
            to: u64,
            visit: &mut dyn FnMut(u64, &[u8]) -> bool,
        ) -> Result<(), offboard::store::StoreError> {
            self.$inner.scan(from, to, visit)
        }
        fn command(
            &self,
            id: offboard_events::CommandId,
        ) -> Result<Option<offboard::store::CommandRecord>, offboard::store::StoreError> {
            self.$inner.command(id)
        }
        fn put_checkpoint(
            &self,
            name: &str,
            bytes: &[u8],
        ) -> Result<(), offboard::store::StoreError> {
            self.$inner.put_checkpoint(name, bytes)
        }
        fn checkpoint(&self, name: &str) -> Result<Option<Vec<u8>>, offboard::store::StoreError> {
            self.$inner.checkpoint(name)
        }
        fn checkpoint_names(
            &self,
            prefix: &str,
        ) -> Result<Vec<String>, offboard::store::StoreError> {
            self.$inner.checkpoint_names(prefix)
        }
        fn tamper(&self, position: u64, bytes: &[u8]) -> Result<(), offboard::store::StoreError> {
            self.$inner.tamper(position, bytes)
        }
    };
}
pub(crate) use delegate_reads;
