"""The composite weights and report defaults come from workflows/reports.yaml; CSV cells are safe."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

import pytest

from jiesu.config import PROJECT_ROOT
from jiesu.reports.config import CompositeWeights, ReportSettingsError, load_report_settings
from jiesu.reports.export import render_csv
from jiesu.reports.rates import composite


def test_the_shipped_settings_weigh_the_three_rates_30_35_35() -> None:
    settings = load_report_settings(PROJECT_ROOT / "workflows" / "reports.yaml")
    assert settings.composite_weights == CompositeWeights(
        response_rate=30, resolution_rate=35, satisfaction_rate=35
    )
    assert settings.overdue_soon == timedelta(hours=4)


def test_weights_are_configurable_and_must_add_up_to_100(tmp_path: Path) -> None:
    path = tmp_path / "reports.yaml"
    path.write_text("composite_weights: {response_rate: 20, resolution_rate: 40, satisfaction_rate: 40}\n")
    weights = load_report_settings(path).composite_weights
    rates = {"response_rate": 1.0, "resolution_rate": 0.5, "satisfaction_rate": 0.0}
    assert composite(rates, weights) == 40.0
    path.write_text("composite_weights: {response_rate: 50, resolution_rate: 40, satisfaction_rate: 40}\n")
    with pytest.raises(ReportSettingsError, match="add up to 100"):
        load_report_settings(path)
    path.write_text("overdue_soon: soon\n")
    with pytest.raises(ReportSettingsError, match="duration"):
        load_report_settings(path)


def test_composite_leaves_out_undefined_rates_instead_of_scoring_zero() -> None:
    weights = CompositeWeights()
    only_response = {"response_rate": 0.8, "resolution_rate": None, "satisfaction_rate": None}
    assert composite(only_response, weights) == 80.0
    assert composite(dict.fromkeys(only_response), weights) is None


def test_csv_cells_that_look_like_formulas_are_defused() -> None:
    text = render_csv([("rows", [{"reason": '=HYPERLINK("x")', "n": -3}]), ("empty", [])])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["reason", "n"]
    assert rows[1] == ['\'=HYPERLINK("x")', "-3"]
    assert rows[3:] == [["# empty"], ["(none)"]]
