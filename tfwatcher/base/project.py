"""Where to write: project, credentials, emulator and dashboard URL.

Resolution order, first match wins:
1. explicit arguments (`project=`, `credentials=`, `dashboard_url=`);
2. environment: `TFWATCHER_PROJECT`, `FIRESTORE_EMULATOR_HOST`, `GOOGLE_APPLICATION_CREDENTIALS`
   (read by google-auth), `TFWATCHER_DASHBOARD_URL`, then `GOOGLE_CLOUD_PROJECT`/`GCLOUD_PROJECT`;
3. a running `tfwatcher local` (it leaves `~/.tfwatcher/local.json`), so callbacks made while
   it runs need no configuration;
4. Application Default Credentials and their project (Colab:
   `google.colab.auth.authenticate_user()`; elsewhere `gcloud auth application-default login`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PROJECT = "demo-tfwatcher"  # the local emulator's project: "demo-" projects never reach production

LOCAL_STATE = Path(os.environ.get("TFWATCHER_HOME", Path.home() / ".tfwatcher")) / "local.json"

HOW_TO_CONFIGURE = (
    "tfwatcher: no Firebase project configured, so this run is not being recorded "
    "(training goes on). To record it, do one of:\n"
    "  * run `tfwatcher local` in a terminal to watch on this machine's emulator;\n"
    "  * pass project='your-project-id' (and credentials='service-account.json');\n"
    "  * set TFWATCHER_PROJECT and GOOGLE_APPLICATION_CREDENTIALS;\n"
    "  * in Colab, call google.colab.auth.authenticate_user() first.\n"
    "See docs/deploy.md."
)


class NotConfigured(RuntimeError):
    """No project could be found by any route."""


@dataclass
class Target:
    project: str
    emulator_host: str | None
    dashboard_url: str
    credentials: object | None = None

    def client(self):
        """A new Firestore client for this target (made lazily, once per session)."""
        from google.cloud import firestore

        if self.emulator_host:
            # The client reads the variable itself; set it only for this client's creation.
            old = os.environ.get("FIRESTORE_EMULATOR_HOST")
            os.environ["FIRESTORE_EMULATOR_HOST"] = self.emulator_host
            try:
                return firestore.Client(project=self.project)
            finally:
                if old is None:
                    os.environ.pop("FIRESTORE_EMULATOR_HOST", None)
                else:
                    os.environ["FIRESTORE_EMULATOR_HOST"] = old
        return firestore.Client(project=self.project, credentials=self.credentials)


def read_local_state() -> dict | None:
    """The state file of a running `tfwatcher local`, or None if none is running."""
    try:
        state = json.loads(LOCAL_STATE.read_text())
    except (OSError, ValueError):
        return None
    pid = state.get("pid")
    if not isinstance(pid, int):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return state


def _load_credentials(credentials):
    """A path or the parsed JSON of a service-account key (a Kaggle secret, say) becomes
    Credentials; a Credentials object is kept. Bad input is a ValueError now, not mid-run."""
    if credentials is None:
        return None
    from google.oauth2 import service_account

    if isinstance(credentials, dict):
        try:
            return service_account.Credentials.from_service_account_info(credentials)
        except (ValueError, KeyError) as err:
            raise ValueError(f"credentials: not a service-account key ({err})") from None
    if isinstance(credentials, (str, os.PathLike)):
        path = Path(credentials)
        if not os.fspath(credentials).strip():
            raise ValueError("credentials: empty path; pass the service-account key file's path")
        if not path.is_file():
            raise ValueError(f"credentials file {str(path)!r} "
                             f"{'is a folder' if path.is_dir() else 'does not exist'}")
        try:
            return service_account.Credentials.from_service_account_file(str(path))
        except (ValueError, KeyError, OSError) as err:
            raise ValueError(f"credentials file {str(path)!r} is not a service-account key "
                             f"({err})") from None
    if not hasattr(credentials, "before_request"):
        raise ValueError("credentials must be a key file path, a service-account key dict or "
                         f"google-auth Credentials; got {type(credentials).__name__}")
    return credentials


def _adc_may_exist() -> bool:
    """Whether Application Default Credentials could be found, judged without the network.

    google-auth's last resort is asking the GCE metadata server (169.254.169.254) whether this
    is a Google Cloud machine; where that address is firewalled (many laptops and corporate
    networks) each of its three tries waits for a timeout, and building a callback would block
    for 10 s or more. Off Google Cloud that question can only be answered "no", so it is asked
    only where the answer may be yes: a key file or gcloud's ADC file exists, or this looks
    like Google Cloud (Colab included)."""
    env = os.environ
    if env.get("GOOGLE_APPLICATION_CREDENTIALS"):
        return True
    gcloud = env.get("CLOUDSDK_CONFIG") or (
        Path(env["APPDATA"]) / "gcloud" if os.name == "nt" and env.get("APPDATA")
        else Path.home() / ".config" / "gcloud")
    if (Path(gcloud) / "application_default_credentials.json").is_file():
        return True
    if any(env.get(name) for name in ("COLAB_RELEASE_TAG", "K_SERVICE", "CLOUD_RUN_JOB",
                                      "FUNCTION_TARGET", "GAE_APPLICATION", "GAE_ENV",
                                      "CLOUD_SHELL")):
        return True
    try:
        return Path("/sys/class/dmi/id/product_name").read_text().startswith("Google")
    except OSError:
        return os.name == "nt"  # no cheap check there: ask google-auth as before


def resolve(project: str | None = None, credentials=None, dashboard_url: str | None = None) -> Target:
    """Find the target, or raise NotConfigured (ValueError for a bad explicit argument)."""
    if project is not None and (not isinstance(project, str) or not project.strip()):
        raise ValueError(f"project must be a non-empty string; got {project!r}")
    if dashboard_url is not None and (not isinstance(dashboard_url, str)
                                      or not dashboard_url.startswith(("http://", "https://"))):
        raise ValueError(f"dashboard_url must start with http:// or https://; got {dashboard_url!r}")
    creds = _load_credentials(credentials)
    env = os.environ
    emulator = env.get("FIRESTORE_EMULATOR_HOST") or None
    project = project or env.get("TFWATCHER_PROJECT") or None
    dashboard = dashboard_url or env.get("TFWATCHER_DASHBOARD_URL") or None
    if not emulator and not project and creds is None:
        local = read_local_state()
        if local:
            emulator = local.get("emulator")
            project = local.get("project", DEFAULT_PROJECT)
            dashboard = dashboard or local.get("dashboard")
    project = project or env.get("GOOGLE_CLOUD_PROJECT") or env.get("GCLOUD_PROJECT") or None
    if emulator:
        project = project or DEFAULT_PROJECT
        dashboard = dashboard or "http://127.0.0.1:5000"
        return Target(project, emulator, dashboard.rstrip("/"))
    if creds is not None and not project:
        project = getattr(creds, "project_id", None)
    # With a project named, credentials are looked up by the client on the writer thread
    # (a failure there is one clear message, and the run is spooled): nothing here waits.
    if not project and _adc_may_exist():
        try:
            import google.auth
            from google.auth.exceptions import DefaultCredentialsError

            try:
                adc, adc_project = google.auth.default(
                    scopes=["https://www.googleapis.com/auth/datastore"])
                creds = creds or adc
                project = project or adc_project
            except DefaultCredentialsError:
                pass
        except ImportError:  # pragma: no cover - google-auth comes with the client
            pass
    if not project:
        from tfwatcher.base.access import missing_key_file

        path = missing_key_file()
        if path:
            raise NotConfigured(
                f"tfwatcher: GOOGLE_APPLICATION_CREDENTIALS names {path}, which does not exist, "
                f"so no project or credentials could be found and this run is not being recorded "
                f"(training goes on). Point it at your service-account key file, or pass "
                f"project= and credentials=. See docs/deploy.md.")
        raise NotConfigured(HOW_TO_CONFIGURE)
    return Target(project, None, (dashboard or f"https://{project}.web.app").rstrip("/"), creds)
