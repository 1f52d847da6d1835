//! Distributions (R18): lead rotations, workflow automations and integrations with
//! weighted members and an optional backup, and the rebalance suggested when a member
//! leaves.

use std::collections::BTreeMap;

use offboard_events::{DistributionId, DistributionKind, Envelope, Event, Member, UserId};
use serde::{Deserialize, Serialize};

/// One distribution as it stands now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Distribution {
    pub id: DistributionId,
    pub name: String,
    pub kind: DistributionKind,
    pub members: Vec<Member>,
    pub backup: Option<UserId>,
}

impl Distribution {
    pub fn has_member(&self, user: UserId) -> bool {
        self.members.iter().any(|m| m.user == user)
    }

    /// Whether `user` is the only member, so removing them needs a replacement (R10, R18).
    pub fn is_sole_member(&self, user: UserId) -> bool {
        !self.members.is_empty() && self.members.iter().all(|m| m.user == user)
    }
}

/// Every distribution of one org, by id.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Distributions {
    by_id: BTreeMap<DistributionId, Distribution>,
}

impl Distributions {
    pub(crate) fn apply(&mut self, env: &Envelope) {
        match &env.event {
            // A distribution is created once; a repeated creation changes nothing.
            Event::DistributionCreated(e) => {
                self.by_id
                    .entry(e.distribution_id)
                    .or_insert_with(|| Distribution {
                        id: e.distribution_id,
                        name: e.name.clone(),
                        kind: e.kind,
                        members: e.members.clone(),
                        backup: e.backup,
                    });
            }
            Event::DistributionRebalanced(e) => {
                if let Some(d) = self.by_id.get_mut(&e.distribution_id) {
                    d.members = e.after.clone();
                }
            }
            Event::DistributionBackupChanged(e) => {
                if let Some(d) = self.by_id.get_mut(&e.distribution_id) {
                    d.backup = e.to;
                }
            }
            _ => {}
        }
    }

    pub fn get(&self, id: DistributionId) -> Option<&Distribution> {
        self.by_id.get(&id)
    }

    /// The distribution named `name`, compared by [`crate::text::caseless_key`] (NFC,
    /// case folded; the first by id if several).
    pub fn by_name(&self, name: &str) -> Option<&Distribution> {
        let name = crate::text::caseless_key(name);
        self.by_id
            .values()
            .find(|d| crate::text::caseless_key(&d.name) == name)
    }

    /// The distributions `user` is a member of, by id.
    pub fn distributions_of(&self, user: UserId) -> impl Iterator<Item = &Distribution> {
        self.by_id.values().filter(move |d| d.has_member(user))
    }

    /// The distributions `user` is the backup of, by id.
    pub fn backup_of(&self, user: UserId) -> impl Iterator<Item = &Distribution> {
        self.by_id.values().filter(move |d| d.backup == Some(user))
    }

    /// Every distribution, by id.
    pub fn all(&self) -> impl Iterator<Item = &Distribution> {
        self.by_id.values()
    }
}

/// The most a distribution's weights may add up to. Weights are shares of new work, so
/// a million units lets one member take as little as one part in a million, finer than
/// any rotation routes; and with every total at most 10^6, every weight and every
/// suggested weight fits a `u32` with room, the products a rebalance scales by
/// (weight × total ≤ 10^12) fit a `u64`, and a `u32` sum of one distribution's weights
/// cannot overflow. `decide` refuses a distribution over it (`invalid_input`).
pub const MAX_TOTAL_WEIGHT: u64 = 1_000_000;

/// The weights' sum.
pub fn total_weight(members: &[Member]) -> u64 {
    members.iter().map(|m| u64::from(m.weight)).sum()
}

/// What the weights must add up to after a rebalance of a distribution whose weights
/// add up to `total` (R18: the same total), capped at [`MAX_TOTAL_WEIGHT`]: a
/// distribution over it (only an earlier build could create one) is brought down to it.
pub fn rebalanced_total(total: u64) -> u64 {
    total.min(MAX_TOTAL_WEIGHT)
}

/// The members left when `leaving` goes, weights scaled so they add up to
/// [`rebalanced_total`] of the total before (R18: the same total); `None` when nobody
/// would be left (`replacement_required`).
///
/// Scaling uses the largest-remainder method: each member first gets the whole part of
/// its exact share, then the units still missing go one each to the largest fractional
/// remainders, ties to the member listed first. Integer arithmetic only, so the result
/// is the same everywhere. When every remaining weight is zero there is no proportion to
/// keep and the total is shared evenly. Scaling up (the usual case) never lowers a
/// weight, so positive weights stay positive; scaling down (a distribution over
/// [`MAX_TOTAL_WEIGHT`]) first gives every member one unit, then shares the rest.
pub fn suggested_rebalance(members: &[Member], leaving: UserId) -> Option<Vec<Member>> {
    let target = u128::from(rebalanced_total(total_weight(members)));
    let staying: Vec<Member> = members
        .iter()
        .copied()
        .filter(|m| m.user != leaving)
        .collect();
    if staying.is_empty() {
        return None;
    }
    let count = staying.len() as u128;
    let staying_total: u128 = staying.iter().map(|m| u128::from(m.weight)).sum();
    // One unit each first when scaling down, so nobody is scaled to nothing.
    let floor = u128::from(staying_total > target && target >= count);
    let shared = target - floor * count;
    // (whole share, remainder numerator) per member, shares measured in 1/denominator.
    let (denominator, numerators): (u128, Vec<u128>) = if staying_total == 0 {
        (count, vec![shared; staying.len()])
    } else {
        let scaled = staying
            .iter()
            .map(|m| u128::from(m.weight) * shared)
            .collect();
        (staying_total, scaled)
    };
    let mut weights: Vec<u128> = numerators.iter().map(|n| floor + n / denominator).collect();
    let missing = target - weights.iter().sum::<u128>();
    let mut order: Vec<usize> = (0..staying.len()).collect();
    // Stable sort: equal remainders keep member order.
    order.sort_by(|a, b| (numerators[*b] % denominator).cmp(&(numerators[*a] % denominator)));
    for i in order.into_iter().take(missing as usize) {
        weights[i] += 1;
    }
    Some(
        staying
            .into_iter()
            .zip(weights)
            .map(|(m, w)| Member {
                user: m.user,
                weight: u32::try_from(w).expect("a weight is at most MAX_TOTAL_WEIGHT"),
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(n: u128) -> UserId {
        UserId(uuid::Uuid::from_u128(n))
    }

    fn members(weights: &[(u128, u32)]) -> Vec<Member> {
        weights
            .iter()
            .map(|(u, w)| Member {
                user: user(*u),
                weight: *w,
            })
            .collect()
    }

    #[test]
    fn scales_remaining_weights_to_the_same_total() {
        let before = members(&[(1, 2), (2, 1), (3, 1)]);
        assert_eq!(
            suggested_rebalance(&before, user(1)),
            Some(members(&[(2, 2), (3, 2)]))
        );
    }

    #[test]
    fn largest_remainder_breaks_ties_by_member_order() {
        let before = members(&[(1, 1), (2, 1), (3, 1)]);
        assert_eq!(
            suggested_rebalance(&before, user(1)),
            Some(members(&[(2, 2), (3, 1)]))
        );
        let before = members(&[(1, 1), (3, 1), (2, 1)]);
        assert_eq!(
            suggested_rebalance(&before, user(1)),
            Some(members(&[(3, 2), (2, 1)]))
        );
    }

    #[test]
    fn largest_remainder_goes_to_the_largest_fraction() {
        // Total 10, staying 3 + 4 = 7: exact shares 30/7 = 4.29 and 40/7 = 5.71.
        let before = members(&[(1, 3), (2, 3), (3, 4)]);
        assert_eq!(
            suggested_rebalance(&before, user(1)),
            Some(members(&[(2, 4), (3, 6)]))
        );
        // Total 100 over 1 + 1 + 1: 33.3 each, one unit to the first.
        let before = members(&[(1, 97), (2, 1), (3, 1), (4, 1)]);
        assert_eq!(
            suggested_rebalance(&before, user(1)),
            Some(members(&[(2, 34), (3, 33), (4, 33)]))
        );
    }

    #[test]
    fn the_sole_member_needs_a_replacement() {
        assert_eq!(suggested_rebalance(&members(&[(1, 5)]), user(1)), None);
        assert_eq!(suggested_rebalance(&[], user(1)), None);
    }

    #[test]
    fn zero_weights_and_strangers() {
        let before = members(&[(1, 3), (2, 0), (3, 0)]);
        assert_eq!(
            suggested_rebalance(&before, user(1)),
            Some(members(&[(2, 2), (3, 1)]))
        );
        let before = members(&[(1, 3), (2, 1)]);
        assert_eq!(suggested_rebalance(&before, user(9)), Some(before.clone()));
    }

    #[test]
    fn a_distribution_over_the_maximum_is_brought_down_to_it() {
        // Issue 15: ann = bob = u32::MAX was accepted by earlier builds; the suggestion
        // for bob alone was capped at u32::MAX and so refused for changing the total.
        let max = MAX_TOTAL_WEIGHT as u32;
        let before = members(&[(1, u32::MAX), (2, u32::MAX)]);
        assert_eq!(
            suggested_rebalance(&before, user(1)),
            Some(members(&[(2, max)]))
        );
        // Scaling down keeps every member: one unit each, the rest by weight.
        let before = members(&[(1, u32::MAX), (2, u32::MAX), (3, 1)]);
        let after = suggested_rebalance(&before, user(1)).unwrap();
        assert_eq!(after, members(&[(2, max - 1), (3, 1)]));
        assert_eq!(total_weight(&after), MAX_TOTAL_WEIGHT);
    }
}
