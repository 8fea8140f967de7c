"""Settings in one place: jiesu.config reads the environment, and the README's table lists every variable."""

from __future__ import annotations

import re
from pathlib import Path

import jiesu
import jiesu.config

SOURCE = Path(jiesu.__file__).parent
README = SOURCE.parents[1] / "README.md"
READS_ENVIRONMENT = re.compile(r"os\.environ\.get|os\.getenv|environ\[")


def variables_read_by_config() -> set[str]:
    return set(re.findall(r'"((?:JIESU|PROMETHEUS)_[A-Z0-9_]+)"', Path(jiesu.config.__file__).read_text()))


def configuration_table() -> str:
    readme = README.read_text(encoding="utf-8")
    return readme.split("\n## Configuration", 1)[1].split("\n## ", 1)[0]


def test_every_variable_config_reads_is_in_the_readme_table() -> None:
    table = configuration_table()
    assert len(variables_read_by_config()) > 20
    assert sorted(name for name in variables_read_by_config() if f"`{name}`" not in table) == []


def test_no_module_but_config_reads_the_environment() -> None:
    config = Path(jiesu.config.__file__)
    readers = [
        str(path.relative_to(SOURCE))
        for path in SOURCE.rglob("*.py")
        if path != config and READS_ENVIRONMENT.search(path.read_text(encoding="utf-8"))
    ]
    assert readers == []
