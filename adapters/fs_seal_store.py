"""Seals in the data folder: one read-only file per seal, never overwritten.

`{data_dir}/seals/000000000001.json`, … A seal is written whole to a temporary file
(created with O_EXCL), fsynced, made read-only, and then hard-linked to its final name:
`link` fails if that name exists, so a seal is never overwritten, and a crash mid-write
leaves only a stray temporary file, never a half-written seal under a real number.

The folder is append-only by convention and file mode only: anyone who owns it can still
delete or replace a file. Locally that is the point (verify reports it as a
`seal_mismatch`); on Azure the Blob adapter's container is immutable.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from adapters.numbered_seals import NumberedSeals, seal_name
from adapters.private_files import private_folder
from services.seals import SealExists

_READ_ONLY = stat.S_IRUSR  # the data folder is its owner's alone (adapters/private_files.py)


class FsSealStore(NumberedSeals):
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        private_folder(folder)

    def add(self, number: int, text: str) -> None:
        final = self.folder / seal_name(number)
        temporary = self.folder / f".{seal_name(number)}.{os.getpid()}.tmp"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(text.encode("utf-8"))
                file.flush()
                os.fsync(file.fileno())
            os.chmod(temporary, _READ_ONLY)
            try:
                os.link(temporary, final)
            except FileExistsError as error:
                raise SealExists(number) from error
        finally:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
        directory = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def _names(self) -> list[str]:
        return os.listdir(self.folder)

    def _text(self, number: int) -> str:
        return (self.folder / seal_name(number)).read_text(encoding="utf-8", errors="replace")
