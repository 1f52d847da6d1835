//! An in-memory [`LogStore`] for fast tests: the same contract as the sled log, minus
//! durability (nothing survives the process).

use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;

use offboard_events::CommandId;

use super::{ChainHead, CommandRecord, CommitBatch, LogStore, StoreError};

#[derive(Debug, Default)]
struct Inner {
    events: BTreeMap<u64, Vec<u8>>,
    commands: HashMap<CommandId, CommandRecord>,
    head: Option<ChainHead>,
    checkpoints: HashMap<String, Vec<u8>>,
}

/// A log held in memory.
#[derive(Debug, Default)]
pub struct MemoryLog {
    inner: RwLock<Inner>,
}

impl MemoryLog {
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl LogStore for MemoryLog {
    fn write(&self, batch: &CommitBatch) -> Result<(), StoreError> {
        let mut inner = self.write();
        for event in &batch.events {
            inner.events.insert(event.position, event.bytes.clone());
        }
        for (id, record) in &batch.commands {
            inner.commands.insert(*id, record.clone());
        }
        if let Some(head) = &batch.head {
            inner.head = Some(head.clone());
        }
        Ok(())
    }

    /// Memory has nothing to make durable.
    fn sync(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn head(&self) -> Result<ChainHead, StoreError> {
        Ok(self.read().head.clone().unwrap_or_else(ChainHead::empty))
    }

    fn get(&self, position: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.read().events.get(&position).cloned())
    }

    fn scan(
        &self,
        from: u64,
        to: u64,
        visit: &mut dyn FnMut(u64, &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        if from > to {
            return Ok(());
        }
        let inner = self.read();
        for (position, bytes) in inner.events.range(from..=to) {
            if !visit(*position, bytes) {
                break;
            }
        }
        Ok(())
    }

    fn command(&self, id: CommandId) -> Result<Option<CommandRecord>, StoreError> {
        Ok(self.read().commands.get(&id).cloned())
    }

    fn scan_commands(
        &self,
        visit: &mut dyn FnMut(CommandId, CommandRecord) -> bool,
    ) -> Result<(), StoreError> {
        let commands: Vec<_> = self.read().commands.clone().into_iter().collect();
        for (id, record) in commands {
            if !visit(id, record) {
                break;
            }
        }
        Ok(())
    }

    fn put_checkpoint(&self, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.write()
            .checkpoints
            .insert(name.to_owned(), bytes.to_vec());
        Ok(())
    }

    fn checkpoint(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.read().checkpoints.get(name).cloned())
    }

    fn remove_checkpoint(&self, name: &str) -> Result<(), StoreError> {
        self.write().checkpoints.remove(name);
        Ok(())
    }

    fn checkpoint_names(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut names: Vec<String> = (self.read().checkpoints.keys())
            .filter(|name| name.starts_with(prefix))
            .cloned()
            .collect();
        names.sort();
        Ok(names)
    }

    fn tamper(&self, position: u64, bytes: &[u8]) -> Result<(), StoreError> {
        self.write().events.insert(position, bytes.to_vec());
        Ok(())
    }
}
