"""The growth benchmark at tiny scale: proves it still runs end to end
(validate and evaluate as child processes, plan and reconcile on the
emulators, the impact of a rules change) and that what it reports holds: the seeded clouds match main,
reconcile fixes the injected drift, every stage has a time and a memory
figure. It checks no speed."""
from __future__ import annotations

import pytest

from bench import growth

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_every_stage_is_measured_at_a_tiny_size(tmp_path):
    result = growth.one_size(150, tmp_path, people=120, teams=6, accounts=3, projects=3)
    assert result["files"] == 150 and result["grants"] > 100
    assert set(result["stages"]) == {"validate", "evaluate", "plan", "reconcile", "impact"}
    for stage in result["stages"].values():
        assert stage["seconds"] > 0 and stage["cpu_seconds"] > 0 and stage["peak_mib"] > 10
    table = growth.markdown([result])
    assert table.count("| 150 |") == 5
