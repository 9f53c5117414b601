"""Errors a platform search can end with, each carrying a sentence fit to show the user."""

from __future__ import annotations


class PlatformError(Exception):
    """A platform search failed; `.message` says why in words a chat user understands."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ActorRunFailed(PlatformError):
    """The run started but ended without results: FAILED, TIMED-OUT, ABORTED or never done."""

    def __init__(
        self, actor: str, status: str, run_id: str | None, detail: str | None = None
    ) -> None:
        self.actor = actor
        self.status = status
        self.run_id = run_id
        what = {
            "FAILED": "failed",
            "TIMED-OUT": "timed out",
            "TIMING-OUT": "timed out",
            "ABORTED": "was aborted",
            "ABORTING": "was aborted",
        }.get(status, f"did not finish (status {status})")
        text = f"The {actor} scraper run {what}"
        if run_id:
            text += f" (run {run_id})"
        if detail:
            text += f": {detail}"
        super().__init__(text + ". Nothing was saved; try again, or narrow the search.")


class ApifyUnavailable(PlatformError):
    """Apify could not be reached or kept answering with errors after bounded retries."""

    def __init__(self, detail: str, *, status_code: int | None = None) -> None:
        self.status_code = status_code
        super().__init__(
            f"The Apify scraping service is unavailable right now ({detail}). Try again later."
        )


class ActorBudgetExceeded(PlatformError):
    """This message already started as many actor runs as it may."""

    def __init__(self, max_runs: int) -> None:
        self.max_runs = max_runs
        super().__init__(
            f"This request already used its {max_runs} scraper runs; "
            "ask for fewer platforms or searches at once."
        )


class InvalidQuery(PlatformError):
    """The query cannot be turned into an actor input (no keywords, an unknown platform, ...)."""
