//! Proleptic Gregorian calendar arithmetic on plain integers.
//!
//! The searches in this crate step through wall-clock fields millions of
//! times in the worst case; doing that on integers (seconds since
//! 1970-01-01T00:00 of some wall clock) keeps them cheap and free of
//! fallible conversions. Days are converted with Howard Hinnant's
//! `days_from_civil` / `civil_from_days` algorithms, which are exact for
//! every year an `i64` day count can reach.

pub(crate) const SECS_PER_DAY: i64 = 86_400;

pub(crate) fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// Number of days in `month` (1–12) of `year`.
pub(crate) fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given date (negative before it).
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let (month, day) = (i64::from(month), i64::from(day));
    // Count years from March so the leap day falls at the end of the year.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date `days` after 1970-01-01, as (year, month 1–12, day 1–31).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // Both are small by construction (1..=12, 1..=31).
    (year, month as u32, day as u32)
}

/// Day of the week of the day `days` after 1970-01-01; 0 is Sunday.
pub(crate) fn weekday(days: i64) -> u32 {
    // 1970-01-01 was a Thursday.
    (days + 4).rem_euclid(7) as u32
}

/// A wall-clock reading broken into fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fields {
    pub(crate) year: i64,
    pub(crate) month: u32,
    pub(crate) day: u32,
    pub(crate) hour: u32,
    pub(crate) minute: u32,
    pub(crate) second: u32,
    pub(crate) weekday: u32,
}

impl Fields {
    /// Splits seconds since 1970-01-01T00:00 of a wall clock into fields.
    pub(crate) fn from_secs(secs: i64) -> Self {
        let days = secs.div_euclid(SECS_PER_DAY);
        // In 0..86_400, so the casts below cannot truncate.
        let time = secs.rem_euclid(SECS_PER_DAY) as u32;
        let (year, month, day) = civil_from_days(days);
        Self {
            year,
            month,
            day,
            hour: time / 3600,
            minute: time / 60 % 60,
            second: time % 60,
            weekday: weekday(days),
        }
    }
}

/// Seconds since 1970-01-01T00:00 of the given wall-clock reading.
pub(crate) fn secs_from_civil(year: i64, month: u32, day: u32, hour: u32, min: u32, sec: u32) -> i64 {
    days_from_civil(year, month, day) * SECS_PER_DAY + i64::from(hour) * 3600 + i64::from(min) * 60 + i64::from(sec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_counts_round_trip_across_centuries() {
        for days in -800_000..800_000 {
            let (y, m, d) = civil_from_days(days);
            assert!((1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m));
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
    }

    #[test]
    fn known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        // 2022-03-06 was a Sunday, 2022-03-07 a Monday.
        assert_eq!(weekday(days_from_civil(2022, 3, 6)), 0);
        assert_eq!(weekday(days_from_civil(2022, 3, 7)), 1);
        assert_eq!(weekday(-1), 3);
    }

    #[test]
    fn month_lengths() {
        assert_eq!(days_in_month(2022, 1), 31);
        assert_eq!(days_in_month(2022, 2), 28);
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(2000, 2), 29);
        assert_eq!(days_in_month(2100, 2), 28);
        assert_eq!(days_in_month(2022, 4), 30);
        assert_eq!(days_in_month(2022, 12), 31);
    }

    #[test]
    fn fields_split_negative_and_positive_seconds() {
        let f = Fields::from_secs(-1);
        assert_eq!((f.year, f.month, f.day), (1969, 12, 31));
        assert_eq!((f.hour, f.minute, f.second), (23, 59, 59));
        let s = secs_from_civil(2022, 3, 23, 12, 53, 2);
        let f = Fields::from_secs(s);
        assert_eq!(
            (f.year, f.month, f.day, f.hour, f.minute, f.second),
            (2022, 3, 23, 12, 53, 2)
        );
        assert_eq!(f.weekday, 3);
    }
}
