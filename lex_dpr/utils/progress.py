"""One rich progress bar style for every long loop; drawn on stderr so stdout stays parseable.

:func:`track` wraps an iterable, :class:`Bar` is advanced by hand (with a rate), and :func:`new_progress` is
the bar itself for code that drives rich directly (the trainer's callback).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def new_progress(rate: bool = False, remaining: bool = True):
    """A rich ``Progress`` in lex-dpr's style: description, bar, done/total, [rate,] elapsed[, remaining]; on
    stderr, cleared when it ends."""
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    columns = [TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn()]
    if rate:
        columns.append(TextColumn("{task.fields[rate]}"))
    columns.append(TimeElapsedColumn())
    if remaining:
        columns.append(TimeRemainingColumn())
    return Progress(*columns, console=Console(stderr=True), transient=True)


def track(items: Iterable[T], description: str, total: int | None = None, enabled: bool = True) -> Iterator[T]:
    """Yield from ``items`` while drawing a progress bar (nothing is drawn when disabled)."""
    if not enabled:
        yield from items
        return
    with new_progress(remaining=False) as progress:
        yield from progress.track(items, total=total, description=description)


class Bar:
    """A progress bar advanced by hand, with a rate column (``12.3 questions/s``); nothing drawn when disabled.

    Example:
        >>> with Bar("answering", total=3, unit="questions", enabled=False) as bar:
        ...     bar.advance(2)
        >>> bar.done
        2
    """

    def __init__(self, description: str, total: int | None = None, unit: str = "items", enabled: bool = True,
                 completed: int = 0) -> None:
        self.description, self.total, self.unit, self.enabled = description, total, unit, enabled
        self.done, self.completed = 0, completed  # completed: done before this run (a resumed job)
        self._progress = None
        self._task = None

    def __enter__(self) -> Bar:
        if self.enabled and self.total != 0:
            self._progress = new_progress(rate=True)
            self._progress.__enter__()
            self._task = self._progress.add_task(self.description, total=self.total, completed=self.completed, rate="")
        return self

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self._progress is not None:
            self._progress.advance(self._task, n)
            speed = self._progress.tasks[0].speed
            self._progress.update(self._task, rate=f"{speed:.1f} {self.unit}/s" if speed else "")

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)
