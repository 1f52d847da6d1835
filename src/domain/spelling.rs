//! Resource keys as the log spells them. Every key typed is normalized
//! (`validate::resource_key`), but a key an earlier build stored in another spelling
//! (decomposed, or spaced otherwise) is stored as it was. A command naming such a key in
//! its normalized spelling is decided, and its events written, with the stored spelling,
//! so the one resource keeps one history and the projections' exact lookups find it; a
//! registration of the normalized spelling is then `already_exists`, not a look-alike
//! second resource.

use std::borrow::Cow;

use offboard_events::ResourceKey;
use offboard_projections::Ownership;

use super::command::Command;
use super::error::{Decided, DomainError};

/// `command` with every resource key an earlier build stored in another spelling
/// replaced by that spelling; borrowed unchanged when the org has none (nearly always).
///
/// # Errors
/// `invalid_input` for a key an earlier build stored twice, in this spelling and in
/// another, as two resources: the command does not say which it means, and acting on
/// either could be acting on the wrong one.
pub fn as_stored<'c>(ownership: &Ownership, command: &'c Command) -> Decided<Cow<'c, Command>> {
    if !ownership.has_other_spellings() {
        return Ok(Cow::Borrowed(command));
    }
    let mut command = command.clone();
    let mut ambiguous = None;
    let respell = |key: &mut ResourceKey| {
        if let Some(other) = ownership.other_spelling(key.as_str()) {
            ambiguous.get_or_insert_with(|| (key.as_str().to_owned(), other.to_owned()));
        } else if let Some(stored) = ownership.stored_spelling(key.as_str()) {
            *key = ResourceKey::stored(stored);
        }
    };
    for_each_key(&mut command, respell);
    match ambiguous {
        None => Ok(Cow::Owned(command)),
        Some((key, other)) => Err(DomainError::InvalidInput(format!(
            "resource {key:?} names two resources: an earlier build stored it both as {key:?} and as {other:?}, which print alike; act on them by kind (`transfer --kind`) or by account, or retire the one not wanted through a sync from the system of record"
        ))),
    }
}

/// Calls `f` on every resource key `command` names.
fn for_each_key(command: &mut Command, mut f: impl FnMut(&mut ResourceKey)) {
    match command {
        Command::RegisterResources { resources, .. }
        | Command::TransferResources { resources, .. }
        | Command::RetireResources { resources }
        | Command::SetRecordRole { resources, .. }
        | Command::UnsetRecordRole { resources, .. } => resources.iter_mut().for_each(f),
        Command::SyncResources {
            owners,
            retire,
            roles,
        } => {
            owners
                .iter_mut()
                .flat_map(|h| h.resources.iter_mut())
                .chain(retire.iter_mut())
                .for_each(&mut f);
            roles.iter_mut().for_each(|r| f(&mut r.resource));
        }
        _ => {}
    }
}
