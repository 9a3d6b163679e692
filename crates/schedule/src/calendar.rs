//! A structured calendar compiled to bit sets, matched against and searched
//! over wall-clock readings (seconds since 1970-01-01T00:00 of the spec's
//! zone). Time zones are handled by the caller, which hands this module one
//! stretch of constant UTC offset at a time.

use crate::civil::{self, Fields, SECS_PER_DAY, days_in_month, secs_from_civil};
use crate::fields::{MAX_YEAR, MIN_YEAR};
use crate::types::{Range, StructuredCalendarSpec};

/// A set of field values. Every field fits in 128 bits: years are stored as
/// offsets from [`MIN_YEAR`], so 2000–2100 become 0–100.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Bits(u128);

impl Bits {
    /// Expands ranges, keeping only values in `lo..=hi`. Validation has
    /// already rejected out-of-bounds ranges; clamping anyway keeps this
    /// cheap and panic-free whatever it is given.
    fn from_ranges(ranges: &[Range], lo: i32, hi: i32, base: i32) -> Self {
        let mut bits = 0u128;
        for r in ranges {
            let step = i64::from(r.step.max(1));
            let start = i64::from(r.start);
            let end = i64::from(r.end.max(r.start).min(hi));
            let mut v = start;
            if v < i64::from(lo) {
                // Jump to the first value of the progression inside the field.
                let gap = i64::from(lo) - v;
                v += (gap + step - 1) / step * step;
            }
            while v <= end {
                let bit = v - i64::from(base);
                if (0..128).contains(&bit) {
                    bits |= 1 << bit;
                }
                v += step;
            }
        }
        Self(bits)
    }

    fn contains(self, v: u32) -> bool {
        v < 128 && (self.0 >> v) & 1 == 1
    }

    /// The smallest member `>= v`.
    fn first_from(self, v: u32) -> Option<u32> {
        if v >= 128 {
            return None;
        }
        let above = self.0 >> v;
        (above != 0).then(|| v + above.trailing_zeros())
    }

    /// Whether every value in `lo..=hi` is a member.
    fn covers(self, lo: u32, hi: u32) -> bool {
        (lo..=hi).all(|v| self.contains(v))
    }
}

/// The widest wall-clock unit a calendar matches entirely: if it matches a
/// time, it matches the whole unit around that time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Unit {
    Second,
    Minute,
    Hour,
    Day,
    Month,
    Year,
}

#[derive(Clone, Debug)]
pub(crate) struct CompiledCalendar {
    second: Bits,
    minute: Bits,
    hour: Bits,
    day_of_month: Bits,
    month: Bits,
    day_of_week: Bits,
    /// `None` is any year, including years outside 2000–2100.
    year: Option<Bits>,
    whole: Unit,
}

/// A bound on iterations of the search loop. The loop provably ends (the
/// cursor only moves forward and stops after [`MAX_YEAR`]), at well under
/// this many steps; the bound is a second line of defence.
const MAX_SEARCH_STEPS: u32 = 2_000_000;

impl CompiledCalendar {
    pub(crate) fn new(spec: &StructuredCalendarSpec) -> Self {
        let bits = |ranges: &[Range], lo, hi| Bits::from_ranges(ranges, lo, hi, 0);
        let second = bits(&spec.second, 0, 59);
        let minute = bits(&spec.minute, 0, 59);
        let hour = bits(&spec.hour, 0, 23);
        let day_of_month = bits(&spec.day_of_month, 1, 31);
        let month = bits(&spec.month, 1, 12);
        let day_of_week = bits(&spec.day_of_week, 0, 6);
        let year = (!spec.year.is_empty()).then(|| Bits::from_ranges(&spec.year, MIN_YEAR, MAX_YEAR, MIN_YEAR));

        let whole = if !second.covers(0, 59) {
            Unit::Second
        } else if !minute.covers(0, 59) {
            Unit::Minute
        } else if !hour.covers(0, 23) {
            Unit::Hour
        } else if !(day_of_month.covers(1, 31) && day_of_week.covers(0, 6)) {
            Unit::Day
        } else if !month.covers(1, 12) {
            Unit::Month
        } else {
            Unit::Year
        };
        Self {
            second,
            minute,
            hour,
            day_of_month,
            month,
            day_of_week,
            year,
            whole,
        }
    }

    /// False when nothing can ever match: a field with no values, or only
    /// days that no chosen month has (February 30, April 31). Dropping such
    /// calendars up front spares every search a scan to the year 2100.
    pub(crate) fn can_match(&self) -> bool {
        let fields_nonempty = [
            self.second,
            self.minute,
            self.hour,
            self.day_of_month,
            self.month,
            self.day_of_week,
        ]
        .iter()
        .all(|b| b.0 != 0)
            && self.year.is_none_or(|y| y.0 != 0);
        // A leap year stands in for every year here; a calendar limited to
        // February 29 of non-leap years is still caught by the search's
        // horizon, just not this early.
        let some_day_exists = (1..=12).any(|month| {
            self.month.contains(month)
                && self
                    .day_of_month
                    .first_from(1)
                    .is_some_and(|day| day <= days_in_month(2000, month))
        });
        fields_nonempty && some_day_exists
    }

    fn year_matches(&self, year: i64) -> bool {
        match self.year {
            None => true,
            Some(bits) => {
                (i64::from(MIN_YEAR)..=i64::from(MAX_YEAR)).contains(&year)
                    && bits.contains((year - i64::from(MIN_YEAR)) as u32)
            }
        }
    }

    /// The first year `>= year` this calendar allows, if any by [`MAX_YEAR`].
    fn first_year_from(&self, year: i64) -> Option<i64> {
        if year > i64::from(MAX_YEAR) {
            return None;
        }
        match self.year {
            None => Some(year),
            Some(bits) => {
                let offset = (year - i64::from(MIN_YEAR)).max(0) as u32;
                bits.first_from(offset).map(|o| i64::from(MIN_YEAR) + i64::from(o))
            }
        }
    }

    fn day_matches(&self, year: i64, month: u32, day: u32) -> bool {
        self.day_of_month.contains(day)
            && self
                .day_of_week
                .contains(civil::weekday(civil::days_from_civil(year, month, day)))
    }

    /// Whether the wall-clock reading matches every field.
    pub(crate) fn matches(&self, wall: i64) -> bool {
        let f = Fields::from_secs(wall);
        self.year_matches(f.year)
            && self.month.contains(f.month)
            && self.day_of_month.contains(f.day)
            && self.day_of_week.contains(f.weekday)
            && self.hour.contains(f.hour)
            && self.minute.contains(f.minute)
            && self.second.contains(f.second)
    }

    /// End (exclusive) of the run of wall-clock seconds from `wall` onwards
    /// that this calendar is sure to match, given that it matches `wall`:
    /// the end of the widest unit it matches whole. Lets exclusions skip a
    /// whole excluded day in one step instead of 86 400.
    pub(crate) fn matched_run_end(&self, wall: i64) -> i64 {
        let f = Fields::from_secs(wall);
        let start_of_minute = wall - i64::from(f.second);
        match self.whole {
            Unit::Second => wall + 1,
            Unit::Minute => start_of_minute + 60,
            Unit::Hour => start_of_minute - i64::from(f.minute) * 60 + 3600,
            Unit::Day => wall.div_euclid(SECS_PER_DAY) * SECS_PER_DAY + SECS_PER_DAY,
            Unit::Month if f.month == 12 => secs_from_civil(f.year + 1, 1, 1, 0, 0, 0),
            Unit::Month => secs_from_civil(f.year, f.month + 1, 1, 0, 0, 0),
            Unit::Year => secs_from_civil(f.year + 1, 1, 1, 0, 0, 0),
        }
    }

    /// The first matching wall-clock reading `w` with `after < w < limit`,
    /// searching no further than the end of [`MAX_YEAR`].
    ///
    /// Walks the fields from year down to second, jumping each straight to
    /// its next allowed value and carrying into the next larger field when a
    /// field runs out, so the cost is a few steps per candidate day rather
    /// than per second.
    pub(crate) fn next_after(&self, after: i64, limit: i64) -> Option<i64> {
        let f = Fields::from_secs(after.checked_add(1)?);
        let (mut year, mut month, mut day) = (f.year, f.month, f.day);
        let (mut hour, mut minute, mut second) = (f.hour, f.minute, f.second);

        for _ in 0..MAX_SEARCH_STEPS {
            // Carries left over from the previous step.
            if second >= 60 {
                (minute, second) = (minute + 1, 0);
            }
            if minute >= 60 {
                (hour, minute) = (hour + 1, 0);
            }
            if hour >= 24 {
                (day, hour) = (day + 1, 0);
            }
            if month <= 12 && day > days_in_month(year, month) {
                (month, day) = (month + 1, 1);
            }
            if month > 12 {
                (year, month, day) = (year + 1, 1, 1);
            }

            let first_year = self.first_year_from(year)?;
            if first_year != year {
                (year, month, day, hour, minute, second) = (first_year, 1, 1, 0, 0, 0);
            }
            match self.month.first_from(month) {
                Some(m) if m == month => {}
                Some(m) if m <= 12 => (month, day, hour, minute, second) = (m, 1, 0, 0, 0),
                _ => {
                    (year, month, day, hour, minute, second) = (year + 1, 1, 1, 0, 0, 0);
                    continue;
                }
            }
            if !self.day_matches(year, month, day) {
                (day, hour, minute, second) = (day + 1, 0, 0, 0);
                continue;
            }
            // Every later candidate is on this day or after it.
            if secs_from_civil(year, month, day, 0, 0, 0) >= limit {
                return None;
            }
            match self.hour.first_from(hour) {
                Some(h) if h == hour => {}
                Some(h) if h < 24 => (hour, minute, second) = (h, 0, 0),
                _ => {
                    (day, hour, minute, second) = (day + 1, 0, 0, 0);
                    continue;
                }
            }
            match self.minute.first_from(minute) {
                Some(m) if m == minute => {}
                Some(m) if m < 60 => (minute, second) = (m, 0),
                _ => {
                    (hour, minute, second) = (hour + 1, 0, 0);
                    continue;
                }
            }
            match self.second.first_from(second) {
                Some(s) if s < 60 => second = s,
                _ => {
                    (minute, second) = (minute + 1, 0);
                    continue;
                }
            }
            let found = secs_from_civil(year, month, day, hour, minute, second);
            return (found < limit).then_some(found);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::parse_calendar;
    use crate::types::CalendarSpec;

    fn compile(cal: CalendarSpec) -> CompiledCalendar {
        CompiledCalendar::new(&parse_calendar(&cal).expect("valid calendar"))
    }

    fn at(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> i64 {
        secs_from_civil(y, mo, d, h, mi, s)
    }

    #[test]
    fn the_empty_calendar_spec_is_midnight_daily() {
        let cal = compile(CalendarSpec::default());
        assert!(cal.matches(at(2022, 3, 17, 0, 0, 0)));
        assert!(cal.matches(at(2022, 3, 18, 0, 0, 0)));
        assert!(!cal.matches(at(2022, 3, 18, 5, 15, 0)));
        assert_eq!(
            cal.next_after(at(2022, 3, 17, 0, 0, 0), i64::MAX),
            Some(at(2022, 3, 18, 0, 0, 0))
        );
    }

    #[test]
    fn day_of_month_and_day_of_week_must_both_match() {
        // Even days that are also Wednesdays or Thursdays, at 05:55:55.
        let cal = compile(CalendarSpec {
            second: "55".into(),
            minute: "55".into(),
            hour: "5".into(),
            day_of_week: "wed-thurs".into(),
            day_of_month: "2/2".into(),
            ..Default::default()
        });
        assert!(!cal.matches(at(2022, 3, 9, 5, 55, 55))); // odd Wednesday
        assert!(cal.matches(at(2022, 3, 10, 5, 55, 55))); // even Thursday
        assert!(!cal.matches(at(2022, 3, 14, 5, 55, 55))); // even Monday
        assert!(cal.matches(at(2022, 3, 16, 5, 55, 55)));
        assert!(!cal.matches(at(2022, 2, 10, 1, 55, 55)));
        let next = |t| cal.next_after(t, i64::MAX);
        // Only the second moves, then minute and second, then the hour too.
        assert_eq!(next(at(2022, 3, 2, 5, 55, 33)), Some(at(2022, 3, 2, 5, 55, 55)));
        assert_eq!(next(at(2022, 3, 2, 5, 33, 33)), Some(at(2022, 3, 2, 5, 55, 55)));
        assert_eq!(next(at(2022, 3, 2, 3, 33, 33)), Some(at(2022, 3, 2, 5, 55, 55)));
        assert_eq!(next(at(2022, 3, 1, 1, 11, 11)), Some(at(2022, 3, 2, 5, 55, 55)));
        // Strictly after: an exact match moves on to the next day that fits.
        assert_eq!(next(at(2022, 3, 2, 5, 55, 55)), Some(at(2022, 3, 10, 5, 55, 55)));
    }

    #[test]
    fn sunday_spellings() {
        let sunday = at(2022, 3, 6, 0, 0, 0);
        let saturday = at(2022, 3, 5, 0, 0, 0);
        let monday = at(2022, 3, 7, 0, 0, 0);
        let dow = |s: &str| {
            compile(CalendarSpec {
                day_of_week: s.into(),
                ..Default::default()
            })
        };
        for s in [
            "0", "7", "sun", "*", "0-3", "5-7", "5-7/2", "6-7", "2-7/5", "0-7/7", "0/7", "1-7",
        ] {
            assert!(dow(s).matches(sunday), "{s}");
        }
        for s in ["*", "5-7", "6-7", "2/4", "2-7/4"] {
            assert!(dow(s).matches(saturday), "{s}");
        }
        for s in ["0", "7", "sun", "5-7", "5-7/2", "6-7", "2-7/5", "0-7/7", "0/7"] {
            assert!(!dow(s).matches(monday), "{s}");
        }
    }

    #[test]
    fn impossible_dates_find_nothing_quickly() {
        let feb30 = compile(CalendarSpec {
            day_of_month: "30".into(),
            month: "feb".into(),
            ..Default::default()
        });
        assert_eq!(feb30.next_after(0, i64::MAX), None);
        assert!(!feb30.can_match());
        let short_31sts = compile(CalendarSpec {
            day_of_month: "31".into(),
            month: "2,4,6,9,11".into(),
            ..Default::default()
        });
        assert!(!short_31sts.can_match());
        let leap_day = compile(CalendarSpec {
            day_of_month: "29".into(),
            month: "2".into(),
            ..Default::default()
        });
        assert!(leap_day.can_match());
        let past = compile(CalendarSpec {
            year: "2001".into(),
            ..Default::default()
        });
        assert_eq!(past.next_after(at(2022, 1, 1, 0, 0, 0), i64::MAX), None);
    }

    #[test]
    fn last_day_of_february_in_leap_years_only() {
        let cal = compile(CalendarSpec {
            day_of_month: "29".into(),
            month: "2".into(),
            ..Default::default()
        });
        assert_eq!(
            cal.next_after(at(2022, 1, 1, 0, 0, 0), i64::MAX),
            Some(at(2024, 2, 29, 0, 0, 0))
        );
        // 2100 is not a leap year and is the last year searched.
        assert_eq!(cal.next_after(at(2096, 2, 29, 0, 0, 0), i64::MAX), None);
    }

    #[test]
    fn the_search_stops_at_the_limit() {
        let cal = compile(CalendarSpec {
            hour: "12".into(),
            ..Default::default()
        });
        let start = at(2022, 3, 1, 13, 0, 0);
        assert_eq!(cal.next_after(start, at(2022, 3, 2, 12, 0, 0)), None);
        assert_eq!(
            cal.next_after(start, at(2022, 3, 2, 12, 0, 1)),
            Some(at(2022, 3, 2, 12, 0, 0))
        );
    }

    #[test]
    fn empty_structured_fields_never_match_except_year() {
        let cal = CompiledCalendar::new(&StructuredCalendarSpec {
            second: vec![Range::single(0)],
            minute: vec![Range::single(0)],
            hour: vec![],
            day_of_month: vec![Range::span(1, 31)],
            month: vec![Range::span(1, 12)],
            day_of_week: vec![Range::span(0, 6)],
            ..Default::default()
        });
        assert!(!cal.can_match());
        let any_year = CompiledCalendar::new(&StructuredCalendarSpec {
            hour: vec![Range::single(0)],
            ..cal_fields_all_but_year()
        });
        assert!(any_year.can_match());
        assert!(any_year.matches(at(1999, 1, 1, 0, 0, 0)));
    }

    fn cal_fields_all_but_year() -> StructuredCalendarSpec {
        StructuredCalendarSpec {
            second: vec![Range::single(0)],
            minute: vec![Range::single(0)],
            hour: vec![Range::span(0, 23)],
            day_of_month: vec![Range::span(1, 31)],
            month: vec![Range::span(1, 12)],
            day_of_week: vec![Range::span(0, 6)],
            ..Default::default()
        }
    }

    #[test]
    fn matched_runs_end_at_the_widest_whole_unit() {
        let all = |s: &str| CalendarSpec {
            second: "*".into(),
            minute: "*".into(),
            hour: "*".into(),
            day_of_month: s.into(),
            ..Default::default()
        };
        let t = at(2022, 3, 23, 12, 53, 2);
        assert_eq!(compile(CalendarSpec::default()).matched_run_end(t), t + 1);
        assert_eq!(compile(all("23")).matched_run_end(t), at(2022, 3, 24, 0, 0, 0));
        assert_eq!(
            compile(CalendarSpec {
                month: "3".into(),
                ..all("*")
            })
            .matched_run_end(t),
            at(2022, 4, 1, 0, 0, 0)
        );
        assert_eq!(compile(all("*")).matched_run_end(t), at(2023, 1, 1, 0, 0, 0));
        let minutes = compile(CalendarSpec {
            second: "*".into(),
            minute: "53".into(),
            hour: "*".into(),
            ..Default::default()
        });
        assert_eq!(minutes.matched_run_end(t), at(2022, 3, 23, 12, 54, 0));
    }

    #[test]
    fn ranges_outside_the_field_are_clamped_not_expanded() {
        let bits = Bits::from_ranges(
            &[Range {
                start: i32::MIN,
                end: i32::MAX,
                step: 1,
            }],
            0,
            59,
            0,
        );
        assert!(bits.covers(0, 59));
        assert!(!bits.contains(60));
        let huge_step = Bits::from_ranges(
            &[Range {
                start: 3,
                end: 59,
                step: i32::MAX,
            }],
            0,
            59,
            0,
        );
        assert_eq!(huge_step, Bits(1 << 3));
    }
}
