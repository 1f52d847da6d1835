//! `offboard-projections`: pure folds of the log (placeholder until the views land).

use offboard_events::Envelope;

/// All projected state.
#[derive(Clone, Debug, Default)]
pub struct State {
    position: u64,
}

impl State {
    pub const VERSION: u32 = 0;

    pub fn apply(&mut self, env: &Envelope) {
        self.position = env.position;
    }

    pub fn position(&self) -> u64 {
        self.position
    }
}
