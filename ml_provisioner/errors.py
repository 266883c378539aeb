"""Errors the CLI turns into exit codes, each with a one-line cause and a hint."""

EXIT_OK = 0
EXIT_FAILED = 1  # the operation ran and failed
EXIT_BAD_INPUT = 2  # bad config, bad usage, missing prerequisite file
EXIT_DRIFT = 3  # check-drift found drift
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), as shells report it


class ProvisionerError(Exception):
    exit_code = EXIT_FAILED

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class OperationFailed(ProvisionerError):
    exit_code = EXIT_FAILED


class BadInput(ProvisionerError):
    exit_code = EXIT_BAD_INPUT


class Interrupted(ProvisionerError):
    """Ctrl-C: the message says what state the run left behind."""

    exit_code = EXIT_INTERRUPTED
