"""Keep credentials out of everything pat prints, logs or stores.

Every URI pat shows goes through :func:`mask_uri`, every message that may quote one
(MLflow's errors quote the request URL) through :func:`mask_secrets`, and both run before
any truncation, so a cut never leaves part of a secret behind.
"""

from __future__ import annotations

import logging
import os
import re

__all__ = ["MaskingFilter", "mask_secrets", "mask_uri", "protect"]

MASK = "***"

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")
# A URI in a message runs to the next space: a password may hold any other character.
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://\S+")
_SECRET_PARAM = re.compile(
    r"(?P<name>[?&;](?:[A-Za-z0-9_.\-]*(?:token|secret|passw(?:or)?d|pwd|key|sig|signature|"
    r"auth|credential|sas))=)(?P<value>[^&#;\s]*)",
    re.IGNORECASE,
)
_SECRET_VARIABLES = (
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_CLIENT_CERT_PATH",
    "DATABRICKS_TOKEN",
    "DATABRICKS_CLIENT_SECRET",
    "AZURE_CLIENT_SECRET",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
)
_MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary words


def mask_uri(uri: str) -> str:
    """``uri`` with its credentials masked: userinfo and token-like query parameters.

    ``http://user:pass@host`` -> ``http://user:***@host``; a user name alone
    (``http://token@host``) may itself be a credential and is masked too; a password
    holding ``@`` is masked whole (the host starts after the last ``@``);
    ``https://host/?sig=abc&x=1`` -> ``https://host/?sig=***&x=1``. Other URIs are
    returned unchanged.
    """
    scheme = _SCHEME.match(uri)
    if scheme is None:
        return _mask_params(uri)
    start = scheme.end()
    end = len(uri)
    for mark in "?#":
        found = uri.find(mark, start)
        if found != -1:
            end = min(end, found)
    at = uri.rfind("@", start, end)
    if at == -1 or uri.startswith("/", start):  # no userinfo (sqlite:///path, file:///...)
        return uri[:start] + _mask_params(uri[start:])
    userinfo = uri[start:at]
    user, has_password, _ = userinfo.partition(":")
    masked = f"{user}:{MASK}@" if has_password else f"{MASK}@"
    return uri[:start] + masked + _mask_params(uri[at + 1 :])


def _mask_params(text: str) -> str:
    return _SECRET_PARAM.sub(lambda m: m.group("name") + MASK, text)


def mask_secrets(text: str) -> str:
    """``text`` with every URI in it masked, and the values of credential variables.

    The values of ``MLFLOW_TRACKING_PASSWORD``, ``MLFLOW_TRACKING_TOKEN`` and similar
    variables set in the environment are replaced wherever they appear.
    """
    text = _URI.sub(lambda m: mask_uri(m.group(0)), text)
    for name in _SECRET_VARIABLES:
        value = os.environ.get(name, "")
        if len(value) >= _MIN_SECRET_LENGTH and value in text:
            text = text.replace(value, MASK)
    return text


def protect(uri: str) -> None:
    """Stop MLflow printing run URLs (``🏃 View run … at: <uri>``) when ``uri`` holds credentials.

    MLflow writes the tracking URI, credentials included, to stdout whenever a run on an
    HTTP store is terminated.
    """
    if mask_uri(uri) != uri:
        os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"


class MaskingFilter(logging.Filter):
    """A logging filter that masks credentials in every record (see :func:`mask_secrets`).

    pat's logger carries one, so no warning of pat's prints a secret.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_secrets(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True
