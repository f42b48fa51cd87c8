"""The error types, sorted by what to do next (see ``aggregator.errors``): a connector maps
its library's exceptions onto these at its boundary, ``raise … from exc``."""

from aggregator.errors import (
    AuthError,
    ConfigError,
    InDoubtError,
    InvalidInput,
    PermanentError,
    SatukanalError,
    TransientError,
)

__all__ = [
    "AuthError",
    "ConfigError",
    "InDoubtError",
    "InvalidInput",
    "PermanentError",
    "SatukanalError",
    "TransientError",
]
