"""`tctl schedule` (tctl v1's syntax) end to end: the built tctl against a running sundial
(SQLite and PostgreSQL through the ``server`` fixture) with a Python SDK worker running the
scheduled workflows. tctl runs in a thread so the worker keeps running meanwhile.

Environment: TCTL_BIN overrides the binary (default <repo>/target/debug/tctl).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest

from test_tctl import assert_error, atctl, atctl_json, tctl, tctl_json
from wf_defs import EchoWorkflow, running_worker, uid, wait_until

DESCRIBE_HEADERS = ["ScheduleId", "WorkflowType", "Paused", "Notes", "RunningWorkflows", "NextRunTime",
                    "LastRunTime", "Specification"]
LIST_HEADERS = ["ScheduleId", "WorkflowType", "Paused", "Notes", "NextRunTime", "LastRunTime"]


def rfc3339(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def describe(addr: str, sid: str) -> dict:
    return await atctl_json(addr, "schedule", "describe", "-s", sid)


async def wait_for_actions(addr: str, sid: str, at_least: int, timeout: float = 30) -> dict:
    """Polls `schedule describe` until the schedule has taken `at_least` actions."""
    seen: dict = {}

    async def enough():
        seen["d"] = await describe(addr, sid)
        return seen["d"]["info"]["actionCount"] >= at_least

    await wait_until(enough, timeout=timeout, interval=0.3, what=f"{at_least} actions of schedule {sid}")
    return seen["d"]


def list_row(text: str, sid: str) -> list[str]:
    lines = text.splitlines()
    assert lines[0].split() == LIST_HEADERS, text
    rows = [line.split() for line in lines[1:] if line.split() and line.split()[0] == sid]
    assert len(rows) == 1, text
    return rows[0]


async def test_schedule_create_describe_list_toggle_trigger_backfill_update_delete(client, server):
    addr = server.address
    tq, sid, wid = uid("tctl-sched-tq"), uid("tctl-sched"), uid("tctl-sched-wf")
    async with running_worker(client, tq, workflows=[EchoWorkflow]):
        r = await atctl(addr, "schedule", "create", "-s", sid, "--interval", "2s", "--tq", tq,
                        "--wt", "EchoWorkflow", "-w", wid, "-i", '"tick"', "--overlap_policy", "AllowAll",
                        "--notes", "from-tctl", "--memo_key", "team", "--memo", '"payments"')
        assert r.stdout.strip() == "Schedule created"

        # Runs start every 2 s, named by their nominal time, and the worker completes them.
        d = await wait_for_actions(addr, sid, 2)
        recent = d["info"]["recentActions"]
        assert len(recent) >= 2
        for action in recent:
            nominal = parse_time(action["scheduleTime"])
            assert nominal.timestamp() % 2 == 0, "2 s intervals are aligned to the epoch"
            run = action["startWorkflowResult"]
            assert run["workflowId"] == f"{wid}-{rfc3339(nominal)}"
            assert await client.get_workflow_handle(run["workflowId"], run_id=run["runId"]).result() == "echo tick"

        # describe -o json: tctl's view of the schedule.
        assert d["scheduleId"] == sid
        assert d["workflowType"] == "EchoWorkflow"
        assert d["input"] == ["tick"]
        assert d["startWorkflow"]["workflowId"] == wid
        assert d["startWorkflow"]["taskQueue"] == tq
        assert d["startWorkflow"]["workflowTaskTimeout"] == "10s", "tctl's default --workflow_task_timeout"
        assert d["specification"]["interval"] == [{"interval": "2s", "phase": None}]
        assert d["policies"]["overlapPolicy"] == "SCHEDULE_OVERLAP_POLICY_ALLOW_ALL"
        assert d["state"] == {"notes": "from-tctl", "paused": False, "limitedActions": False,
                              "remainingActions": 0}
        assert d["memo"] == {"team": "payments"}
        assert parse_time(d["nextRunTime"]) > parse_time(d["lastRunTime"])
        assert d["lastRunExecution"]["workflowId"].startswith(f"{wid}-")

        # --print_raw: the whole DescribeSchedule answer.
        raw = (await atctl_json(addr, "schedule", "describe", "--schedule_id", sid, "--print_raw"))
        assert raw["schedule"]["action"]["startWorkflow"]["workflowId"] == wid
        assert raw["schedule"]["spec"]["interval"][0]["interval"] == "2s"
        assert raw["info"]["actionCount"] >= 2
        assert raw["memo"] == {"team": "payments"}
        assert raw["conflictToken"]

        # describe as text: tctl's columns, one row for the schedule.
        text = (await atctl(addr, "schedule", "describe", "-sid", sid)).stdout.splitlines()
        assert text[0].split() == DESCRIBE_HEADERS, text
        row = text[1].split()
        assert row[:4] == [sid, "EchoWorkflow", "false", "from-tctl"], text
        assert '"interval":[{"interval":"2s"}]' in text[1], text

        # list, as a table and as JSON.
        row = list_row((await atctl(addr, "schedule", "list")).stdout, sid)
        assert row[:4] == [sid, "EchoWorkflow", "false", "from-tctl"], row
        listed = {e["scheduleId"]: e for e in await atctl_json(addr, "schedule", "list")}
        assert listed[sid]["startWorkflow"]["workflowType"] == "EchoWorkflow"
        assert listed[sid]["state"] == {"paused": False, "notes": "from-tctl"}
        assert listed[sid]["specification"]["interval"][0]["interval"] == "2s"
        assert listed[sid]["info"]["nextRunTime"]

        # Pause: the reason becomes the notes, and no more runs start.
        r = await atctl(addr, "schedule", "toggle", "-s", sid, "--pause", "--reason", "maintenance")
        assert r.stdout.strip() == "Schedule updated"
        d = await describe(addr, sid)
        assert d["state"]["paused"] is True and d["state"]["notes"] == "maintenance"
        assert list_row((await atctl(addr, "schedule", "list")).stdout, sid)[2:4] == ["true", "maintenance"]
        await asyncio.sleep(1)
        paused_count = (await describe(addr, sid))["info"]["actionCount"]
        await asyncio.sleep(4.5)
        assert (await describe(addr, sid))["info"]["actionCount"] == paused_count, "a paused schedule starts nothing"

        # A trigger starts a run even while paused.
        r = await atctl(addr, "schedule", "trigger", "-s", sid, "--overlap_policy", "AllowAll")
        assert r.stdout.strip() == "Trigger request sent"
        await wait_for_actions(addr, sid, paused_count + 1)
        await asyncio.sleep(2.5)
        assert (await describe(addr, sid))["info"]["actionCount"] == paused_count + 1

        # Unpause with tctl's default reason; runs resume.
        await atctl(addr, "schedule", "toggle", "-s", sid, "--unpause")
        d = await describe(addr, sid)
        assert d["state"]["paused"] is False and d["state"]["notes"] == "(no reason provided)"
        await wait_for_actions(addr, sid, paused_count + 3)

        # Update replaces the whole definition: hourly now, paused, the rest back to defaults.
        r = await atctl(addr, "schedule", "update", "-s", sid, "--interval", "1h", "--tq", tq,
                        "--wt", "EchoWorkflow", "-w", wid, "-i", '"tock"', "--pause", "--notes", "hourly",
                        "--memo_key", "team", "--memo", '"billing"')
        assert r.stdout.strip() == "Schedule updated"
        d = await describe(addr, sid)
        assert d["specification"]["interval"][0]["interval"] == "3600s"
        assert d["state"]["paused"] is True and d["state"]["notes"] == "hourly"
        assert d["policies"]["overlapPolicy"] == "SCHEDULE_OVERLAP_POLICY_SKIP", "unset overlap shows as Skip"
        assert d["input"] == ["tock"]
        assert d["memo"] == {"team": "billing"}, "an update with a memo replaces it"
        nxt = parse_time(d["nextRunTime"])
        assert nxt.minute == 0 and nxt.second == 0, d["nextRunTime"]
        assert d["info"]["actionCount"] >= paused_count + 3, "an update keeps the schedule's history"

        # Backfill a past range: every hourly time in it, ends included, runs once (even paused).
        before = d["info"]["actionCount"]
        start = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(hours=10)
        end = start + timedelta(hours=4)
        end_nanos = str(int(end.timestamp()) * 1_000_000_000)  # tctl also takes Unix nanoseconds
        r = await atctl(addr, "schedule", "backfill", "-s", sid, "--start_time", rfc3339(start),
                        "--end_time", end_nanos, "--overlap_policy", "AllowAll")
        assert r.stdout.strip() == "Backfill request sent"
        d = await wait_for_actions(addr, sid, before + 5)
        await asyncio.sleep(1.5)
        d = await describe(addr, sid)
        assert d["info"]["actionCount"] == before + 5, d["info"]
        backfilled = sorted(parse_time(a["scheduleTime"]) for a in d["info"]["recentActions"]
                            if parse_time(a["scheduleTime"]) <= end)
        assert backfilled == [start + timedelta(hours=i) for i in range(5)]
        for a in d["info"]["recentActions"]:
            if parse_time(a["scheduleTime"]) <= end:
                run = a["startWorkflowResult"]
                assert run["workflowId"] == f"{wid}-{a['scheduleTime']}"
                assert await client.get_workflow_handle(run["workflowId"], run_id=run["runId"]).result() == \
                    "echo tock"

        r = await atctl(addr, "schedule", "delete", "-s", sid)
        assert r.stdout.strip() == "Schedule deleted"
        assert_error(await atctl(addr, "schedule", "describe", "-s", sid, check=False),
                     "DescribeSchedule failed", "NotFound", sid)
        assert sid not in {e["scheduleId"] for e in await atctl_json(addr, "schedule", "list")}
        assert_error(await atctl(addr, "schedule", "delete", "-s", sid, check=False), "DeleteSchedule failed",
                     "NotFound")


async def test_schedule_spec_policy_and_state_flags(client, server):
    addr = server.address
    sid, tq = uid("tctl-sched-spec"), uid("tctl-sched-tq")
    await client.operator_service.add_search_attributes(AddSearchAttributesRequest(
        namespace=client.namespace,
        search_attributes={"TctlScheduleTeam": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD}))
    # Old-docs spelling: single-dash multi-letter flags.
    r = await atctl(addr, "schedule", "create", "-sid", sid,
                    "--calendar", '{"dayOfWeek":"Fri","hour":"17","minute":"5"}',
                    "--calendar", '{"day_of_month": "1", "hour": 9, "comment": "monthly"}',
                    "--cron", "30 2 * * 5", "--time_zone", "America/New_York", "--jitter", "30s",
                    "--start_time", "2030-01-01T00:00:00Z", "--end_time", "2031-01-01T00:00:00Z",
                    "--catchup_window", "10m", "--pause_on_failure", "--remaining_actions", "3",
                    "--pause", "--notes", "friday",
                    "-tq", tq, "-wt", "EchoWorkflow", "-et", "600", "--rt", "1m", "-wtt", "5",
                    "--search_attr_key", "TctlScheduleTeam", "--search_attr_value", '"payments"')
    assert r.stdout.strip() == "Schedule created"
    d = await describe(addr, sid)
    spec = d["specification"]
    calendars = [(c["dayOfWeek"], c["hour"], c["minute"], c["dayOfMonth"], c["comment"]) for c in spec["calendar"]]
    # The server stores calendars and cron strings in structured form; tctl shows them as text.
    assert ("5", "17", "5", "1-31", "") in calendars, calendars
    assert ("0-6", "9", "0", "1", "monthly") in calendars, calendars
    assert ("5", "2", "30", "1-31", "") in calendars, calendars
    assert spec["timezoneName"] == "America/New_York"
    assert spec["jitter"] == "30s"
    assert (spec["startTime"], spec["endTime"]) == ("2030-01-01T00:00:00Z", "2031-01-01T00:00:00Z")
    assert d["policies"]["catchupWindow"] == "600s"
    assert d["policies"]["pauseOnFailure"] is True
    assert d["state"] == {"notes": "friday", "paused": True, "limitedActions": True, "remainingActions": 3}
    assert d["startWorkflow"]["workflowExecutionTimeout"] == "600s"
    assert d["startWorkflow"]["workflowRunTimeout"] == "60s"
    assert d["startWorkflow"]["workflowTaskTimeout"] == "5s"
    assert d["startWorkflow"]["workflowId"], "a workflow id is made up when -w is not given"
    assert d["searchAttributes"] == {"TctlScheduleTeam": "payments"}
    nxt = parse_time(d["nextRunTime"])
    assert nxt >= datetime(2030, 1, 1, tzinfo=timezone.utc), "nothing before --start_time"
    assert d["lastRunTime"] is None and d["info"]["actionCount"] == 0

    raw = await atctl_json(addr, "schedule", "describe", "-s", sid, "--print_raw")
    assert raw["schedule"]["spec"]["structuredCalendar"], "the raw answer keeps the stored form"
    assert raw["schedule"]["policies"]["overlapPolicy"] == "SCHEDULE_OVERLAP_POLICY_UNSPECIFIED"

    text = (await atctl(addr, "schedule", "describe", "-s", sid)).stdout.splitlines()
    assert text[0].split() == DESCRIBE_HEADERS
    assert text[1].split()[:4] == [sid, "EchoWorkflow", "true", "friday"]
    assert '"timezoneName":"America/New_York"' in text[1]

    # A phase offset: every 90 minutes, 15 minutes past the epoch-aligned times.
    phased = uid("tctl-sched-phase")
    await atctl(addr, "schedule", "create", "-s", phased, "--interval", "90m/15m", "--tq", tq, "--wt",
                "EchoWorkflow", "--pause")
    d = await describe(addr, phased)
    assert d["specification"]["interval"] == [{"interval": "5400s", "phase": "900s"}]
    nxt = parse_time(d["nextRunTime"])
    assert (nxt.timestamp() - 900) % 5400 == 0, d["nextRunTime"]

    for s in (sid, phased):
        await atctl(addr, "schedule", "delete", "-s", s)


def test_schedule_bad_flags_give_clear_errors(server):
    addr = server.address
    sid = uid("tctl-sched-bad")
    ok = ["--tq", "q", "--wt", "W"]

    r = tctl(addr, "schedule", "create", "--interval", "1h", *ok, check=False)
    assert r.returncode == 2
    assert_error(r, "--schedule_id", "tctl schedule create --help")
    r = tctl(addr, "schedule", "backfill", "-s", sid, "--start_time", "1h", check=False)
    assert r.returncode == 2
    assert_error(r, "--end_time")
    r = tctl(addr, "schedule", "create", "-s", sid, "--interval", "1h", "--remaining_actions", "-1", *ok,
             check=False)
    assert r.returncode == 2
    assert_error(r, "--remaining_actions", "must not be negative")
    assert_error(tctl(addr, "schedule", "frobnicate", check=False), "frobnicate")
    assert_error(tctl(addr, "schedule", "create", "-s", sid, "--interval", "1h", "--bogus", *ok, check=False),
                 "--bogus")

    def bad(*args: str) -> str:
        r = tctl(addr, "schedule", *args, check=False)
        assert r.returncode == 1, r
        return assert_error(r)

    assert "--interval" in bad("create", "-s", sid, "--interval", "soon", *ok)
    assert "--interval" in bad("create", "-s", sid, "--interval", "1h/5m/2m", *ok)
    assert "weekday" in bad("create", "-s", sid, "--calendar", '{"weekday":"Fri"}', *ok)
    assert "not valid JSON" in bad("create", "-s", sid, "--calendar", "fridays", *ok)
    assert "--overlap_policy" in bad("create", "-s", sid, "--interval", "1h", "--overlap_policy", "Sometimes", *ok)
    assert "unknown time zone" in bad("create", "-s", sid, "--interval", "1h", "--time_zone", "Mars/Olympus", *ok)
    assert "--start_time" in bad("create", "-s", sid, "--interval", "1h", "--start_time", "yesterday", *ok)
    assert "--jitter" in bad("create", "-s", sid, "--interval", "1h", "--jitter", "lots", *ok)
    assert "--catchup_window" in bad("create", "-s", sid, "--interval", "1h", "--catchup_window", "x", *ok)
    assert "--taskqueue" in bad("create", "-s", sid, "--interval", "1h", "--wt", "W")
    assert "--workflow_type" in bad("create", "-s", sid, "--interval", "1h", "--tq", "q")
    assert "not valid JSON" in bad("create", "-s", sid, "--interval", "1h", "-i", "{oops", *ok)
    assert "--memo_key" in bad("create", "-s", sid, "--interval", "1h", "--memo", "1", *ok)
    assert "must not be empty" in bad("create", "-s", " ", "--interval", "1h", *ok)
    # The server's own checks come back on one line, naming the call.
    err = bad("create", "-s", sid, "--cron", "61 * * * *", *ok)
    assert "CreateSchedule failed" in err and "InvalidArgument" in err and "61" in err
    err = bad("create", "-s", sid, "--interval", "0s", *ok)
    assert "CreateSchedule failed" in err and "interval" in err

    assert "one of --pause and --unpause" in bad("toggle", "-s", sid)
    assert "both --pause and --unpause" in bad("toggle", "-s", sid, "--pause", "--unpause")
    assert "before --start_time" in bad("backfill", "-s", sid, "--start_time", "1h", "--end_time", "2h")
    assert "--overlap_policy" in bad("trigger", "-s", sid, "--overlap_policy", "Never")
    for args in (["describe", "-s", sid], ["toggle", "-s", sid, "--pause"], ["trigger", "-s", sid],
                 ["delete", "-s", sid],
                 ["update", "-s", sid, "--interval", "1h", *ok]):
        err = bad(*args)
        assert "NotFound" in err and sid in err, err

    # Creating the same id twice is refused.
    tctl(addr, "schedule", "create", "-s", sid, "--interval", "1h", "--pause", *ok)
    err = bad("create", "-s", sid, "--interval", "1h", *ok)
    assert "CreateSchedule failed" in err and "AlreadyExists" in err
    tctl(addr, "schedule", "delete", "-s", sid)
    assert sid not in {e["scheduleId"] for e in tctl_json(addr, "schedule", "list")}
