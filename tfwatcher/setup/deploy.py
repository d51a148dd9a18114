"""`tfwatcher deploy --project ID`: everything Firebase needs, from the installed package.

A release wheel carries the built dashboard (`tfwatcher/dashboard/`), the security rules, the
indexes, a firebase.json template and the Cloud Functions source (`tfwatcher/firebase/`);
in a checkout the same files come from the repository (hosting/dist, firestore.rules, ...).
This command writes them as a ready Firebase folder:

    OUT/public/                    the dashboard build (Hosting)
    OUT/firestore.rules            the rules browsers are held to
    OUT/firestore.indexes.json
    OUT/firebase.json              the repository's, with `public` pointing at OUT/public
    OUT/.firebaserc                the project
    OUT/functions/                 with --functions: the functions, their region in .env

then runs `firebase deploy --project ID --only hosting,firestore[,functions]` in OUT with
firebase-tools (`firebase` on PATH, or `npx --yes firebase-tools` with --use-npx), or prints
the exact commands when firebase-tools is not there. `--dry-run` prints the plan only.

Bad input (a malformed project ID, an output folder that cannot be written, an installation
without the dashboard build) is one message on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tfwatcher.base import contract

PACKAGE = Path(__file__).resolve().parents[1]  # the tfwatcher folder
CHECKOUT = PACKAGE.parent

# Project IDs: 6 to 30 lowercase letters, digits and hyphens, starting with a letter and not
# ending with a hyphen (Google Cloud's rule).
PROJECT_ID = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
# Cloud Functions regions look like us-central1, europe-west1, asia-northeast3.
REGION = re.compile(r"^[a-z]+(-[a-z]+)+[0-9]+$")
# Firestore multi-region locations and the functions region that serves their triggers.
MULTI_REGION = {"nam5": "us-central1", "nam7": "us-central1", "eur3": "europe-west1"}
REGION_ENV = "TFWATCHER_FUNCTIONS_REGION"
FUNCTIONS_RUNTIME_PYTHON = "python3.12"  # firebase.json's runtime: python312
MARKER = ".tfwatcher-deploy"  # in a folder this command wrote: it may write there again


class DeployError(Exception):
    """Bad input or a missing piece: one message for the user, exit status 2."""


@dataclass
class Sources:
    """Where the files to deploy are: in the installed package, or in a checkout."""
    dashboard: Path
    rules: Path
    indexes: Path
    firebase_json: Path
    functions: Path
    origin: str

    def missing(self) -> list[str]:
        gone = []
        if not (self.dashboard / "index.html").is_file():
            gone.append(f"the built dashboard ({self.dashboard}/index.html)")
        for what in (self.rules, self.indexes, self.firebase_json):
            if not what.is_file():
                gone.append(str(what))
        return gone


def find_sources() -> Sources:
    """The package's copies (a wheel or sdist from scripts/release.sh), else the checkout's."""
    packaged = PACKAGE / "firebase"
    if (packaged / "firestore.rules").is_file():
        return Sources(PACKAGE / "dashboard", packaged / "firestore.rules",
                       packaged / "firestore.indexes.json", packaged / "firebase.json",
                       packaged / "functions", "installed package")
    return Sources(CHECKOUT / "hosting" / "dist", CHECKOUT / "firestore.rules",
                   CHECKOUT / "firestore.indexes.json", CHECKOUT / "firebase.json",
                   CHECKOUT / "functions", "repository checkout")


def check_project(project: str) -> str:
    if not isinstance(project, str) or not PROJECT_ID.match(project):
        raise DeployError(
            f"{project!r} is not a Firebase project ID: IDs are 6 to 30 lowercase letters, digits "
            f"and hyphens, starting with a letter (e.g. my-project-1234). Find yours in the "
            f"Firebase console (Project settings > General > Project ID) or with "
            f"`firebase projects:list`.")
    return project


def check_region(region: str | None) -> str:
    if region is None:
        raise DeployError(
            "--functions needs --region, the Cloud Functions region matching your Firestore "
            "location (Firebase console > Firestore Database: the location is shown above the "
            "data; or `gcloud firestore databases describe --project ID`): a regional location "
            "such as europe-west2 is also the region (--region europe-west2); for the "
            "multi-region nam5 use us-central1, for eur3 europe-west1.")
    region = region.strip().lower()
    if region in MULTI_REGION:
        return MULTI_REGION[region]
    if not REGION.match(region):
        raise DeployError(f"--region {region!r} is not a Cloud Functions region (such as "
                          f"us-central1 or europe-west1); use your Firestore location's region.")
    return region


def firebase_json(template: dict, functions: bool) -> dict:
    """The repository's firebase.json for a folder where everything sits at the top: the
    dashboard in public/, rules and indexes beside it, functions in functions/ (or none)."""
    config = json.loads(json.dumps(template))
    hosting = config.get("hosting")
    for site in hosting if isinstance(hosting, list) else [hosting] if hosting else []:
        site["public"] = "public"
    config["firestore"] = {**config.get("firestore", {}), "rules": "firestore.rules",
                           "indexes": "firestore.indexes.json"}
    if functions:
        codebases = config.get("functions") or [{"source": "functions", "codebase": "default",
                                                 "runtime": "python312"}]
        if isinstance(codebases, dict):
            codebases = [codebases]
        for codebase in codebases:
            codebase["source"] = "functions"
        config["functions"] = codebases
    else:
        config.pop("functions", None)
    return config


def region_patch(main_py: str) -> str:
    """functions/main.py with its global options taking the region from REGION_ENV, which the
    written `.env` sets (firebase-tools loads it before analysing the code). The repository's
    file is not changed; a main.py that already reads the variable is kept as it is."""
    if REGION_ENV in main_py:
        return main_py
    call = "options.set_global_options("
    if call not in main_py:
        raise DeployError("the packaged functions/main.py has no options.set_global_options(...) "
                          "call to set the region on; deploy without --functions, or report this "
                          "as a bug")
    head, tail = main_py.split(call, 1)
    if re.match(r"[^)]*\bregion\s*=", tail):
        raise DeployError("the packaged functions/main.py pins a region already; report this as a "
                          "bug, or deploy without --functions")
    region = f'region=os.environ.get("{REGION_ENV}", "us-central1"), '
    patched = head + call + region + tail
    if not re.search(r"^import os$", patched, flags=re.M):
        # After the `from __future__` import when there is one (it must stay first).
        match = re.search(r"^from __future__ import [^\n]+\n", patched, flags=re.M)
        at = match.end() if match else 0
        patched = patched[:at] + "import os  # added by `tfwatcher deploy`: the region\n" + patched[at:]
    return patched


@dataclass
class Plan:
    project: str
    out: Path
    functions: bool
    region: str | None
    sources: Sources
    only: str = field(init=False)

    def __post_init__(self):
        self.only = "hosting,firestore" + (",functions" if self.functions else "")

    def deploy_args(self) -> list[str]:
        return ["deploy", "--project", self.project, "--only", self.only]

    def venv_commands(self) -> list[list[str]]:
        """firebase-tools analyses Python functions inside functions/venv (Python 3.12)."""
        if not self.functions:
            return []
        return [[FUNCTIONS_RUNTIME_PYTHON, "-m", "venv", "venv"],
                ["venv/bin/python", "-m", "pip", "install", "-q", "-r", "requirements.txt"]]

    def describe(self) -> list[str]:
        s = self.sources
        lines = [f"Deploy TF Watcher to Firebase project {self.project!r} "
                 f"(files from the {s.origin}):",
                 f"  {self.out}/public/               <- {s.dashboard}",
                 f"  {self.out}/firestore.rules       <- {s.rules}",
                 f"  {self.out}/firestore.indexes.json <- {s.indexes}",
                 f"  {self.out}/firebase.json         <- {s.firebase_json} (public: public)",
                 f"  {self.out}/.firebaserc           (default project: {self.project})"]
        if self.functions:
            lines.append(f"  {self.out}/functions/            <- {s.functions} "
                         f"(region {self.region}, set in functions/.env)")
        return lines


def write(plan: Plan) -> None:
    """Write the folder (replacing what an earlier run wrote there, nothing else)."""
    s, out = plan.sources, plan.out
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / MARKER).write_text("Written by `tfwatcher deploy`; running it again replaces "
                                  "public/ and functions/ here.\n")
    except OSError as err:
        raise DeployError(f"cannot write to {out} ({err.strerror or err}): pass --out with a "
                          f"folder you can write to") from None
    try:
        shutil.rmtree(out / "public", ignore_errors=True)
        shutil.copytree(s.dashboard, out / "public",
                        ignore=shutil.ignore_patterns("firestore.rules", "__pycache__"))
        shutil.copyfile(s.rules, out / "firestore.rules")
        shutil.copyfile(s.indexes, out / "firestore.indexes.json")
        template = json.loads(s.firebase_json.read_text())
        (out / "firebase.json").write_text(json.dumps(firebase_json(template, plan.functions),
                                                      indent=2) + "\n")
        (out / ".firebaserc").write_text(json.dumps({"projects": {"default": plan.project}},
                                                    indent=2) + "\n")
        if plan.functions:
            write_functions(s.functions, out / "functions", plan.region)
    except OSError as err:
        raise DeployError(f"writing {out} failed: {err}") from None
    except ValueError as err:  # a broken firebase.json template
        raise DeployError(f"the packaged firebase.json is not valid JSON ({err}); reinstall "
                          f"tf-watcher") from None


def write_functions(source: Path, dest: Path, region: str) -> None:
    main = source / "main.py"
    if not main.is_file():
        raise DeployError(f"this installation has no Cloud Functions source ({main}): install a "
                          f"release wheel (scripts/release.sh builds one)")
    for child in dest.iterdir() if dest.is_dir() else []:
        if child.name == "venv":
            continue  # made by an earlier deploy: reused (its requirements are reinstalled)
        shutil.rmtree(child) if child.is_dir() else child.unlink()
    dest.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "venv", ".venv", "tests", "*.local")
    for child in source.iterdir():
        if child.name in ("venv", ".venv", "__pycache__", "tests") or child.name.endswith(".local"):
            continue
        if child.is_dir():
            shutil.copytree(child, dest / child.name, ignore=ignore)
        elif child.name != "main.py":
            shutil.copyfile(child, dest / child.name)
    (dest / "main.py").write_text(region_patch(main.read_text()))
    # The functions read the data contract beside tfw_functions/contract.py: this package's
    # own file, so they always agree with the package doing the deploy.
    (dest / "tfw_functions").mkdir(exist_ok=True)
    shutil.copyfile(Path(contract.__file__).with_name("contract.json"),
                    dest / "tfw_functions" / "contract.json")
    (dest / ".env").write_text(env_with_region(
        (source / ".env").read_text() if (source / ".env").is_file() else "", region))


def env_with_region(dotenv: str, region: str) -> str:
    """The functions' .env (their parameters' values, so `firebase deploy` does not prompt)
    with REGION_ENV set to `region`, replacing an earlier value."""
    lines = [line for line in dotenv.splitlines()
             if not re.match(rf"^\s*{REGION_ENV}\s*=", line)]
    while lines and not lines[-1].strip():
        lines.pop()
    lines += ["# Written by `tfwatcher deploy`: the functions' region, matching the Firestore "
              "location.", f"{REGION_ENV}={region}"]
    return "\n".join(lines) + "\n"


def firebase_command(use_npx: bool) -> list[str] | None:
    """firebase-tools: `firebase` on PATH, else `npx --yes firebase-tools` if asked for."""
    found = shutil.which("firebase")
    if found:
        return [found]
    if use_npx and shutil.which("npx"):
        return [shutil.which("npx"), "--yes", "firebase-tools"]
    return None


def _shell(cmd: list[str]) -> str:
    return " ".join(shlex.quote(c) for c in cmd)


def manual_commands(plan: Plan) -> list[str]:
    lines = [f"cd {shlex.quote(str(plan.out))}"]
    if plan.functions:
        lines.append(f"(cd functions && {' && '.join(_shell(c) for c in plan.venv_commands())})")
    lines.append("firebase login   # once; in Cloud Shell: firebase login --no-localhost")
    lines.append(_shell(["firebase", *plan.deploy_args()]))
    return lines


def run(args) -> int:
    """The `tfwatcher deploy` subcommand."""
    try:
        return _run(args)
    except DeployError as err:
        print(f"tfwatcher deploy: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tfwatcher deploy: interrupted", file=sys.stderr)
        return 130


def _run(args) -> int:
    project = check_project(args.project)
    region = check_region(args.region) if args.functions else None
    if args.region and not args.functions:
        print("tfwatcher deploy: --region only matters with --functions; ignored.", file=sys.stderr)
    sources = find_sources()
    gone = sources.missing()
    if gone:
        raise DeployError(
            f"this installation lacks what it deploys: {', '.join(gone)}. Install a release wheel "
            f"(built by scripts/release.sh, which carries the dashboard, rules and functions), or "
            f"in a checkout build the dashboard first: `cd hosting && npm ci && npm run build`.")
    if args.functions and not (sources.functions / "main.py").is_file():
        raise DeployError(f"this installation has no Cloud Functions source "
                          f"({sources.functions}/main.py): deploy without --functions, or install "
                          f"a release wheel")
    out = Path(args.out).expanduser().absolute() if args.out else Path.cwd() / "tfwatcher-firebase"
    if out.exists() and not out.is_dir():
        raise DeployError(f"--out {out} is a file, not a folder: pass a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists():
        raise DeployError(f"--out {out} is not empty and was not written by `tfwatcher deploy`; "
                          f"pass a new or empty folder (its public/ and functions/ would be "
                          f"replaced)")
    plan = Plan(project, out, args.functions, region, sources)
    firebase = firebase_command(args.use_npx)

    for line in plan.describe():
        print(line)
    if args.dry_run:
        print("Then, in that folder:")
        if firebase:
            for cmd in plan.venv_commands():
                print(f"  (functions) {_shell(cmd)}")
            print(f"  {_shell([*firebase, *plan.deploy_args()])}")
        else:
            for line in manual_commands(plan):
                print(f"  {line}")
        print("Dry run: nothing was written.")
        return 0

    write(plan)
    print(f"Wrote {out}")
    if firebase is None:
        why = ("npx was not found either" if args.use_npx else
               "pass --use-npx to run it through npx" if shutil.which("npx") else
               "install it with `npm install -g firebase-tools`, or use Google Cloud Shell, "
               "which has it")
        print(f"firebase-tools (`firebase`) is not on PATH ({why}). To deploy, run:")
        for line in manual_commands(plan):
            print(f"  {line}")
        return 0
    for cmd in plan.venv_commands():
        if cmd[0] == FUNCTIONS_RUNTIME_PYTHON:
            if (out / "functions" / "venv" / "bin" / "python").exists():
                continue
            if not shutil.which(FUNCTIONS_RUNTIME_PYTHON):
                raise DeployError(
                    f"the functions run on Python 3.12 and firebase-tools analyses them in "
                    f"functions/venv, made with {FUNCTIONS_RUNTIME_PYTHON}, which is not on PATH. "
                    f"Install Python 3.12, or deploy without --functions. The folder is written: "
                    f"{out}")
        print(f"$ (cd functions && {_shell(cmd)})", flush=True)
        if subprocess.call(cmd, cwd=out / "functions") != 0:
            print(f"tfwatcher deploy: `{_shell(cmd)}` failed in {out / 'functions'}; fix that, "
                  f"then run the commands above by hand.", file=sys.stderr)
            return 1
    cmd = [*firebase, *plan.deploy_args()]
    print(f"$ cd {shlex.quote(str(out))} && {_shell(cmd)}", flush=True)
    try:
        code = subprocess.call(cmd, cwd=out)
    except OSError as err:
        raise DeployError(f"could not run firebase-tools ({err})") from None
    if code != 0:
        print(f"tfwatcher deploy: firebase-tools failed (exit status {code}). If it asked you to "
              f"sign in, run `firebase login` (in Cloud Shell `firebase login --no-localhost`) and "
              f"run this command again; the folder is ready in {out}.", file=sys.stderr)
        return 1
    print(f"Deployed. Your dashboard: https://{project}.web.app/  "
          f"Check the setup with `tfwatcher doctor --project {project}`.")
    return 0


def add_parser(sub) -> None:
    """Register `tfwatcher deploy` on the CLI's subparsers."""
    p = sub.add_parser("deploy", help="deploy the dashboard, rules (and functions) to your Firebase",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("--project", required=True, help="your Firebase project ID")
    p.add_argument("--out", default=None,
                   help="folder to write the Firebase files into (default ./tfwatcher-firebase)")
    p.add_argument("--functions", action="store_true",
                   help="also deploy the Cloud Functions (notifications, stall sweep, retention; "
                        "needs the Blaze plan)")
    p.add_argument("--region", default=None,
                   help="with --functions: their region, matching your Firestore location "
                        "(e.g. europe-west1; nam5 -> us-central1, eur3 -> europe-west1)")
    p.add_argument("--use-npx", action="store_true",
                   help="run firebase-tools through `npx --yes firebase-tools` when `firebase` is "
                        "not on PATH")
    p.add_argument("--dry-run", action="store_true", help="print the plan; write nothing")
    p.set_defaults(func=run)
