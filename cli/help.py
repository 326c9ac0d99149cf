"""`--help` that reads the same at 80 columns as at 200."""

from __future__ import annotations


def readable_help() -> None:
    """Help that reads the same at 80 columns as at 200, in the conventions of Unix help:
    arguments and value types in upper case (`CORPUS`, `PATH`, `INT`; typer writes `{corpus}`
    and `<list[Path]>`), choices as `a|b`, no type after a flag (typer shows `<bool>`, which
    reads as if the flag took a value), and no type after an argument (its name says it)."""
    from typer.core import TyperArgument, TyperOption, _TyperParameter

    if getattr(_TyperParameter.display_type, "nerqa", False):
        return
    typed = _TyperParameter.display_type

    def display_type(self, ctx):
        label = typed(self, ctx).strip("<>")
        if label.startswith("list[") and label.endswith("]"):
            label = label[5:-1] + "..."
        return label if "|" in label else label.upper()

    def option_type(self, ctx):
        if getattr(self, "is_flag", False) and not getattr(self, "count", False):
            return None
        if self.metavar is not None:
            return self.metavar
        return display_type(self, ctx) + ("..." if self.nargs != 1 else "")

    def usage_name(self) -> str:
        name = self.metavar or self.name.upper()
        name = name if self.required else f"[{name}]"
        return name + ("..." if self.nargs != 1 else "")

    display_type.nerqa = True  # type: ignore[attr-defined]
    _TyperParameter.display_type = display_type  # type: ignore[method-assign]
    TyperOption.display_type_rich = option_type  # type: ignore[method-assign]
    TyperArgument.display_type_rich = lambda self, ctx: None  # type: ignore[method-assign]
    TyperArgument._rich_display_name = lambda self: self.metavar or self.name.upper()  # type: ignore[method-assign]
    TyperArgument._usage_display_name = usage_name  # type: ignore[method-assign]
