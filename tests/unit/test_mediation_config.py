from pathlib import Path

import pytest

from jiesu.config import PROJECT_ROOT
from jiesu.mediation.config import load_clocks
from jiesu.workflow import WorkflowError


def test_the_shipped_mediation_clocks_are_thirty_days() -> None:
    clocks = load_clocks(PROJECT_ROOT / "workflows" / "mediation.yaml")
    assert clocks.clock.days == 30 and clocks.judicial_confirmation.days == 30


def test_a_bad_mediation_clock_names_the_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "mediation.yaml"
    path.write_text("clock: thirty days\n")
    with pytest.raises(WorkflowError, match=r"mediation\.yaml: clock: .*not a duration"):
        load_clocks(path)
