"""Hostile photo names: whatever name a client sends, the file lands in var/uploads under a random name,
nothing is written anywhere else, and the name is never shown or served back."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from jiesu.config import Settings
from jiesu.web.tables import Attachment
from tests.conftest import Api
from tests.web.photos import png_bytes, same_pixels
from tests.web.test_pages import FILING, SQLITE_ONLY, _token_from, web_login

STORED = re.compile(r"[0-9a-f]{32}\.png")
# Sent the way browsers write a file name into the form (a quote as %22, line breaks as %0D%0A).
HOSTILE_NAMES = {
    "parent-dirs": "../../etc/passwd",
    "parent-dirs-png": "../../../../../../tmp/owned.png",
    "windows-parent-dirs": "..\\..\\x.png",
    "absolute": "/etc/passwd",
    "windows-absolute": "C:\\Windows\\System32\\owned.png",
    "unc": "\\\\server\\share\\owned.png",
    "nul-byte": "owned.png\x00.jpg",
    "long": "a" * 1_000 + ".png",
    "rtl-override": "photo\u202egnp.exe",
    "markup": '"><script>alert(1)</script><img src=x onerror=alert(2)>.png',
    "percent-encoded": "..%2f..%2fetc%2fpasswd",
    "dot-only": "..",
    "newline": "owned.png\r\nX-Injected: yes",
}
# Written raw, against the form encoding: the parser cannot read the part, the form is refused.
MALFORMED_NAMES = {
    "raw-quote": '"><script>alert(1)</script>owned.png',
    "raw-newline": "owned.png\r\nX-Injected: yes",
    "over-the-header-limit": "a" * 10_000 + ".png",
}
# Bits of the names that must never appear in a page, an answer or a file name.
TELLTALES = ["passwd", "owned", "Injected", "<script>alert(1)", "onerror", "\u202e", "aaaaaaaaaaaaaaaa"]


def _browser_quoted(name: str) -> str:
    return name.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def _multipart(fields: dict[str, str], filename: str, content: bytes) -> tuple[bytes, str]:
    """A multipart body written by hand: the file name goes out byte for byte, as a hostile client
    would send it (httpx would escape it)."""
    boundary = "hostile-boundary-7f3a9c"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; filename="{filename}"\r\n'.encode()
        + b"Content-Type: image/png\r\n\r\n"
        + content
        + b"\r\n"
    )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def _files_under(root: Path) -> set[Path]:
    return {path.relative_to(root) for path in root.rglob("*") if path.is_file()}


async def _send_filing(api: Api, filename: str) -> Any:
    await web_login(api.client, None)
    token = await _token_from(api.client, "/web/file")
    body, content_type = _multipart({"_csrf_token": token, **FILING}, filename, png_bytes())
    return await api.client.post("/web/file", content=body, headers={"Content-Type": content_type})


async def _file_with_photo(api: Api, filename: str) -> int:
    response = await _send_filing(api, _browser_quoted(filename))
    assert response.status_code == 200, response.text
    assert 'id="tracking-no"' in response.text
    assert not any(bit in response.text for bit in TELLTALES)
    return (await api.as_user("disp", "GET", "/api/cases")).json()["items"][0]["id"]


def _assert_inert(text: str) -> None:
    found = [bit for bit in TELLTALES if bit in text]
    assert not found, f"the sent file name shows: {found}"


@pytest.mark.parametrize("filename", HOSTILE_NAMES.values(), ids=HOSTILE_NAMES.keys())
@SQLITE_ONLY
async def test_a_hostile_photo_name_is_stored_under_a_random_name_inside_uploads(
    api: Api, settings: Settings, tmp_path: Path, filename: str
) -> None:
    before = _files_under(tmp_path)
    case_id = await _file_with_photo(api, filename)

    new = _files_under(tmp_path) - before
    uploads = settings.var_dir / "uploads"
    photos = [path for path in new if (tmp_path / path).parent == uploads]
    assert len(photos) == 1 and STORED.fullmatch(photos[0].name), new
    others = [path for path in new - set(photos) if not path.name.startswith("jiesu.db")]
    assert not others, f"written outside var/uploads: {others}"
    assert not Path("/tmp/owned.png").exists()  # noqa: ASYNC240

    await web_login(api.client, "disp")
    page = await api.client.get(f"/web/cases/{case_id}")
    assert page.status_code == 200
    _assert_inert(page.text)
    photo_url = re.search(rf'src="(/web/cases/{case_id}/photos/\d+)"', page.text).group(1)
    photo = await api.client.get(photo_url)
    assert photo.status_code == 200 and same_pixels(photo.content, png_bytes())
    assert photo.headers["content-type"] == "image/png"
    assert photo.headers["content-disposition"] == "inline"  # no file name handed back
    events = await api.as_user("disp", "GET", f"/api/cases/{case_id}/events")
    _assert_inert(events.text)


@pytest.mark.parametrize("filename", MALFORMED_NAMES.values(), ids=MALFORMED_NAMES.keys())
@SQLITE_ONLY
async def test_a_malformed_photo_part_is_refused_and_nothing_is_stored(
    api: Api, settings: Settings, tmp_path: Path, filename: str
) -> None:
    before = _files_under(tmp_path)
    response = await _send_filing(api, filename)
    assert response.status_code == 400, response.text
    _assert_inert(response.text)
    assert not [path for path in _files_under(tmp_path) - before if not path.name.startswith("jiesu.db")]
    assert (await api.as_user("disp", "GET", "/api/cases")).json()["items"] == []


@SQLITE_ONLY
async def test_a_name_in_rfc_5987_form_is_ignored_too(api: Api, settings: Settings) -> None:
    await web_login(api.client, None)
    token = await _token_from(api.client, "/web/file")
    body, content_type = _multipart({"_csrf_token": token, **FILING}, "photo.png", png_bytes())
    body = body.replace(
        b'filename="photo.png"', b"filename*=UTF-8''..%2F..%2Fetc%2Fowned.png; filename=\"x.png\""
    )
    response = await api.client.post("/web/file", content=body, headers={"Content-Type": content_type})
    assert response.status_code == 200, response.text
    stored = [path.name for path in (settings.var_dir / "uploads").iterdir()]
    assert len(stored) == 1 and STORED.fullmatch(stored[0])


async def test_a_stored_name_pointing_outside_uploads_is_never_served(api: Api, settings: Settings) -> None:
    """Defence in depth: even a row whose stored name was tampered with cannot reach another file."""
    case = await api.file("alice")
    secret = settings.var_dir / "secret_key_copy"
    secret.write_text("not for the browser")
    (settings.var_dir / "uploads").mkdir(parents=True, exist_ok=True)
    planted = []
    for name in ("../secret_key_copy", "/etc/hostname", "..", "."):
        row = Attachment(
            case_id=case["id"],
            stored_name=name,
            content_type="image/png",
            size=1,
            uploaded_by="alice",
            created_at=datetime.now(UTC),
        )
        await Attachment.insert(row)
        planted.append(row.id)
    await web_login(api.client, "alice")
    for photo_id in planted:
        response = await api.client.get(f"/web/cases/{case['id']}/photos/{photo_id}")
        assert response.status_code == 404, (photo_id, response.text[:200])
        assert b"not for the browser" not in response.content
