//! R28: a schedule's time is explicit — RFC 3339 with an offset, or a date read in the
//! org's time zone (policy `time_zone`, an IANA name; the tz database's rules come from
//! `chrono-tz`, never written by hand). A date means the start of that day there; on a
//! day whose midnight a daylight-saving change skips, the first minute that exists.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};

use super::error::{Decided, DomainError};
use super::validate;

/// `input` as a UTC time: `2026-12-31T17:00:00+01:00`, `2026-12-31T16:00:00Z`, or
/// `2026-12-31` (00:00 in `time_zone`). A wall time without an offset is refused
/// (`invalid_input`): it would mean different moments in different places.
pub fn resolve(input: &str, time_zone: &str) -> Decided<DateTime<Utc>> {
    let input = input.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(input) {
        return Ok(t.with_timezone(&Utc));
    }
    let Ok(date) = NaiveDate::parse_from_str(input, "%Y-%m-%d") else {
        return Err(DomainError::InvalidInput(format!(
            "time {input:?} is neither RFC 3339 with an offset (2026-12-31T17:00:00+01:00) nor a date (2026-12-31)"
        )));
    };
    let tz = validate::time_zone(time_zone)?;
    // A gap (the clocks jump over midnight) lasts at most a few hours: take the first
    // minute of the day that exists.
    (0..24 * 60)
        .map(|m| date.and_time(NaiveTime::MIN) + Duration::minutes(m))
        .find_map(|local| tz.from_local_datetime(&local).earliest())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| DomainError::InvalidInput(format!("{input} has no time in {time_zone}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn offsets_and_dates_in_the_org_zone() {
        assert_eq!(
            resolve("2026-12-31T17:00:00+01:00", "UTC").unwrap(),
            utc("2026-12-31T16:00:00Z")
        );
        assert_eq!(
            resolve("2026-12-31", "UTC").unwrap(),
            utc("2026-12-31T00:00:00Z")
        );
        assert_eq!(
            resolve("2026-07-01", "Europe/Berlin").unwrap(),
            utc("2026-06-30T22:00:00Z")
        );
        assert_eq!(
            resolve("2026-12-31", "America/New_York").unwrap(),
            utc("2026-12-31T05:00:00Z")
        );
    }

    #[test]
    fn a_skipped_midnight_starts_the_day_at_its_first_minute() {
        // America/Santiago moved its clocks from 00:00 to 01:00 on 2026-09-06.
        assert_eq!(
            resolve("2026-09-06", "America/Santiago").unwrap(),
            utc("2026-09-06T04:00:00Z")
        );
    }

    #[test]
    fn wall_times_without_an_offset_are_refused() {
        for bad in ["2026-12-31T17:00:00", "tomorrow", "31/12/2026", ""] {
            assert_eq!(resolve(bad, "UTC").unwrap_err().code(), "invalid_input");
        }
    }
}
