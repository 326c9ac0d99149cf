"""Option groups: options several commands take, added to each one's signature.

Option groups: a set of options several commands take, added to each command's signature
and handed to it as one value, so that no command repeats them (as `with_reader` gives every
reading command the reader options as one `reader: CorpusReader`)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from nerqa_cli.console import user_errors

# One option of a group: (parameter name, its Annotated typer type, its default).
GroupOption = tuple[str, Any, Any]


def option_group(argument: str, options: list[GroupOption], build: Callable[[dict], Any]) -> Callable:
    """A decorator that adds `options` to a command's signature (keyword-only, after its own) and
    calls it with `argument=build(values)`, `values` the options' parsed values by name. An
    error `build` raises shows as one line (`user_errors`)."""

    def decorate(command: Callable) -> Callable:
        signature = inspect.signature(command, eval_str=True)
        own = [p for name, p in signature.parameters.items() if name != argument]
        added = [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
            for name, annotation, default in options
        ]

        @functools.wraps(command)
        def wrapper(*args, **kwargs):
            values = {name: kwargs.pop(name) for name, _, _ in options}
            with user_errors():
                built = build(values)
            return command(*args, **{argument: built}, **kwargs)

        wrapper.__signature__ = signature.replace(parameters=own + added)  # type: ignore[attr-defined]
        return wrapper

    return decorate
