//! Unix milliseconds ↔ UTC text for backup file names, and rotation buckets: [`file_name`].
//!
//! No calendar crate: the civil-date conversions are Howard Hinnant's
//! `days_from_civil` / `civil_from_days`, exact for the proleptic Gregorian
//! calendar.

const MS_PER_DAY: i64 = 86_400_000;
const MS_PER_HOUR: i64 = 3_600_000;

/// `(year, month, day)` of the day `days` after 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `2024-05-01T12:00:00.123Z` for a unix-millisecond time.
pub fn utc_text(ms: i64) -> String {
    let (year, month, day) = civil_from_days(ms.div_euclid(MS_PER_DAY));
    let in_day = ms.rem_euclid(MS_PER_DAY);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day / MS_PER_HOUR,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    )
}

/// The snapshot file name for a backup taken at `ms`:
/// `ledger-20240501T120000123Z.db` (sorts by time as text).
pub fn file_name(ms: i64) -> String {
    let text: String = utc_text(ms)
        .chars()
        .filter(|c| !matches!(c, '-' | ':' | '.'))
        .collect();
    format!("ledger-{text}.db")
}

/// The hour bucket (hours since the epoch).
pub fn hour_bucket(ms: i64) -> i64 {
    ms.div_euclid(MS_PER_HOUR)
}

/// The day bucket (UTC days since the epoch).
pub fn day_bucket(ms: i64) -> i64 {
    ms.div_euclid(MS_PER_DAY)
}

/// The ISO week bucket (weeks starting Monday; 1970-01-01 was a Thursday).
pub fn week_bucket(ms: i64) -> i64 {
    (day_bucket(ms) + 3).div_euclid(7)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(utc_text(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(utc_text(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(utc_text(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(
            file_name(1_700_000_000_123),
            "ledger-20231114T221320123Z.db"
        );
    }

    #[test]
    fn weeks_start_on_monday() {
        // 2023-11-13 was a Monday, 2023-11-12 a Sunday.
        let monday = 1_699_833_600_000;
        assert_eq!(week_bucket(monday), week_bucket(monday + 6 * MS_PER_DAY));
        assert_ne!(week_bucket(monday), week_bucket(monday - 1));
    }
}
