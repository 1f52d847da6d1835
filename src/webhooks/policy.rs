//! When to try a failed delivery again: exponential backoff with "equal jitter" (half the
//! delay fixed, half random, so receivers coming back are not hit by every subscription
//! at once), never more than the maximum, and never sooner than the receiver's
//! `Retry-After` (honoured up to [`MAX_RETRY_AFTER`], even above the maximum: the
//! receiver knows when it will be back).

use std::time::Duration;

use chacha20poly1305::aead::rand_core::RngCore;
use chacha20poly1305::aead::OsRng;
use chrono::{DateTime, Utc};

use super::WebhookOptions;

/// The longest `Retry-After` honoured: one day. A receiver asking for more is tried again
/// after a day (and counts an attempt each time, so it is parked in the end).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(86_400);

/// The delay before attempt `attempts + 1`, after `attempts` (≥ 1) failed ones: `min ×
/// 2^(attempts−1)` capped at `max`, then jittered into `[d/2, d]`, then raised to
/// `retry_after` (itself capped at [`MAX_RETRY_AFTER`]).
pub fn retry_delay(
    options: &WebhookOptions,
    attempts: u32,
    retry_after: Option<Duration>,
) -> Duration {
    let doubling = 2u32.saturating_pow(attempts.saturating_sub(1).min(31));
    let full = options
        .backoff_min
        .saturating_mul(doubling)
        .min(options.backoff_max);
    let half = full / 2;
    let jitter = half.mul_f64((OsRng.next_u32() as f64) / (u32::MAX as f64));
    let delay = half + jitter;
    delay.max(retry_after.unwrap_or_default().min(MAX_RETRY_AFTER))
}

/// A `Retry-After` value: seconds, or an HTTP date (relative to `now`).
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Past u64's seconds is still "later than we will wait": the longest.
        return Some(
            value
                .parse::<u64>()
                .map_or(Duration::MAX, Duration::from_secs),
        );
    }
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_from_the_minimum_stay_jittered_and_capped_and_honour_retry_after() {
        let options = WebhookOptions::default();
        for (attempts, full) in [(1, 5), (2, 10), (3, 20), (10, 2560), (11, 3600), (40, 3600)] {
            for _ in 0..50 {
                let d = retry_delay(&options, attempts, None);
                let full = Duration::from_secs(full);
                assert!(d >= full / 2 && d <= full, "{attempts}: {d:?}");
            }
        }
        let d = retry_delay(&options, 1, Some(Duration::from_secs(120)));
        assert_eq!(d, Duration::from_secs(120));
        // A Retry-After beyond the backoff's maximum is still honoured (a tester saw a
        // 429 with `Retry-After: 6` retried after 4 s under `--webhook-backoff-max 4`)...
        let short = WebhookOptions {
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(4),
            ..options
        };
        let d = retry_delay(&short, 1, Some(Duration::from_secs(6)));
        assert_eq!(d, Duration::from_secs(6));
        let d = retry_delay(&options, 1, Some(Duration::from_secs(7_200)));
        assert_eq!(d, Duration::from_secs(7_200));
        // ...up to a day.
        let d = retry_delay(&options, 1, Some(Duration::from_secs(10 * 86_400)));
        assert_eq!(d, MAX_RETRY_AFTER);
        let now = DateTime::parse_from_rfc3339("2026-12-01T04:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            parse_retry_after(" 30 ", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Tue, 01 Dec 2026 04:01:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(parse_retry_after("soon", now), None);
        // Too many digits for u64 is the longest wait, capped like any other.
        let huge = parse_retry_after("99999999999999999999", now);
        assert_eq!(huge, Some(Duration::MAX));
        assert_eq!(retry_delay(&options, 1, huge), MAX_RETRY_AFTER);
    }
}
