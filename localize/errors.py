"""Exceptions. Every bad input raises a ``ValueError`` subclass naming the parameter."""


class LocalizeError(ValueError):
    """A bad input: the message names the parameter, the value and what was expected."""


class ConfigError(LocalizeError):
    """A bad configuration file (missing, malformed TOML, unknown or missing keys)."""


def bad(param: str, value, expected: str) -> LocalizeError:
    """Build the standard error for ``param`` having ``value`` when ``expected`` was wanted."""
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return LocalizeError(f"{param}: expected {expected}, got {shown}")
