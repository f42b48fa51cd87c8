"""Connector options: one base model and one loader that reports every mistake at once.

Each error names the key to fix the way the administrator wrote it in the configuration
file: ``sources.<name>.options.<key>: <plain sentence>``.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from pydantic_core import ErrorDetails

from aggregator.errors import ConfigError
from schemas.config import _read_secret_files

Opts = TypeVar("Opts", bound="ConnectorOptions")


class ConnectorOptions(BaseModel):
    """Base of every connector's options: unknown keys are errors, and any secret (a
    ``SecretStr`` option ``x``) may instead be read from a file named by ``x_file``."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _secret_files(cls, data: Any) -> Any:
        return _read_secret_files(data, cls.model_fields)


class OptionsError(ConfigError):
    """A source's options are wrong; ``problems`` has one line per key, all of them."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _sentence(err: ErrorDetails) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown option (check the spelling, or remove it)"
    if kind == "missing":
        return "required option is missing"
    msg = err["msg"]
    # pydantic prefixes a validator's own message with "Value error, "; the sentence is ours.
    return msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def option_problems(exc: ValidationError, source: str) -> list[str]:
    """One ``sources.<name>.options.<key>: sentence`` line per error pydantic found."""
    out: list[str] = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        out.append(f"sources.{source}.options{'.' + loc if loc else ''}: {_sentence(err)}")
    return out


def load_options(model: type[Opts], source: str, options: dict[str, Any] | None) -> Opts:
    """Validate a source's options; ``OptionsError`` lists every problem, each by its key."""
    try:
        return model.model_validate(options or {})
    except ValidationError as exc:
        raise OptionsError(option_problems(exc, source)) from exc


def validate_options(
    kind: str,
    options: dict[str, Any] | None,
    source: str = "<name>",
) -> list[str]:
    """Every problem in the options of a source of ``kind`` (empty when they are fine),
    through the connector's own options model found by its entry point — what
    ``satukanal config check`` reports without building the source."""
    from connectors.base.registry import load_source_class

    cls = load_source_class(kind)
    try:
        load_options(cls.options_model, source, options)
    except OptionsError as exc:
        return list(exc.problems)
    return []
