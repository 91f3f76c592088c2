"""The base of every error the assistant reports to a person in one line.

Front ends catch :class:`AssistantError` (a bad question, filter, setting, tuning file or
store) and show its message; anything else is a bug, logged and answered generically.
"""

from __future__ import annotations


class AssistantError(Exception):
    """An error whose message is fit to show as it is: one line, no secrets."""
