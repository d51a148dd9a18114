"""`tfwatcher doctor [--project ID]`: is this machine set up to record runs, and is the project
safe? Each check prints OK or FAIL (SKIP where an earlier failure makes it meaningless) and,
for a failure, the fix:

1. credentials: which ones a run would use (a key file, Application Default Credentials, the
   Colab sign-in, the machine's account; none for an emulator);
2. project: which Firebase project a run would write to, and where that came from;
3. Firestore reachable: one read of a document that does not exist (short timeout);
4. write and delete: a test document under `tfwatcher-doctor/` (skip with --no-write);
5. rules: a stranger (an anonymous REST client, no credentials) may not list `sessions`:
   403 PERMISSION_DENIED is what deployed rules answer.

Exit status 0 when every check passes, 1 otherwise; never a traceback.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass

from tfwatcher.base import access
from tfwatcher.base import project as projects

TIMEOUT = 5.0  # seconds for each network check
DOCTOR_COLLECTION = "tfwatcher-doctor"
PRODUCTION_REST = "https://firestore.googleapis.com"


@dataclass
class Finding:
    name: str
    status: str  # OK, FAIL or SKIP
    detail: str
    fix: str = ""

    def lines(self) -> list[str]:
        out = [f"{self.status:<4}  {self.name}: {self.detail}"]
        if self.fix:
            out.append(f"      fix: {self.fix}")
        return out


def _first_line(err: BaseException) -> str:
    return access.first_line(err)


def _with_deadline(fn, seconds: float):
    """fn() in a daemon thread: its result, or TimeoutError after `seconds` (a credentials
    refresh or a connection can hang past the client's own timeout)."""
    box: dict = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as err:  # noqa: BLE001 - handed to the caller
            box["error"] = err

    thread = threading.Thread(target=target, name="tfwatcher-doctor", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise TimeoutError(f"no answer within {seconds:g} s")
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _describe_credentials(creds) -> str:
    kind = type(creds).__module__ + "." + type(creds).__name__
    email = getattr(creds, "service_account_email", None)
    if "service_account" in kind:
        return f"a service account ({email})" if email else "a service account"
    if "compute_engine" in kind:
        return "this machine's service account (metadata server)"
    if "external_account" in kind or "identity_pool" in kind:
        return "workload identity federation"
    if "oauth2.credentials" in kind:
        return "your user account (gcloud auth application-default login)"
    return type(creds).__name__


def check_credentials(target: projects.Target | None) -> tuple[Finding, bool]:
    """(finding, usable)."""
    name = "credentials"
    if target is not None and target.emulator_host:
        return Finding(name, "OK", f"none needed: the Firestore emulator at "
                                   f"{target.emulator_host}"), True
    path = access.missing_key_file()
    if path:
        return Finding(name, "FAIL", f"GOOGLE_APPLICATION_CREDENTIALS names {path}, which does "
                                     f"not exist", access.how_to_sign_in()), False
    if target is not None and target.credentials is not None:
        return Finding(name, "OK", f"passed in: {_describe_credentials(target.credentials)}"), True
    try:
        import google.auth
        from google.auth.exceptions import DefaultCredentialsError

        try:
            creds, _ = _with_deadline(lambda: google.auth.default(
                scopes=["https://www.googleapis.com/auth/datastore"]), 20)
        except DefaultCredentialsError as err:
            return Finding(name, "FAIL", f"no Google credentials found ({_first_line(err)})",
                           access.how_to_sign_in()), False
    except Exception as err:  # a malformed key file, a hung metadata server, ...
        return Finding(name, "FAIL", f"could not load credentials ({type(err).__name__}: "
                                     f"{_first_line(err)})", access.how_to_sign_in()), False
    key = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    env = access.environment()
    if key:
        where = f"key file {key} ({_describe_credentials(creds)})"
    elif env == "colab":
        where = "Colab's sign-in (Application Default Credentials)"
    else:
        where = f"Application Default Credentials: {_describe_credentials(creds)}"
    return Finding(name, "OK", where), True


def resolve_target(project: str | None) -> tuple[projects.Target | None, Finding]:
    name = "project"
    try:
        target = projects.resolve(project)
    except ValueError as err:
        return None, Finding(name, "FAIL", str(err), "pass --project YOUR_PROJECT_ID")
    except projects.NotConfigured:
        return None, Finding(name, "FAIL", "no Firebase project configured",
                             "pass --project YOUR_PROJECT_ID or set TFWATCHER_PROJECT (in "
                             "Colab, authenticate first: the project then comes with the "
                             "credentials), or run `tfwatcher local` for this machine's emulator")
    if target.emulator_host:
        source = ("a running `tfwatcher local`" if not os.environ.get("FIRESTORE_EMULATOR_HOST")
                  and not project else "FIRESTORE_EMULATOR_HOST")
        return target, Finding(name, "OK", f"{target.project} on the Firestore emulator at "
                                           f"{target.emulator_host} (from {source})")
    source = ("--project" if project else "TFWATCHER_PROJECT" if os.environ.get("TFWATCHER_PROJECT")
              else "GOOGLE_CLOUD_PROJECT" if os.environ.get("GOOGLE_CLOUD_PROJECT")
              else "GCLOUD_PROJECT" if os.environ.get("GCLOUD_PROJECT") else "the credentials")
    return target, Finding(name, "OK", f"{target.project} (from {source}); dashboard "
                                       f"{target.dashboard_url}")


def _access_fix(err: BaseException, target: projects.Target) -> str:
    from google.api_core import exceptions as gexc

    p = target.project
    if isinstance(err, gexc.NotFound):
        return (f"create the database (Firebase console > Firestore Database > Create database, "
                f"in project {p}), or correct the project ID")
    if isinstance(err, gexc.PermissionDenied):
        return (f"give the account the 'Cloud Datastore User' role in project {p} (Google Cloud "
                f"console > IAM), or use credentials of that project")
    if isinstance(err, gexc.FailedPrecondition):
        return (f"project {p}'s database is in Datastore mode or not ready: TF Watcher needs "
                f"Firestore in Native mode")
    if access.is_permanent(err):
        return access.how_to_sign_in()
    if target.emulator_host:
        return (f"start the emulator (`tfwatcher local`) or correct FIRESTORE_EMULATOR_HOST "
                f"({target.emulator_host})")
    return "check the network connection (and any proxy or firewall) to firestore.googleapis.com"


def check_reachable(client, target: projects.Target) -> Finding:
    name = "Firestore reachable"
    doc = client.collection(DOCTOR_COLLECTION).document("absent")
    try:
        snap = _with_deadline(lambda: doc.get(retry=None, timeout=TIMEOUT), TIMEOUT + 2)
    except Exception as err:
        where = target.emulator_host or "firestore.googleapis.com"
        return Finding(name, "FAIL", f"a read from {where} failed ({type(err).__name__}: "
                                     f"{_first_line(err)})", _access_fix(err, target))
    return Finding(name, "OK", f"a read of project {target.project} answered "
                               f"({'found' if snap.exists else 'no such document, as expected'})")


def check_write(client, target: projects.Target) -> Finding:
    name = "write and delete"
    doc = client.collection(DOCTOR_COLLECTION).document(
        f"{socket.gethostname()[:40]}-{uuid.uuid4().hex[:12]}")
    try:
        _with_deadline(lambda: doc.set({"by": "tfwatcher doctor"}, retry=None, timeout=TIMEOUT),
                       TIMEOUT + 2)
    except Exception as err:
        return Finding(name, "FAIL", f"a test write was refused ({type(err).__name__}: "
                                     f"{_first_line(err)})", _access_fix(err, target))
    try:
        _with_deadline(lambda: doc.delete(retry=None, timeout=TIMEOUT), TIMEOUT + 2)
    except Exception as err:
        return Finding(name, "FAIL", f"wrote {doc.path} but could not delete it "
                                     f"({type(err).__name__}: {_first_line(err)})",
                       f"delete {doc.path} in the Firebase console; {_access_fix(err, target)}")
    return Finding(name, "OK", f"wrote and deleted {DOCTOR_COLLECTION}/{doc.id}")


def listing_url(target: projects.Target) -> str:
    path = f"/v1/projects/{target.project}/databases/(default)/documents/sessions?pageSize=1"
    if target.emulator_host:
        return f"http://{target.emulator_host}{path}"
    return PRODUCTION_REST + path


def check_rules(target: projects.Target) -> Finding:
    """An anonymous REST client (no Authorization header) lists `sessions`: the rules must
    answer 403 PERMISSION_DENIED."""
    name = "rules deny listing sessions"
    url = listing_url(target)
    fix = (f"deploy the rules: `tfwatcher deploy --project {target.project}` (or `firebase deploy "
           f"--only firestore:rules` with the project's firestore.rules)")
    if target.emulator_host:
        fix = ("deploy the rules to the emulator: start it with the project's firestore.rules "
               "(`tfwatcher local` does; for Google's emulator, `--rules firestore.rules`)")
    req = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
            body = r.read(2000)
            status = r.status
    except urllib.error.HTTPError as err:
        status = err.code
        body = err.read(2000) if hasattr(err, "read") else b""
    except Exception as err:  # URLError, timeout, connection refused
        reason = getattr(err, "reason", err)
        return Finding(name, "FAIL", f"could not reach {url.split('/v1/')[0]} "
                                     f"({type(err).__name__}: {_first_line(reason)})",
                       _access_fix(ConnectionError(), target))
    try:
        error = json.loads(body or b"{}").get("error", {})
    except ValueError:
        error = {}
    if isinstance(error, list):
        error = error[0] if error else {}
    state = error.get("status", "") if isinstance(error, dict) else ""
    if status == 403 or state == "PERMISSION_DENIED":
        return Finding(name, "OK", "a stranger listing sessions is refused (403 PERMISSION_DENIED)")
    if status == 200:
        return Finding(name, "FAIL", "a stranger, without any credentials, could list every "
                                     "session: anyone could read all your runs", fix)
    if status == 404:
        return Finding(name, "FAIL", f"project {target.project} has no Firestore database "
                                     f"(404 {state})",
                       "create the database (Firebase console > Firestore Database), then "
                       + fix.split(": ", 1)[0])
    return Finding(name, "FAIL", f"unexpected answer {status} {state} from {url}",
                   "check the project ID; then " + fix)


def diagnose(project: str | None = None, write: bool = True) -> list[Finding]:
    findings: list[Finding] = []
    target, project_finding = resolve_target(project)
    creds, usable = check_credentials(target)
    findings += [creds, project_finding]
    if target is None:
        for name in ("Firestore reachable", "write and delete", "rules deny listing sessions"):
            findings.append(Finding(name, "SKIP", "no project to check"))
        return findings
    client = None
    if usable:
        try:
            client = target.client()
        except Exception as err:
            findings.append(Finding("Firestore reachable", "FAIL",
                                    f"no Firestore client ({type(err).__name__}: "
                                    f"{_first_line(err)})", _access_fix(err, target)))
    if client is None:
        if usable is False:
            findings.append(Finding("Firestore reachable", "SKIP", "no credentials"))
        findings.append(Finding("write and delete", "SKIP", "no Firestore client"))
    else:
        reach = check_reachable(client, target)
        findings.append(reach)
        if not write:
            findings.append(Finding("write and delete", "SKIP", "--no-write"))
        elif reach.status != "OK":
            findings.append(Finding("write and delete", "SKIP", "Firestore not reachable"))
        else:
            findings.append(check_write(client, target))
        access.close_quietly(client)
    findings.append(check_rules(target))
    return findings


def run(args) -> int:
    """The `tfwatcher doctor` subcommand."""
    try:
        findings = diagnose(args.project, write=not args.no_write)
    except KeyboardInterrupt:
        print("tfwatcher doctor: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # a bug here must still not be a traceback
        print(f"tfwatcher doctor: could not finish the checks ({type(err).__name__}: "
              f"{_first_line(err)})", file=sys.stderr)
        return 1
    for finding in findings:
        for line in finding.lines():
            print(line)
    failed = [f for f in findings if f.status == "FAIL"]
    print(f"{len(failed)} check(s) failed." if failed else "All checks passed.", flush=True)
    return 1 if failed else 0


def add_parser(sub) -> None:
    """Register `tfwatcher doctor` on the CLI's subparsers."""
    p = sub.add_parser("doctor", help="check credentials, project, Firestore and the rules",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("--project", default=None, help="Firebase project ID (default: as a run "
                                                   "would find it)")
    p.add_argument("--no-write", action="store_true",
                   help="skip the test write (and delete) of a document under tfwatcher-doctor/")
    p.set_defaults(func=run)
