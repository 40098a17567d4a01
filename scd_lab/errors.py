"""The errors a user can cause and fix. The command line prints their message as one line and
exits with status 2; every message names the problem and the fix."""
from __future__ import annotations


class UserError(Exception):
    """A mistake in the input (a config value, a path, a run directory), not a bug."""


class ConfigError(UserError, ValueError):
    """A config value or key is not allowed; the message names it and what is allowed."""


class RunError(UserError):
    """A run directory is missing, unfinished, or holds another run than the one asked for."""


class DataError(UserError, ValueError):
    """A dataset is missing, too small for the settings, or unreadable."""
