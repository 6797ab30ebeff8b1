"""A model version's files: written whole or not at all, read back only when their checksum matches."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ml.core.model import ALL_FILES, MODEL_FILES, SurvivalModel


def save_model(model: SurvivalModel, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in model.to_parts().items():
        (directory / name).write_bytes(data)


def model_files(directory: Path) -> list[str]:
    """The model's files in `directory`: the required ones, and the optional ones (the members
    behind an answer's range, the evidence table) when the version has them."""
    return [name for name in ALL_FILES if name in MODEL_FILES or (directory / name).is_file()]


def load_model(directory: Path) -> SurvivalModel:
    return SurvivalModel.from_parts(
        {name: (directory / name).read_bytes() for name in model_files(directory)}
    )


def hash_files(directory: Path) -> str:
    """SHA-256 over the model's files (names and contents), as a version records it. A version
    saved before the optional files existed hashes as it did then."""
    digest = hashlib.sha256()
    for name in model_files(directory):
        digest.update(name.encode())
        digest.update((directory / name).read_bytes())
    return digest.hexdigest()


def has_model_files(directory: Path) -> bool:
    return all((directory / name).is_file() for name in MODEL_FILES)


def fsync_tree(directory: Path) -> None:
    """Flush a directory's files and the directory itself to disk (before a rename publishes it)."""
    for path in directory.iterdir():
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())
    fsync_dir(directory)


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
