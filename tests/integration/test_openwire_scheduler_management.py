"""ActiveMQ's scheduler management topic through the JMS client: BROWSE lists each job once
(a delayed message, a repeating one, a cron job, a delayed topic message) with its schedule
properties, REMOVE and REMOVEALL (in a time range too) take jobs away for good, through a
restart, on SQLite and PostgreSQL."""
from __future__ import annotations

import time

from tests.conftest import BrokerProcess, unique
from tests.integration.jms import JmsPrograms

HOUR = 3_600_000


def _jobs(result: dict[str, str]) -> dict[str, list[str]]:
    """text -> the fields a browsed job came with (see SchedulerScenarios.browse)."""
    jobs = [result[f"job.{i}"].split("|") for i in range(1, int(result["count"]) + 1)]
    return {fields[1]: fields for fields in jobs}


def _run(jms: JmsPrograms, broker: BrokerProcess, scenario: str, name: str, *args: str) -> dict[str, str]:
    return jms.run(f"tcp://127.0.0.1:{broker.openwire_port}", scenario, name, *args,
                   program="SchedulerScenarios")


def test_browse_lists_each_job_once_with_its_schedule(broker: BrokerProcess, jms: JmsPrograms) -> None:
    name = unique()
    ids = _run(jms, broker, "schedule", name)
    browsed = _run(jms, broker, "browse", name)
    jobs = _jobs(browsed)
    assert browsed["count"] == "4" and sorted(jobs) == ["cron", "delayed", "repeat", "topic"]
    assert jobs["delayed"] == [ids["delayed"], "delayed", f"queue://{name}", "Advisory", "non-persistent",
                               str(HOUR), "null", "null", "false"]
    assert jobs["repeat"][:7] == [ids["repeat"], "repeat", f"queue://{name}", "Advisory", "non-persistent",
                                  str(2 * HOUR), "2"]
    assert jobs["cron"][0] == ids["cron"] and jobs["cron"][2] == f"queue://{name}"
    assert jobs["cron"][7] == "0 0 1 1 *"
    assert jobs["topic"][:3] == [ids["topic"], "topic", f"topic://{name}"]
    # Only the jobs due in a range: the repeating one is next due in two hours.
    now = int(time.time() * 1000)
    ranged = _jobs(_run(jms, broker, "browse", name, str(now + HOUR + HOUR // 2), str(now + 2 * HOUR + HOUR // 2)))
    assert sorted(ranged) == ["repeat"]


def test_removed_jobs_stay_removed_after_a_restart(broker: BrokerProcess, jms: JmsPrograms) -> None:
    name = unique()
    ids = _run(jms, broker, "schedule", name)
    _run(jms, broker, "remove", name, ids["delayed"])
    now = int(time.time() * 1000)
    _run(jms, broker, "removeall", name, str(now + HOUR + HOUR // 2), str(now + 3 * HOUR + HOUR // 2))
    assert sorted(_jobs(_run(jms, broker, "browse", name))) == ["cron"]
    broker.restart(hard=True)
    assert sorted(_jobs(_run(jms, broker, "browse", name))) == ["cron"]
    _run(jms, broker, "remove", name, ids["cron"])
    assert _run(jms, broker, "browse", name)["count"] == "0"
    broker.restart(hard=True)
    assert _run(jms, broker, "browse", name)["count"] == "0"


def test_remove_all_takes_every_job(broker: BrokerProcess, jms: JmsPrograms) -> None:
    name = unique()
    _run(jms, broker, "schedule", name)
    _run(jms, broker, "removeall", name)
    assert _run(jms, broker, "browse", name)["count"] == "0"
    broker.restart(hard=True)
    assert _run(jms, broker, "browse", name)["count"] == "0"


def test_a_removed_delayed_message_is_never_delivered(broker: BrokerProcess, jms: JmsPrograms) -> None:
    assert _run(jms, broker, "removed_soon", unique())["after"] == "null"
