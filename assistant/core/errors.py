"""The base of every error the assistant reports to a person in one line.

Front ends catch :class:`AssistantError` (a bad question, filter, setting, tuning file or
store) and show its message; anything else is a bug, logged and answered generically.
"""

from __future__ import annotations


class AssistantError(Exception):
    """An error whose message is fit to show as it is: one line, no secrets."""


def first_problem(error: Exception, whole: str = "") -> tuple[str, str]:
    """Where and what of the first problem in a pydantic ``ValidationError``: its field path
    joined with dots (``whole`` when the problem is the whole object) and pydantic's message.
    Every front end names a bad field this one way. Any other error: (``whole``, its text).
    """
    errors = getattr(error, "errors", None)
    if not callable(errors):
        return whole, str(error)
    problem = errors()[0]
    return ".".join(str(part) for part in problem["loc"]) or whole, problem["msg"]
