//! `delegate_reads!`: the test stores that change only how writes and syncs behave
//! hand every read to the store they wrap (the suite's and the server tests').

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
