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

/// `command` with every resource key an earlier build stored in another spelling
/// replaced by that spelling; borrowed unchanged when the org has none (nearly always).
pub fn as_stored<'c>(ownership: &Ownership, command: &'c Command) -> Cow<'c, Command> {
    if !ownership.has_other_spellings() {
        return Cow::Borrowed(command);
    }
    let mut command = command.clone();
    let respell = |key: &mut ResourceKey| {
        if let Some(stored) = ownership.stored_spelling(key.as_str()) {
            *key = ResourceKey::stored(stored);
        }
    };
    for_each_key(&mut command, respell);
    Cow::Owned(command)
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
