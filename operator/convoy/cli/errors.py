"""What goes wrong in a command, as one line and an exit code (documented in the package docstring)."""

from __future__ import annotations

OK = 0
FAILED = 1
USAGE = 2
TIMEOUT = 2
UNREACHABLE = 3
INTERRUPTED = 130


class CliError(Exception):
    """Ends the command: `main` prints `error: <message>` on one line and exits with `code`."""

    def __init__(self, message: str, code: int = FAILED) -> None:
        super().__init__(" ".join(message.split()))  # one line, whatever the server sent
        self.code = code

    @property
    def message(self) -> str:
        return str(self)


class NotFound(CliError):
    def __init__(self, message: str) -> None:
        super().__init__(message, UNREACHABLE)


class UsageError(CliError):
    def __init__(self, message: str) -> None:
        super().__init__(message, USAGE)
