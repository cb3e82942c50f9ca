"""What both stores' rebuilds share: comparing live documents with rebuilt ones.

Each rebuild walks the two sides in key order at once (`merge_by_key`), so a
comparison holds two documents in memory at a time however large the view.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal, TypeVar

Kind = Literal["missing", "extra", "changed"]
T = TypeVar("T")


class RebuildFailed(RuntimeError):
    """The rebuild could not finish; running it again resumes or restarts it cleanly."""


@dataclass(frozen=True, slots=True)
class Difference:
    """One document on which the live view and the rebuilt one disagree.

    `missing`: live has it, the rebuild does not; `extra`: only the rebuild has it;
    `changed`: both have it, with different contents.
    """

    projection: str
    key: str
    kind: Kind


def merge_by_key(
    live: Iterator[T],
    rebuilt: Iterator[T],
    key: Callable[[T], str],
    alike: Callable[[T, T], bool],
) -> Iterator[tuple[str, Kind | None, T | None, T | None]]:
    """Walk both key-ordered sides: each key, how it differs (None: alike), and the
    live and rebuilt documents under it, where there are."""
    old, new = next(live, None), next(rebuilt, None)
    while old is not None or new is not None:
        if new is None or (old is not None and key(old) < key(new)):
            assert old is not None
            yield key(old), "missing", old, None
            old = next(live, None)
        elif old is None or key(new) < key(old):
            yield key(new), "extra", None, new
            new = next(rebuilt, None)
        else:
            yield key(new), (None if alike(old, new) else "changed"), old, new
            old, new = next(live, None), next(rebuilt, None)
