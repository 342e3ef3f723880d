"""Quota periods start where AWS starts them (UTC; weeks on Monday)."""
import datetime

from facades.apigateway.keys import day, period_start

# Thursday 2026-12-03 15:00 UTC
THURSDAY = datetime.datetime(2026, 12, 3, 15, 0, tzinfo=datetime.timezone.utc).timestamp()


def test_period_starts() -> None:
    assert day(THURSDAY) == "2026-12-03"
    assert period_start("DAY", THURSDAY) == "2026-12-03"
    assert period_start("WEEK", THURSDAY) == "2026-11-30"
    assert period_start("MONTH", THURSDAY) == "2026-12-01"
