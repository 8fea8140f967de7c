"""ARCHITECTURE.md is the map: every part of src/jiesu must be on it, so a new one cannot slip in unnamed."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "jiesu"
SKIPPED = {"__init__.py"}
# The page names these once, as what every domain folder may have ("Each domain folder ...").
CONVENTIONAL = ("tables.py", "schemas.py", "api.py", "piccolo_app.py")


def parts_of_the_package() -> list[str]:
    """The domain folders (``cases/``), their modules and the top-level ones (``db.py``)."""
    names: list[str] = []
    for path in sorted(PACKAGE.iterdir()):
        if path.is_dir() and (path / "__init__.py").exists():
            names.append(f"{path.name}/")
            modules = sorted(p.name for p in path.glob("*.py") if p.name not in SKIPPED)
            names.extend(f"{path.name}/{module}" for module in modules)
        elif path.suffix == ".py" and path.name not in SKIPPED:
            names.append(path.name)
    return names


def named_in(text: str, part: str) -> bool:
    """``cases/intake.py`` counts as named when the page says ``intake.py`` in the row of ``cases/``."""
    if part in text:
        return True
    folder, _, module = part.partition("/")
    if module in CONVENTIONAL:
        return f"`{module}`" in text
    return any(f"`{folder}/`" in line and f"`{module}`" in line for line in text.splitlines())


def test_every_package_and_module_is_named_in_the_architecture_page() -> None:
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    missing = [part for part in parts_of_the_package() if not named_in(text, part)]
    assert not missing, f"ARCHITECTURE.md does not name: {', '.join(missing)}"
