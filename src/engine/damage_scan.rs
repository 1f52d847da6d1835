//! One pass over the whole log in the background when `offboard serve` starts (issue 15,
//! section 2). Opening reads only the tail after the checkpoint, so a page damaged
//! behind it would go unnoticed until some read met it, while writes went on being
//! accepted. The pass reads every event once; a read that meets damage stops writes
//! (`Engine::noticed`), and `/readyz` says so.

use std::sync::Weak;

use super::{Engine, ReadError};

/// Positions read per step: the engine is held only for one step at a time, so a
/// shutdown is never kept waiting by the pass for longer than one step (~10 ms).
const STEP: u64 = 10_000;

/// Reads and decodes `1..=last position` in steps, holding the engine only during a
/// step; stops early when the engine is gone. `Ok(n)`: n positions read without damage.
/// `Err`: the first damage met — writes are already refused when this returns.
pub fn scan_for_damage(engine: &Weak<Engine>) -> Result<u64, ReadError> {
    let mut from = 1;
    loop {
        let Some(engine) = engine.upgrade() else {
            return Ok(from - 1);
        };
        let last = engine.last_position();
        if from > last {
            return Ok(last);
        }
        let to = last.min(from + STEP - 1);
        engine.check_range(from, to)?;
        from = to + 1;
    }
}
