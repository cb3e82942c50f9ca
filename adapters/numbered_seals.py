"""What the seal stores share: seal n is kept under `seal_name(n)`, and read in order.

The folder and Blob stores name seals alike (`000000000001.json`), so names sort in
number order and either store's contents can be copied to the other unchanged.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator

_SUFFIX = ".json"
_DIGITS = 12


def seal_name(number: int) -> str:
    return f"{number:0{_DIGITS}d}{_SUFFIX}"


class NumberedSeals(ABC):
    """`last` and `read` of `services.seals.SealStore`, over a store's names and texts."""

    @abstractmethod
    def _names(self) -> Iterable[str]:
        """Every name in the store, seals and anything else."""

    @abstractmethod
    def _text(self, number: int) -> str:
        """Seal `number`'s text; undecodable bytes replaced, for verify to report."""

    def last(self) -> tuple[int, str] | None:
        numbers = self._numbers()
        if not numbers:
            return None
        return numbers[-1], self._text(numbers[-1])

    def read(self, from_number: int = 1) -> Iterator[tuple[int, str]]:
        for number in self._numbers():
            if number >= from_number:
                yield number, self._text(number)

    def _numbers(self) -> list[int]:
        return sorted(
            int(name[: -len(_SUFFIX)])
            for name in self._names()
            if name.endswith(_SUFFIX) and name[: -len(_SUFFIX)].isdigit()
        )
