"""One way to end a command on a user or domain error: a one-line message, a hint, an exit code.

Exit codes: 0 ok, 1 domain failure (store unreachable, run not found), 2 bad usage.
"""

from typing import NoReturn

import typer

from pat_cli._console import err_console

USAGE_ERROR = 2
DOMAIN_ERROR = 1


def fail(message: str, *, hint: str | None = None, code: int = USAGE_ERROR) -> NoReturn:
    """Print ``Error: message`` (and an optional hint) to stderr and exit with ``code``.

    Credentials in the text (a tracking URI's password, a token) are masked first.
    """
    from pat_skrl_mlflow import mask_secrets

    message = mask_secrets(message)
    hint = mask_secrets(hint) if hint else hint
    err_console.print(f"[bold red]Error:[/] {message}", highlight=False, soft_wrap=True)
    if hint:
        err_console.print(f"[dim]Hint:[/] {hint}", highlight=False, soft_wrap=True)
    raise typer.Exit(code) from None


def bad_option(option: str, value: object, accepted: str) -> NoReturn:
    """Fail with exit code 2 for an option value that is not accepted."""
    fail(f"invalid value for {option}: {value!r}; expected {accepted}.")
