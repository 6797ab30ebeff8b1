"""The `ml` package as shipped to Snowflake, with the model (`code_paths`) and the training
procedure (`imports`). Standard library only, so staging costs nothing to import."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # importlib.resources.abc is 3.11+; only the annotation needs it
    from importlib.resources.abc import Traversable


def stage_code(target: Path) -> Path:
    """A clean copy of the `ml` package under `target` for `code_paths`/`imports`: sources only,
    whether `ml` was imported from a directory or (inside a stored procedure) from a zip."""

    def copy(node: Traversable, into: Path) -> None:
        into.mkdir(parents=True, exist_ok=True)
        for child in node.iterdir():
            if child.is_dir():
                if child.name != "__pycache__":
                    copy(child, into / child.name)
            elif child.name.endswith(".py"):
                (into / child.name).write_bytes(child.read_bytes())

    destination = target / "ml"
    if destination.exists():
        shutil.rmtree(destination)
    copy(resources.files("ml"), destination)
    return destination
