"""Maintain the message catalogues with Babel: ``python -m jiesu.web.catalogues update|compile|check``.

update  - extract the messages of the templates and the web code (and the category descriptions of
          workflows/categories.yaml) and merge them into every locale's messages.po;
compile - write messages.mo next to each messages.po (the .mo files are committed);
check   - exit 1 when a message has no Chinese translation or a .mo holds other messages than its .po
          (the messages and their translations are compared, not the bytes: the header names Babel's version).
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import yaml
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po, write_po

from jiesu.config import PROJECT_ROOT
from jiesu.web.i18n import DOMAIN, LOCALES, TRANSLATIONS_DIR

WEB_DIR = Path(__file__).parent
METHOD_MAP = [("templates/**.html", "jinja2.ext:babel_extract"), ("**.py", "python")]
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None}
CATEGORIES = PROJECT_ROOT / "workflows" / "categories.yaml"
TRANSLATED = ("zh_CN",)  # English is the source language: its catalogue may stay empty


def template_catalog() -> Catalog:
    catalog = Catalog(project="jiesu", domain=DOMAIN)
    for filename, lineno, message, comments, context in extract_from_dir(
        WEB_DIR, METHOD_MAP, keywords=KEYWORDS, options_map={"templates/**.html": {"trimmed": "true"}}
    ):
        catalog.add(message, locations=[(filename, lineno)], auto_comments=comments, context=context)
    if CATEGORIES.exists():
        for category in yaml.safe_load(CATEGORIES.read_text(encoding="utf-8"))["categories"]:
            catalog.add(category["description"], locations=[("workflows/categories.yaml", 0)])
    return catalog


def po_path(locale: str) -> Path:
    return TRANSLATIONS_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def read(locale: str) -> Catalog:
    path = po_path(locale)
    if not path.exists():
        return Catalog(locale=locale, domain=DOMAIN, project="jiesu")
    with path.open("rb") as handle:
        return read_po(handle, locale=locale, domain=DOMAIN)


def compiled(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


def translations(mo: bytes) -> dict[tuple[str | None, object], object]:
    """What a compiled catalogue answers: (context, message) to translation, and its plural rule."""
    catalog = read_mo(io.BytesIO(mo))
    found: dict[tuple[str | None, object], object] = {(m.context, m.id): m.string for m in catalog if m.id}
    found[(None, "Plural-Forms")] = catalog.plural_forms
    return found


def update() -> None:
    template = template_catalog()
    for locale in LOCALES:
        catalog = read(locale)
        catalog.update(template, no_fuzzy_matching=True)
        path = po_path(locale)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            write_po(handle, catalog, omit_header=False, sort_output=True, ignore_obsolete=True, width=100)


def compile_all() -> None:
    for locale in LOCALES:
        po_path(locale).with_suffix(".mo").write_bytes(compiled(read(locale)))


def problems() -> list[str]:
    found = []
    wanted = {m.id for m in template_catalog() if m.id}
    for locale in LOCALES:
        catalog = read(locale)
        have = {m.id for m in catalog if m.id}
        found += [f"{locale}: not in messages.po: {m!r}" for m in sorted(wanted - have)]
        if locale in TRANSLATED:
            found += [
                f"{locale}: no translation: {m.id!r}"
                for m in catalog
                if m.id and m.id in wanted and (not m.string or m.fuzzy)
            ]
        mo = po_path(locale).with_suffix(".mo")
        if not mo.exists() or translations(mo.read_bytes()) != translations(compiled(catalog)):
            found.append(f"{locale}: messages.mo is missing or older than messages.po (run compile)")
    return found


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    if command == "update":
        update()
    elif command == "compile":
        compile_all()
    elif command == "check":
        issues = problems()
        print("\n".join(issues) or "catalogues complete")
        return 1 if issues else 0
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
