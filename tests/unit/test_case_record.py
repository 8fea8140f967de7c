"""The typed case: one field per column of the case table, immutable, and what an UPDATE writes."""

from datetime import UTC, datetime

import pytest

from jiesu.case_record import FIELD_NAMES, CaseRecord
from jiesu.cases.intake import new_case
from jiesu.cases.tables import Case


def test_the_record_has_exactly_the_columns_of_the_case_table() -> None:
    assert set(FIELD_NAMES) == {column._meta.name for column in Case._meta.columns}


def _filed() -> CaseRecord:
    now = datetime(2026, 12, 1, 8, tzinfo=UTC)
    return new_case(
        tracking_no="JS20261201-ABCDEF",
        kind="complaint",
        title="Streetlight out",
        description="Dark since Monday",
        address="1 Gate Road",
        channel="web",
        contact_name="Li",
        contact_phone="13800000000",
        received_at=now,
        updated_at=now,
    )


def test_a_prepared_filing_has_no_id_until_it_is_inserted() -> None:
    case = _filed()
    assert case.id is None and case.state == "intake" and case.version == 1
    with pytest.raises(ValueError, match="not inserted"):
        _ = case.inserted_id
    assert case.replace(id=7).inserted_id == 7


def test_a_record_cannot_be_changed_in_place_and_replace_reports_the_changed_columns() -> None:
    case = _filed().replace(id=3)
    with pytest.raises(AttributeError):
        case.state = "triage"
    later = case.replace(state="triage", version=2)
    assert later.changes_from(case) == {"state": "triage", "version": 2}
    assert CaseRecord.from_row({**later.as_row(), "joined_column": 1}) == later
