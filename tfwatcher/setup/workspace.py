"""`tfwatcher workspace new|show|list`: make a workspace (all runs on one link) and print its
links.

`new` draws a workspace ID and an owner key, writes `workspaces/{wid}` and
`workspaces/{wid}/private/owner` with the project's Firestore client (found as a run finds it:
`tfwatcher.base.project.resolve`, so it works against `tfwatcher local` too), keeps both in
`~/.tfwatcher/workspaces.json` (`tfwatcher.base.workspaces`) as the default, and prints the
read-only link, the owner link (private), a QR code of the owner link and how a run joins.
`show` prints the same from that file, with no Firestore access. Anything that stops them is
one message and exit status 2, never a traceback.
"""

from __future__ import annotations

import os
import secrets
import sys

from tfwatcher.base import access, contract, ids
from tfwatcher.base import project as projects
from tfwatcher.base import workspaces as store

ENV = store.ENV
SHARE_LABEL = "Read-only link (every run of the workspace, safe to share):"
OWNER_LABEL = "Owner link (can stop any of its runs; keep it private):"


KEY_BYTES = 24  # as a session's owner key (tfwatcher/record/owner.py): 192 bits, URL-safe


def new_owner_key() -> str:
    return secrets.token_urlsafe(KEY_BYTES)


class WorkspaceError(RuntimeError):
    """One sentence for the user; the command exits 2."""


def links(wid: str, key: str | None, dashboard_url: str) -> tuple[str, str | None]:
    """(read-only link `/w/{wid}`, owner link `/w/{wid}#k={key}` or None without a key)."""
    base = f"{dashboard_url.rstrip('/')}/w/{wid}"
    return base, (f"{base}#k={key}" if key else None)


def _refs(client, wid: str):
    """(the workspace document, its private/owner document)."""
    workspace = client.collection(contract.COLLECTIONS["workspaces"]).document(wid)
    owner = workspace.collection(contract.COLLECTIONS["private"]).document(contract.DOCUMENTS["owner"])
    return workspace, owner


def _retry(timeout: float):
    from google.api_core import retry as retries

    return retries.Retry(predicate=access.is_transient, initial=0.2, maximum=2.0,
                         multiplier=2.0, timeout=timeout)


def describe(err: BaseException, project: str | None, timeout: float | None = None) -> str:
    """One sentence for what stopped the write, and the fix."""
    from google.api_core import exceptions as gexc

    where = f"project {project!r}" if project else "the configured project"
    if access._is_credentials_error(err):
        return f"no usable Google credentials: {access.how_to_sign_in()}."
    if isinstance(err, gexc.PermissionDenied):
        return (f"these credentials may not write to Firestore in {where} "
                f"({access.first_line(err)}). Give the account the 'Cloud Datastore User' role "
                f"(Google Cloud console, IAM), or use credentials of that project.")
    if isinstance(err, gexc.Unauthenticated):
        return f"the credentials were not accepted ({access.first_line(err)}): {access.how_to_sign_in()}."
    if isinstance(err, gexc.NotFound):
        return (f"{where} has no Firestore database, or the project ID is wrong "
                f"({access.first_line(err)}). Create the database (Firebase console > Firestore "
                f"Database) or pass --project.")
    if access.is_transient(err):
        cause = getattr(err, "cause", None) or err  # a RetryError: what was retried
        within = f" within {timeout:g} s" if timeout else ""
        emulator = os.environ.get("FIRESTORE_EMULATOR_HOST")
        hint = (f"is the emulator at {emulator} running (`tfwatcher local`)?" if emulator
                else "check the network and try again.")
        return (f"could not reach Firestore ({where}){within} ({type(cause).__name__}: "
                f"{access.first_line(cause)}); {hint}")
    return f"Firestore refused the write ({type(err).__name__}: {access.first_line(err)})."


def resolve(project: str | None, credentials=None, dashboard_url: str | None = None):
    """The target a run would write to, or WorkspaceError saying what to configure."""
    try:
        return projects.resolve(project, credentials, dashboard_url)
    except ValueError as err:
        raise WorkspaceError(str(err)) from None
    except projects.NotConfigured:
        path = access.missing_key_file()
        raise WorkspaceError(
            f"GOOGLE_APPLICATION_CREDENTIALS names {path}, which does not exist: point it at your "
            f"service-account key file" if path else
            "no Firebase project configured: pass --project YOUR_PROJECT_ID (or set "
            "TFWATCHER_PROJECT), signed in with GOOGLE_APPLICATION_CREDENTIALS or `gcloud auth "
            "application-default login`; or run `tfwatcher local` to make one on this machine") from None


def create(project: str | None = None, name: str | None = None, credentials=None,
           dashboard_url: str | None = None, timeout: float = 10.0) -> dict:
    """Make a workspace in Firestore and keep it in the local list as the default.

    Returns {"id", "key", "project", "dashboard_url", "name", "saved": error or None}: when
    the local list cannot be written, the workspace exists anyway and `saved` says why it was
    not kept (print the links: they are the only copy of the key). WorkspaceError otherwise.
    """
    from google.cloud import firestore

    if name is not None and (not isinstance(name, str) or len(name) > 200):
        raise WorkspaceError("--name must be text of at most 200 characters")
    if not timeout > 0:
        raise WorkspaceError(f"--timeout must be a positive number of seconds; got {timeout:g}")
    target = resolve(project, credentials, dashboard_url)
    wid, key = ids.new_workspace_id(), new_owner_key()
    client = None
    try:
        client = target.client()
        workspace, owner = _refs(client, wid)
        batch = client.batch()
        # create(): a drawn ID that exists (89 random bits: never in practice) fails, not overwrites
        batch.create(workspace, {"schema": contract.SCHEMA, "created": firestore.SERVER_TIMESTAMP,
                                 "name": name})
        batch.create(owner, {"key": key})
        batch.commit(retry=_retry(timeout), timeout=timeout)
    except WorkspaceError:
        raise
    except Exception as err:
        raise WorkspaceError(f"the workspace was not made: {describe(err, target.project, timeout)}") from None
    finally:
        access.close_quietly(client)
    made = {"id": wid, "key": key, "project": target.project,
            "dashboard_url": target.dashboard_url, "name": name, "saved": None}
    try:
        store.save(wid, key, target.project, target.dashboard_url, name=name)
    except (store.StoreError, ValueError) as err:
        made["saved"] = str(err)
    return made


def _qr_on(qr: bool | None) -> bool:
    if qr is not None:
        return qr
    return os.environ.get("TFWATCHER_QR", "1") != "0"


def announce(wid: str, entry: dict, file=None, qr: bool | None = None) -> None:
    """Print the workspace's ID, read-only link, owner link (marked private), a QR code of the
    owner link (`TFWATCHER_QR=0` or `qr=False`: none) and how runs join it."""
    from tfwatcher.base.display import qr_text

    file = file or sys.stdout
    share, owner = links(wid, entry.get("key"), entry.get("dashboard_url") or "")
    shown = ids.display_workspace_id(wid)
    name = entry.get("name")
    out = [f"Workspace {shown}" + (f"  ({name})" if name else "")
           + (f"  · project {entry['project']}" if entry.get("project") else ""),
           f"  {SHARE_LABEL} {share}"]
    if owner:
        out.append(f"  {OWNER_LABEL} {owner}")
    file.write("\n".join(out) + "\n")
    if owner and _qr_on(qr):
        file.write("  QR code of the owner link (scan it with your phone):\n")
        file.write(qr_text(owner))
    file.write(
        f"Every run that names this workspace appears on that page by itself. Either:\n"
        f"  * set the environment variable (a shell, a job, or a notebook secret):\n"
        f"      export {ENV}={shown}\n"
        f"    Colab: add a secret {ENV} (key icon) holding {shown}, then in the notebook:\n"
        f"      import os; from google.colab import userdata\n"
        f"      os.environ[\"{ENV}\"] = userdata.get(\"{ENV}\")\n"
        f"    Kaggle: Add-ons > Secrets, {ENV} holding {shown}, then:\n"
        f"      import os; from kaggle_secrets import UserSecretsClient\n"
        f"      os.environ[\"{ENV}\"] = UserSecretsClient().get_secret(\"{ENV}\")\n"
        f"  * or pass workspace=\"{shown}\" to any callback, tfwatcher.Session or integration.\n"
        f"The ID (or the read-only link) is what runs need; never put the owner link in a notebook.\n")
    file.flush()


def _fail(command: str, message: str) -> int:
    print(f"tfwatcher workspace {command}: {message}", file=sys.stderr)
    return 2


def new_command(args) -> int:
    try:
        made = create(args.project, args.name, timeout=args.timeout)
    except WorkspaceError as err:
        return _fail("new", str(err))
    announce(made["id"], made, qr=False if args.no_qr else None)
    if made["saved"]:
        return _fail("new", f"the workspace was made, but not kept on this machine: {made['saved']} "
                            f"Copy the owner link above now: nothing else holds its key.")
    print(f"(Kept in {store.path()} as the default workspace: `tfwatcher workspace show` prints "
          f"this again.)")
    return 0


def _wanted(text: str | None) -> str:
    """The workspace `show` means: `text` (an ID or link), else the default."""
    if text:
        try:
            return ids.parse_workspace(text)
        except ValueError as err:
            raise WorkspaceError(str(err)) from None
    wid = store.default()
    if wid is None:
        raise WorkspaceError(f"no workspace made on this machine yet ({store.path()} lists none): "
                             f"`tfwatcher workspace new` makes one.")
    return wid


def show_command(args) -> int:
    try:
        wid = _wanted(args.id)
        entry = store.get(wid)
        if entry is None:
            raise WorkspaceError(
                f"{ids.display_workspace_id(wid)} was not made on this machine ({store.path()} "
                f"has no owner key for it); its read-only link is /w/{wid} on its dashboard.")
    except (WorkspaceError, store.StoreError) as err:
        return _fail("show", str(err))
    announce(wid, entry, qr=False if args.no_qr else None)
    return 0


def list_command(args) -> int:
    try:
        spaces, default = store.all(), store.default()
    except store.StoreError as err:
        return _fail("list", str(err))
    if not spaces:
        print("No workspace made on this machine yet: `tfwatcher workspace new` makes one.")
        return 0
    for wid, entry in spaces.items():
        mark = "*" if wid == default else " "
        bits = [ids.display_workspace_id(wid), entry.get("created") or "", entry.get("project") or ""]
        if entry.get("name"):
            bits.append(str(entry["name"]))
        print(f"{mark} " + "  ".join(bits))
    print("(* the default: `tfwatcher runs` and `tfwatcher workspace show` use it)")
    return 0


def add_parser(sub) -> None:
    """Register `tfwatcher workspace new|show|list` on the CLI's subparsers."""
    p = sub.add_parser("workspace", help="all your runs on one link: make or show a workspace",
                       description=__doc__.split("\n\n")[0])
    actions = p.add_subparsers(dest="action", required=True)
    new = actions.add_parser("new", help="make a workspace (saved as the default) and print its links")
    new.add_argument("--project", default=None, help="Firebase project ID (default: as a run finds it)")
    new.add_argument("--name", default=None, help="a name for it, kept with it")
    new.add_argument("--timeout", type=float, default=10.0,
                     help="seconds the write may take, retries included (default 10)")
    new.add_argument("--no-qr", action="store_true", help="no QR code (also TFWATCHER_QR=0)")
    new.set_defaults(func=new_command)
    show = actions.add_parser("show", help="print a workspace's links again (no network)")
    show.add_argument("id", nargs="?", metavar="ID", help="workspace ID or link (default: the default)")
    show.add_argument("--no-qr", action="store_true", help="no QR code (also TFWATCHER_QR=0)")
    show.set_defaults(func=show_command)
    lst = actions.add_parser("list", help="the workspaces made on this machine")
    lst.set_defaults(func=list_command)
