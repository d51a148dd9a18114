"""The package's folders show its architecture, and imports only point down:

    callbacks, integrations  ->  record  ->  base
    read  ->  base          local  ->  base          setup  ->  base (+ local.emulator)

`cli`, `demo` and the package's `__init__` sit on top and may import anything. Each folder's
`__init__` says its job; this test reads every module's imports (top level and inside
functions) with `ast`, so a lazy import cannot slip past it.
"""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "tfwatcher"

# folder (or top-level module) -> what it may import from tfwatcher, besides itself
ALLOWED = {
    "base": {"version"},
    "record": {"base", "version"},
    "read": {"base", "version"},
    "local": {"base", "version"},
    "setup": {"base", "version", "local.emulator"},
    "callbacks": {"record", "base", "version"},
    "integrations": {"record", "base", "version"},
}
TOP = {"__init__", "_moved", "cli", "demo", "version"}  # may import anything


def _part(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imports(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ".".join(("tfwatcher",) + path.relative_to(PACKAGE).parent.parts)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("tfwatcher"):
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if not mod.startswith("tfwatcher"):
                continue
            if mod == "tfwatcher" or (node.level and not node.module):
                for alias in node.names:  # from tfwatcher import record / from . import x
                    yield node.lineno, f"{mod}.{alias.name}"
            else:
                yield node.lineno, mod


def _allowed(part: str, target: str) -> bool:
    name = target.removeprefix("tfwatcher.").removeprefix("tfwatcher")
    if not name or name.split(".")[0] == part:
        return True
    return any(name == a or name.startswith(a + ".") for a in ALLOWED[part])


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "dashboard" not in p.parts and "firebase" not in p.parts)


def test_every_module_is_in_a_known_place():
    unknown = [str(p.relative_to(PACKAGE)) for p in MODULES if _part(p) not in ALLOWED and _part(p) not in TOP]
    assert unknown == []


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_only_point_down(path):
    part = _part(path)
    if part in TOP:
        return
    bad = [f"line {line}: {target}" for line, target in _imports(path) if not _allowed(part, target)]
    assert bad == [], f"{path.relative_to(PACKAGE)} ({part}) may import only {sorted(ALLOWED[part])}"


def test_the_checker_sees_a_forbidden_import(tmp_path):
    """The check itself can fail: a recording module importing the reader is caught, also
    when the import is inside a function."""
    fake = PACKAGE / "record" / "_layout_probe.py"
    fake.write_text("def f():\n    from tfwatcher.read import load\n    from ..local import server\n")
    try:
        found = [t for _l, t in _imports(fake) if not _allowed("record", t)]
    finally:
        fake.unlink()
    assert [t.split(".")[1] for t in found] == ["read", "local"]


def test_each_folder_says_its_job():
    for folder in ("base", "record", "read", "local", "setup", "integrations"):
        doc = ast.get_docstring(ast.parse((PACKAGE / folder / "__init__.py").read_text()))
        assert doc and len(doc) > 40, folder


def test_recording_loads_no_reader_server_or_setup():
    """What a training process imports: `tfwatcher.callbacks`' dependencies stay in record/base."""
    import subprocess
    import sys

    code = ("import sys, tfwatcher.record.session, tfwatcher.record.writer\n"
            "print(sorted(m for m in sys.modules if m.startswith(('tfwatcher.read', 'tfwatcher.local', 'tfwatcher.setup'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_old_module_names_still_import_with_a_warning():
    import importlib

    import tfwatcher.read.watch

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old = importlib.import_module("tfwatcher.watch")
    assert old is tfwatcher.read.watch
    assert any("tfwatcher.read.watch" in str(w.message) for w in caught)
