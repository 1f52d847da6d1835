//! The console's one way to change anything: a domain command, executed by the engine
//! as the signed-in principal, exactly as `POST /v1/…` executes it (the domain's
//! authority rules decide; the console adds none).

use offboard_events::{CommandId, Event};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::csrf::Posted;
use super::failure::Failure;
use crate::domain::Command;
use crate::server::AppState;
use crate::{Appended, CommandMeta};

/// Executes `command` as the form's principal. The form's hidden `command_id` (a UUID
/// rendered with the form) decides the command id, so a form sent twice is one command;
/// the id is derived from it, the org and the principal, so a value copied from another
/// session names another command.
/// Durable when it returns `Ok` (see [`crate::Engine::execute`]); on `Err` nothing was
/// written, except `outcome_unknown`.
pub async fn execute(
    state: &AppState,
    form: &Posted,
    command: Command,
) -> Result<Appended, Failure> {
    Ok(state.engine().execute(meta(form), command).await?)
}

/// What `command` would append if the form were sent now: decided exactly as
/// [`execute`] would, nothing written (see [`crate::Engine::dry_run`]).
pub fn preview(state: &AppState, form: &Posted, command: &Command) -> Result<Vec<Event>, Failure> {
    Ok(state.engine().dry_run(&meta(form), command)?)
}

/// The command's metadata: the form's principal, and the id its `command_id` decides.
fn meta(form: &Posted) -> CommandMeta {
    let caller = &form.signed.caller;
    let command_id = form
        .one("command_id")
        .and_then(|id| id.parse::<Uuid>().ok())
        .map_or_else(CommandId::new, |key| {
            let digest = Sha256::new()
                .chain_update(b"offboard console form\0")
                .chain_update(caller.org_id.0.as_bytes())
                .chain_update(caller.actor.to_string().as_bytes())
                .chain_update(b"\0")
                .chain_update(key.as_bytes())
                .finalize();
            let mut bytes = [0u8; 16];
            bytes.copy_from_slice(&digest[..16]);
            CommandId(uuid::Builder::from_custom_bytes(bytes).into_uuid())
        });
    CommandMeta {
        org_id: caller.org_id,
        actor: caller.actor.clone(),
        on_behalf_of: None,
        command_id,
        correlation_id: None,
        causation_id: None,
    }
}

/// A fresh command id for a form about to be rendered.
pub fn new_command_id() -> String {
    Uuid::now_v7().to_string()
}
