"""Keep credentials out of everything pat prints or logs."""

from __future__ import annotations

import os
import re

__all__ = ["mask_uri", "protect"]

_USERINFO = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^:@/]*)(?::[^@/]*)?@")


def mask_uri(uri: str) -> str:
    """``http://user:pass@host`` -> ``http://user:***@host`` (other URIs unchanged).

    A user name alone (``http://token@host``) may itself be a credential: it is masked too.
    """
    match = _USERINFO.match(uri)
    if not match:
        return uri
    user = match.group("user")
    has_password = ":" in uri[len(match.group("scheme")) : match.end() - 1]
    masked = f"{user}:***@" if has_password else "***@"
    return match.group("scheme") + masked + uri[match.end() :]


def protect(uri: str) -> None:
    """Stop MLflow printing run URLs (``🏃 View run … at: <uri>``) when ``uri`` holds credentials.

    MLflow writes the tracking URI, credentials included, to stdout whenever a run on an
    HTTP store is terminated.
    """
    if mask_uri(uri) != uri:
        os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
