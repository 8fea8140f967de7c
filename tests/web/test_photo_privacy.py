"""Photos keep no metadata, and they go with the rest of a case's personal data: exported to the filer,
erased with the case (rows and files)."""

from __future__ import annotations

import base64
import io
import re

from PIL import Image

from jiesu.config import Settings
from jiesu.web.tables import Attachment
from tests.conftest import Api
from tests.web.test_pages import post_form, web_login

GPS_IFD = 0x8825


def jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (32, 24), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0132] = "2026:11:30 21:14:05"  # DateTime
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (39.0, 54.0, 27.0), 3: "E", 4: (116.0, 23.0, 50.0)})
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif, comment=b"home of Li Xiaohong")
    data = out.getvalue()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(GPS_IFD)  # the fixture does carry a position
    return data


async def add_photo(api: Api, case: dict, photo: bytes, username: str = "alice") -> None:
    await web_login(api.client, username)
    page = f"/web/cases/{case['id']}"
    response = await post_form(
        api.client,
        page,
        f"{page}/actions/add_info",
        {"version": str(case["version"]), "note": "A photo of the stairs."},
        files={"photo": ("stairs.jpg", photo, "image/jpeg")},
    )
    assert response.status_code == 303, response.text


async def test_an_uploaded_photo_is_stored_without_exif_gps_or_comment(api: Api, settings: Settings) -> None:
    case = await api.file("alice")
    await add_photo(api, case, jpeg_with_gps())
    [stored] = list((settings.var_dir / "uploads").iterdir())
    data = stored.read_bytes()
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG" and image.size == (32, 24)
        assert dict(image.getexif()) == {} and not image.getexif().get_ifd(GPS_IFD)
        assert "comment" not in image.info and "exif" not in image.info
    assert b"PhoneMaker" not in data and b"Li Xiaohong" not in data


async def test_erasure_deletes_the_photos_and_the_export_holds_them(api: Api, settings: Settings) -> None:
    case = await api.file("alice")
    await add_photo(api, case, jpeg_with_gps())
    uploads = settings.var_dir / "uploads"
    [stored] = list(uploads.iterdir())
    export = (await api.as_user("alice", "GET", "/api/me/export")).json()
    [photo] = export["photos"]
    assert photo["case_id"] == case["id"] and photo["content_type"] == "image/jpeg"
    assert base64.b64decode(photo["data_base64"]) == stored.read_bytes()
    assert "photos" in export and (await api.as_user("bob", "GET", "/api/me/export")).json()["photos"] == []
    current = await api.case("alice", case["id"])
    assert (await api.act("alice", case["id"], "withdraw", reason="solved")).status_code == 200, current
    deleted = await api.as_user("alice", "DELETE", "/api/me")
    assert deleted.status_code == 200, deleted.text
    assert await Attachment.count().where(Attachment.case_id == case["id"]) == 0
    assert list(uploads.iterdir()) == []
    assert (await api.as_user("admin", "GET", "/api/audit/verify")).json()["ok"] is True


async def test_a_file_that_only_looks_like_a_photo_is_refused(api: Api, settings: Settings) -> None:
    case = await api.file("alice")
    await web_login(api.client, "alice")
    page = f"/web/cases/{case['id']}"
    response = await post_form(
        api.client,
        page,
        f"{page}/actions/add_info",
        {"version": str(case["version"]), "note": "Not a photo."},
        files={"photo": ("x.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 200, "image/jpeg")},
    )
    assert response.status_code == 400 and "The photo could not be read." in response.text
    assert not (settings.var_dir / "uploads").exists() or list((settings.var_dir / "uploads").iterdir()) == []
    assert re.search("More information was added", (await api.client.get(page)).text) is None
