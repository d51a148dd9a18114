"""`tfwatcher deploy --project ID`: the Firebase folder it writes, and the firebase-tools call
it makes, up to that call (a stand-in `firebase` on PATH records its arguments and folder).
The written rules are loaded into the real emulator and enforced there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "tfw-deploy-test"


def stand_in(bin_dir: Path, name: str, log: Path) -> None:
    """An executable `name` that appends its argv and working folder to `log`."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / name
    script.write_text(f"#!{sys.executable}\n"
                      "import json, os, sys\n"
                      f"with open({str(log)!r}, 'a') as f:\n"
                      "    f.write(json.dumps({'argv': sys.argv[1:], 'cwd': os.getcwd(),\n"
                      "                        'files': sorted(os.listdir())}) + '\\n')\n")
    script.chmod(0o755)


def deploy(*args: str, path: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PATH"] = path
    return subprocess.run([sys.executable, "-m", "tfwatcher.cli", "deploy", *args],
                          cwd=cwd or ROOT, env=env, capture_output=True, text=True, timeout=120)


def calls(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


@pytest.fixture(scope="module")
def sources():
    from tfwatcher.setup.deploy import find_sources

    s = find_sources()
    if s.missing():
        pytest.fail(f"nothing to deploy here: {s.missing()} (build the dashboard: "
                    f"cd hosting && npm ci && npm run build)")
    return s


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path, sources):
    out = tmp_path / "site"
    log = tmp_path / "firebase.log"
    stand_in(tmp_path / "bin", "firebase", log)
    r = deploy("--project", PROJECT, "--out", str(out), "--dry-run",
               path=str(tmp_path / "bin"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert not out.exists() and calls(log) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin"]
    assert f"deploy --project {PROJECT} --only hosting,firestore" in r.stdout
    assert "nothing was written" in r.stdout


def test_writes_a_ready_folder_and_runs_firebase_deploy_in_it(tmp_path, sources):
    out = tmp_path / "site"
    log = tmp_path / "firebase.log"
    stand_in(tmp_path / "bin", "firebase", log)
    r = deploy("--project", PROJECT, "--out", str(out), path=str(tmp_path / "bin"))
    assert r.returncode == 0, r.stdout + r.stderr
    # The one call firebase-tools gets, from inside the written folder.
    [call] = calls(log)
    assert call["argv"] == ["deploy", "--project", PROJECT, "--only", "hosting,firestore"]
    assert Path(call["cwd"]) == out
    assert call["files"] == [".firebaserc", ".tfwatcher-deploy", "firebase.json",
                             "firestore.indexes.json", "firestore.rules", "public"]
    # The folder: the dashboard build, the rules and indexes as shipped, the project.
    assert (out / "public" / "index.html").read_bytes() == (sources.dashboard / "index.html").read_bytes()
    assert not (out / "public" / "firestore.rules").exists()  # not served by Hosting
    assert (out / "firestore.rules").read_text() == sources.rules.read_text()
    assert json.loads((out / "firestore.indexes.json").read_text()) == json.loads(sources.indexes.read_text())
    assert json.loads((out / ".firebaserc").read_text()) == {"projects": {"default": PROJECT}}
    # firebase.json: the repository's, pointed at this folder; rewrites and headers kept.
    config = json.loads((out / "firebase.json").read_text())
    template = json.loads(sources.firebase_json.read_text())
    assert config["hosting"]["public"] == "public"
    for key in ("rewrites", "headers", "redirects", "ignore"):
        assert config["hosting"].get(key) == template["hosting"].get(key), key
    assert config["firestore"] == {"rules": "firestore.rules", "indexes": "firestore.indexes.json"}
    assert "functions" not in config
    assert "Deployed" in r.stdout and f"tfwatcher doctor --project {PROJECT}" in r.stdout


def test_the_written_rules_load_into_the_emulator_and_hold(tmp_path, emulator, sources):
    """The rules as written compile in Google's emulator and are the real ones: a stranger may
    read a session by its ID, but not list sessions."""
    if emulator.kind != "official":
        pytest.skip("the fallback emulator does not enforce rules")
    out = tmp_path / "site"
    r = deploy("--project", PROJECT, "--out", str(out), path=str(tmp_path))  # no firebase-tools
    assert r.returncode == 0, r.stderr
    emulator.load_rules(out / "firestore.rules", project=PROJECT)  # raises on a compile error
    base = f"http://{emulator.address}/v1/projects/{PROJECT}/databases/(default)/documents"

    def status(url: str) -> int:
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                return resp.status
        except urllib.error.HTTPError as err:
            return err.code

    assert status(f"{base}/sessions") == 403
    assert status(f"{base}/sessions/abcdefghjkmnpqrstuvwx") in (200, 404)  # allowed: not found


def test_firebase_missing_prints_the_exact_commands(tmp_path, sources):
    out = tmp_path / "site"
    r = deploy("--project", PROJECT, "--out", str(out), path=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert (out / "firebase.json").is_file()
    assert "not on PATH" in r.stdout
    assert f"firebase deploy --project {PROJECT} --only hosting,firestore" in r.stdout
    assert f"cd {out}" in r.stdout


def test_use_npx_runs_firebase_tools_through_npx(tmp_path, sources):
    log = tmp_path / "npx.log"
    stand_in(tmp_path / "bin", "npx", log)
    r = deploy("--project", PROJECT, "--out", str(tmp_path / "site"), "--use-npx",
               path=str(tmp_path / "bin"))
    assert r.returncode == 0, r.stderr
    [call] = calls(log)
    assert call["argv"] == ["--yes", "firebase-tools", "deploy", "--project", PROJECT,
                            "--only", "hosting,firestore"]


@pytest.mark.parametrize("given, region", [("europe-west2", "europe-west2"),
                                           ("eur3", "europe-west1"), ("nam5", "us-central1")])
def test_functions_are_written_with_the_chosen_region(tmp_path, sources, given, region):
    out = tmp_path / "site"
    r = deploy("--project", PROJECT, "--out", str(out), "--functions", "--region", given,
               path=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert f"firebase deploy --project {PROJECT} --only hosting,firestore,functions" in r.stdout
    assert "python3.12 -m venv venv" in r.stdout  # firebase-tools analyses them in functions/venv
    fn = out / "functions"
    assert {p.name for p in fn.iterdir()} >= {".env", "main.py", "requirements.txt",
                                              "tfw_functions"}
    assert not (fn / "venv").exists() and not list(fn.rglob("__pycache__"))
    assert (fn / "requirements.txt").read_text() == (sources.functions / "requirements.txt").read_text()
    env = (fn / ".env").read_text()
    assert f"TFWATCHER_FUNCTIONS_REGION={region}\n" in env
    packaged_env = sources.functions / ".env"
    if packaged_env.is_file():  # the parameters' values are kept, so deploy does not prompt
        for line in packaged_env.read_text().splitlines():
            if line and not line.startswith("#"):
                assert line in env.splitlines()
    config = json.loads((out / "firebase.json").read_text())
    assert [c["source"] for c in config["functions"]] == ["functions"]
    assert config["functions"][0]["runtime"] == "python312"
    # What firebase-tools sees when it analyses the code with .env loaded: every function in
    # the region (the repository's functions/main.py is not changed).
    probe = ("import json\n"
             "from firebase_functions.private.serving import get_functions\n"
             "print(json.dumps({n: f.__firebase_endpoint__.region for n, f in get_functions().items()}))")
    environ = {**os.environ, "PYTHONPATH": str(fn), "TFWATCHER_FUNCTIONS_REGION": region}
    try:
        import firebase_functions  # noqa: F401
    except ImportError:
        pytest.skip("firebase-functions is not installed here (functions/requirements.txt)")
    res = subprocess.run([sys.executable, "-c", probe], cwd=fn, env=environ,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    regions = json.loads(res.stdout.strip().splitlines()[-1])
    assert regions and all(r == [region] for r in regions.values()), regions


def test_functions_get_their_venv_before_firebase_deploy(tmp_path, sources):
    """firebase-tools analyses Python functions inside functions/venv: made with python3.12,
    requirements installed, then `firebase deploy ... --only hosting,firestore,functions`."""
    log = tmp_path / "calls.log"
    bin_dir = tmp_path / "bin"
    stand_in(bin_dir, "firebase", log)
    maker = bin_dir / "python3.12"  # records, and makes venv/bin/python (a recorder too)
    maker.write_text(f"#!{sys.executable}\n"
                     "import json, os, shutil, sys\n"
                     f"with open({str(log)!r}, 'a') as f:\n"
                     "    f.write(json.dumps({'argv': ['python3.12', *sys.argv[1:]], 'cwd': os.getcwd(),\n"
                     "                        'files': sorted(os.listdir())}) + '\\n')\n"
                     "os.makedirs('venv/bin', exist_ok=True)\n"
                     f"shutil.copy({str(bin_dir / 'firebase')!r}, 'venv/bin/python')\n")
    maker.chmod(0o755)
    out = tmp_path / "site"
    r = deploy("--project", PROJECT, "--out", str(out), "--functions", "--region", "asia-east1",
               path=str(bin_dir))
    assert r.returncode == 0, r.stdout + r.stderr
    made, pip, fire = calls(log)
    assert made["argv"] == ["python3.12", "-m", "venv", "venv"] and Path(made["cwd"]) == out / "functions"
    assert pip["argv"] == ["-m", "pip", "install", "-q", "-r", "requirements.txt"]
    assert Path(pip["cwd"]) == out / "functions"
    assert fire["argv"] == ["deploy", "--project", PROJECT, "--only", "hosting,firestore,functions"]
    assert Path(fire["cwd"]) == out and "functions" in fire["files"]


def test_functions_without_region_ask_for_the_firestore_location(tmp_path, sources):
    out = tmp_path / "site"
    r = deploy("--project", PROJECT, "--out", str(out), "--functions", path=str(tmp_path))
    assert r.returncode == 2
    assert "--region" in r.stderr and "Firestore location" in r.stderr
    assert "Traceback" not in r.stderr and not out.exists()


@pytest.mark.parametrize("project", ["BAD", "my_project", "1abcdef", "ab", "x" * 31, "abcdef-"])
def test_invalid_project_id_is_one_message(tmp_path, project):
    r = deploy("--project", project, "--out", str(tmp_path / "site"), path=str(tmp_path))
    assert r.returncode == 2
    assert "is not a Firebase project ID" in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "site").exists()


def test_unwritable_out_is_one_message(tmp_path, sources):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for out in (blocker, blocker / "site"):  # a file; a folder that cannot be made
        r = deploy("--project", PROJECT, "--out", str(out), path=str(tmp_path))
        assert r.returncode == 2, r.stdout
        assert "Traceback" not in r.stderr and str(out) in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1


def test_a_folder_of_something_else_is_left_alone(tmp_path, sources):
    """--out pointing at a folder with other files (a home folder, a project) is refused: a
    deploy replaces public/ and functions/ there. Its own folder it writes again."""
    other = tmp_path / "mine"
    (other / "public").mkdir(parents=True)
    (other / "public" / "precious.txt").write_text("keep")
    r = deploy("--project", PROJECT, "--out", str(other), path=str(tmp_path))
    assert r.returncode == 2 and "not empty" in r.stderr and "Traceback" not in r.stderr
    assert (other / "public" / "precious.txt").read_text() == "keep"
    out = tmp_path / "site"
    for _ in range(2):
        r = deploy("--project", PROJECT, "--out", str(out), path=str(tmp_path))
        assert r.returncode == 0, r.stderr


def test_bad_region_is_one_message(tmp_path, sources):
    r = deploy("--project", PROJECT, "--out", str(tmp_path / "o"), "--functions",
               "--region", "Mars!", path=str(tmp_path))
    assert r.returncode == 2 and "not a Cloud Functions region" in r.stderr
    assert "Traceback" not in r.stderr


def test_installation_without_the_dashboard_build_is_one_message(tmp_path, monkeypatch, capsys):
    from tfwatcher import cli
    from tfwatcher.setup import deploy as deploy_module

    empty = tmp_path / "pkg"
    empty.mkdir()
    monkeypatch.setattr(deploy_module, "find_sources", lambda: deploy_module.Sources(
        empty / "dashboard", empty / "firestore.rules", empty / "firestore.indexes.json",
        empty / "firebase.json", empty / "functions", "installed package"))
    code = cli.main(["deploy", "--project", PROJECT, "--out", str(tmp_path / "site")])
    err = capsys.readouterr().err
    assert code == 2
    assert "built dashboard" in err and "release wheel" in err
    assert not (tmp_path / "site").exists()


def test_region_patch_keeps_the_source_otherwise_unchanged():
    from tfwatcher.setup.deploy import region_patch

    src = (ROOT / "functions" / "main.py").read_text()
    patched = region_patch(src)
    assert patched != src and "TFWATCHER_FUNCTIONS_REGION" in patched
    compile(patched, "main.py", "exec")
    assert region_patch(patched) == patched  # idempotent
    added = [line for line in patched.splitlines() if line not in src.splitlines()]
    call = next(line for line in patched.splitlines() if "set_global_options(" in line)
    assert call in added and 'region=os.environ.get("TFWATCHER_FUNCTIONS_REGION"' in call
    assert set(added) <= {call, "import os  # added by `tfwatcher deploy`: the region"}


def test_the_written_functions_carry_the_packages_data_contract(tmp_path):
    """The functions read contract.json beside tfw_functions/contract.py: the folder deploy
    writes has the package's own file there, even from a source without a copy."""
    import shutil

    from tfwatcher.setup.deploy import write_functions

    source = tmp_path / "source"
    shutil.copytree(ROOT / "functions", source,
                    ignore=shutil.ignore_patterns("venv", "__pycache__", "contract.json"))
    assert not (source / "tfw_functions" / "contract.json").exists()
    write_functions(source, tmp_path / "out", "us-central1")
    written = tmp_path / "out" / "tfw_functions" / "contract.json"
    assert written.read_bytes() == (ROOT / "tfwatcher" / "base" / "contract.json").read_bytes()
