"""The project's user-facing error type and how a failure becomes one message and an exit code.

`UserError` is bad input or a state the user can fix (a config, an option, a locked or
damaged run directory): the CLI prints its message (which names the file or key) after
"error: " and exits with `EXIT_BAD_INPUT`. `exit_code` maps every exception the CLI reports
without a traceback to its exit code (`EXIT_CODES`, first match wins); `message` turns one
into its text, naming the file of an OSError (or, for one without a file name such as a
full disk mid-write, the run directory it happened in).
"""

from __future__ import annotations

EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


class UserError(ValueError):
    """Bad input or a fixable state; its message names the file or key and the reason."""


class ParameterError(UserError):
    """A function argument out of range. `param`, `value` and `reason` let a front end name
    its own option (the CLI says "--n 1: ..." where Python says "n=1: ...")."""

    def __init__(self, param: str, value: object, reason: str) -> None:
        self.param, self.value, self.reason = param, value, reason
        super().__init__(f"{param}={value!r}: {reason}")


# (exception type, exit code); the first match wins. The generators' own input errors (an
# undecodable image, a bad sample folder) are UserErrors: they import this module, never the
# other way round.
EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = (
    (UserError, EXIT_BAD_INPUT),
    (OSError, EXIT_FAILURE),  # FileNotFoundError, missing weights, a full disk ...
    (ValueError, EXIT_FAILURE),
)


def exit_code(exc: BaseException) -> int | None:
    """The exit code for `exc`, or None when it is a bug to show with its traceback."""
    for kind, code in EXIT_CODES:
        if isinstance(exc, kind):
            return code
    return None


def message(exc: BaseException, context: str | None = None) -> str:
    """The text of `exc` for the user; an OSError names its file, else `context`."""
    if isinstance(exc, OSError) and exc.strerror and not isinstance(exc, UserError):
        where = exc.filename if exc.filename is not None else context
        if exc.filename2 is not None:
            where = f"{where} -> {exc.filename2}"
        return f"{exc.strerror}: {where}" if where is not None else exc.strerror
    return str(exc) or type(exc).__name__


__all__ = [
    "UserError",
    "ParameterError",
    "EXIT_FAILURE",
    "EXIT_BAD_INPUT",
    "EXIT_INTERRUPTED",
    "EXIT_CODES",
    "exit_code",
    "message",
]
