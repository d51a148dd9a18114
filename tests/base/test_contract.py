"""One data contract: tfwatcher/base/contract.json.

The package (tfwatcher/base/contract.py), the dashboard (hosting/src/contract.ts, imported at
build time) and the Cloud Functions (functions/tfw_functions/contract.py) read that one file.
This test fails when a source file spells a piece of it again: a document path built by hand,
a document ID format, a literal list of statuses or kinds, a literal schema number or a stall
threshold. (Maps from a status to how it is shown are presentation, not the contract, and are
allowed; so are TypeScript type unions, which vanish at build time.)
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
from pathlib import Path

import pytest

from tfwatcher.base import contract

ROOT = Path(__file__).resolve().parents[2]
CONTRACT_FILE = ROOT / "tfwatcher" / "base" / "contract.json"

STATUS = r"(?:new|running|finished|crashed|stopped|stalled)"
KIND = r"(?:train|test|predict|system|evaluate)"
COLLECTION = "|".join(contract.COLLECTIONS.values())

RULES = {
    "a document path built by hand": re.compile(
        r"""["'`]sessions/|f["']sessions/|/(?:batches|epochs|private|control|subscribers|notified)/"""
        r"""|/(?:summaries|tables)["'`/{$]"""),
    "a collection name spelled in a Firestore call": re.compile(
        r"""\b(?:collection|collection_group|collectionGroup|doc|document)\((?:[^()"'`]*,\s*)?["'](?:""" + COLLECTION + r""")["']"""),
    "a document ID format": re.compile(
        r"""\{[^{}]*:0?[46]d\}|-L\{|-L\$\{|\}-head\b|stop-\{|stop-\$\{|["'`]stop-["'`]|padStart\(\s*[46]\s*,\s*["']0"""),
    "a literal list of statuses": re.compile(
        r"""[\[(]\s*["']""" + STATUS + r"""["']\s*,\s*["']""" + STATUS + r"""["']"""),
    "a literal list of kinds": re.compile(
        r"""[\[(]\s*["']""" + KIND + r"""["']\s*,\s*["']""" + KIND + r"""["']"""),
    "a literal schema number": re.compile(
        r"""["']schema["']\s*:\s*\d|\bschema\s*:\s*\d|\bschema\w*\s*(?:===?|!==?|==|[<>]=?)\s*\d|\bSCHEMA\w*\s*=\s*\d"""),
    "a stall threshold": re.compile(r"""(?i)\bstall\w*\s*[:=]\s*[\d(]"""),
}

SOURCES = [
    *(p for p in (ROOT / "tfwatcher").rglob("*.py")
      if "dashboard" not in p.parts and "firebase" not in p.parts),
    *(ROOT / "hosting" / "src").rglob("*.ts"),
    *(p for p in (ROOT / "functions").rglob("*.py") if "venv" not in p.parts),
]
EXEMPT = {
    ROOT / "tfwatcher" / "base" / "contract.py",
    ROOT / "hosting" / "src" / "contract.ts",
    ROOT / "functions" / "tfw_functions" / "contract.py",
}


def _docstring_lines(text: str) -> set[int]:
    """Lines of Python docstrings: documentation may quote the contract."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return set()
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
                    and isinstance(body[0].value.value, str):
                lines.update(range(body[0].lineno, body[0].end_lineno + 1))
    return lines


def violations(text: str, python: bool = False) -> list[tuple[int, str, str]]:
    found = []
    skip = _docstring_lines(text) if python else set()
    for n, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if n in skip or stripped.startswith(("#", "//", "*", "/*")) or re.match(r"(export\s+)?type\s", stripped):
            continue
        if re.match(r"""(import\b|export\b.*\bfrom\s|}?\s*from\s+["'])""", stripped):
            continue  # a TypeScript module specifier ("./summaries") is a file, not a document
        code = line.split("  # ")[0]  # trailing Python comments may quote the contract
        for what, rule in RULES.items():
            if rule.search(code):
                found.append((n, what, stripped[:120]))
    return found


@pytest.mark.parametrize("path", sorted(set(SOURCES) - EXEMPT), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_source_file_spells_the_contract_again(path):
    found = violations(path.read_text(encoding="utf-8"), python=path.suffix == ".py")
    assert found == [], "\n".join(f"{path.relative_to(ROOT)}:{n}: {what}: {line}" for n, what, line in found)


@pytest.mark.parametrize("sample", [
    'f"sessions/{sid}/batches/{x}"', 'const p = `sessions/${sid}`;', 'ref.collection("subscribers")',
    'doc(db, "sessions", sid)', 'f"{kind}-{index:06d}"', 'f"{kind}-L{level}-{p:06d}"', '`${kind}-head`',
    'f"stop-{run}"', 'String(n).padStart(6, "0")', 'KINDS = ("train", "test", "predict")',
    'STATUSES = ["running", "finished"]', '{"schema": 2, "kind": k}', 'if schema > 2:',
    'export const STALL_MS = 2 * 60 * 1000;', 'if (doc.schema === 1) {',
])
def test_the_scan_catches_each_way_of_spelling_it(sample):
    assert violations(sample), sample


@pytest.mark.parametrize("sample", [
    'STATUS_STYLE = {"running": "bold green", "finished": "bold blue"}',
    'export type Status = "running" | "finished";', 'plan.get("epochs")', '# sessions/{sid}/batches/',
    'doc_path(sid, "batches", chunk_id(kind, i))', 'import { partId } from "./summaries";',
    '} from "../summaries";',
])
def test_the_scan_lets_presentation_and_names_through(sample):
    assert not violations(sample), sample


def test_docstrings_may_quote_the_contract():
    assert not violations('def f():\n    """Writes `sessions/{sid}/batches/{kind}-{i:06d}`."""\n', python=True)
    assert violations('def f():\n    return f"sessions/{sid}"\n', python=True)



def test_the_package_reads_the_file():
    assert contract.CONTRACT == json.loads(CONTRACT_FILE.read_text())
    from tfwatcher.base import ids

    assert ids.ALPHABET == contract.SESSION_ID["alphabet"]


def test_the_dashboard_imports_the_file_at_build_time():
    text = (ROOT / "hosting" / "src" / "contract.ts").read_text()
    assert 'from "../../tfwatcher/base/contract.json"' in text


def test_the_functions_read_the_same_contract():
    path = ROOT / "functions" / "tfw_functions" / "contract.py"
    spec = importlib.util.spec_from_file_location("_functions_contract", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.CONTRACT == contract.CONTRACT


def test_the_contract_is_consistent():
    widths = contract.SUMMARY_WIDTHS
    assert all(b == a * 8 for a, b in zip(widths, widths[1:]))
    assert set(contract.ENDED_STATUSES) <= set(contract.STATUSES)
    assert set(contract.NOTIFIED_STATUSES) <= set(contract.STATUSES)
    assert set(contract.BATCH_KIND_OF_MODE.values()) <= set(contract.BATCH_KINDS)
    assert contract.STALL_SHOWN_AFTER > 3 * contract.HEARTBEAT_SECONDS
    assert contract.STALL_MARKED_AFTER >= contract.STALL_SHOWN_AFTER
    assert contract.chunk_id("train", 7) == "train-000007"
    assert contract.epoch_id("train", 3) == "000003" and contract.epoch_id("evaluate", 3) == "evaluate-000003"
    assert contract.summary_part_id("test", 2, 5) == "test-L2-000005"
    assert contract.table_part_id(1) == "epochs-0001" and contract.summary_head_id("train") == "train-head"
    assert contract.stop_id(3) == "stop-3"
    assert contract.doc_path("abc", "batches", "train-000001") == "sessions/abc/batches/train-000001"
