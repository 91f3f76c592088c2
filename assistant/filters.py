"""Search filters: which papers a search may return, by date, category and source file.

:class:`SearchFilters` is the one model every front end builds (``from_mapping`` for JSON
and keyword arguments, the CLI's flags, the web page's inputs); retrieval applies it to
both legs alike through the set of paper ids it allows (see ``PaperCatalog.matching``).

**Dates.** A paper's date is its ``update_date`` (arXiv: "2023-03-12"), else its ``year``,
else its listing page's date line when that carries a year ("Mar 12, 2024"; the bundled
pages say only "Mar 12"). A date is a period as precise as it was given: a paper known
only by its year 2023 is the period 2023-01-01 … 2023-12-31, and it matches a date filter
whose range overlaps that period. ``since`` and ``until`` take YYYY, YYYY-MM or YYYY-MM-DD;
``since`` counts from the start of its period and ``until`` to the end of its own
(``until="2023"`` keeps 2023-12-31), both inclusive. **A paper with no known date is left
out by any date filter.**

**Categories** match case-insensitively, exactly ("cs.LG") or by archive ("cs" matches
"cs.LG", "cond-mat" matches "cond-mat.stat-mech"); a paper matches when any of its
categories matches any category asked for. **Sources** are the file names a paper was
ingested from ("arxiv.jsonl"); a path's file name counts too. Kinds of filter combine
with AND; several values of one kind with OR.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Mapping
from datetime import date
from functools import cached_property, lru_cache
from pathlib import PurePath
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from assistant.core.errors import AssistantError, first_problem
from assistant.core.schema import Paper

Period = tuple[date, date]

MAX_VALUES = 50  # categories or sources in one filter
MAX_VALUE_CHARS = 200
DATE_FORMATS = "YYYY, YYYY-MM or YYYY-MM-DD"

_FILTER_DATE = re.compile(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?")
_STORED_DATE = re.compile(r"(\d{4})(?:[-/](\d{1,2})(?:[-/](\d{1,2}))?)?")
_LISTING_DATE = re.compile(r"([A-Za-z]{3})[a-z]*\.? (\d{1,2}), (\d{4})")
_MONTHS = {name.lower(): number for number, name in enumerate(calendar.month_abbr) if name}
_MONTHS["sep"] = 9
_SEPARATORS = re.compile(r"[\s,;]+")
# Mapping keys → field; "category" and "source" are the singular spellings.
KEYS = {
    "since": "since",
    "until": "until",
    "category": "categories",
    "categories": "categories",
    "source": "sources",
    "sources": "sources",
}


class FilterError(AssistantError, ValueError):
    """A filter that cannot be applied; the one-line message names the field."""

    def __init__(self, field: str, message: str):
        super().__init__(f"filter {field}: {message}")
        self.field = field
        self.reason = message


def _period(year: int, month: int | None, day: int | None) -> Period:
    """The days a date given to this precision covers; ValueError when there is no such day."""
    if month is None:
        return date(year, 1, 1), date(year, 12, 31)
    if day is None:
        return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
    day_date = date(year, month, day)
    return day_date, day_date


def _numbers(match: re.Match[str]) -> tuple[int, int | None, int | None]:
    year, month, day = match.groups()
    return int(year), int(month) if month else None, int(day) if day else None


def filter_period(text: str, field: str = "date") -> Period:
    """YYYY, YYYY-MM or YYYY-MM-DD → the period it names; :class:`FilterError` otherwise."""
    match = _FILTER_DATE.fullmatch(text.strip())
    if match is None:
        raise FilterError(field, f"{text!r} is not a date; use {DATE_FORMATS}")
    try:
        return _period(*_numbers(match))
    except ValueError:
        raise FilterError(field, f"{text!r} is not a real date; use {DATE_FORMATS}") from None


@lru_cache(maxsize=65536)
def _stored_period(update_date: str | None, year: str | None, listing: str | None) -> Period | None:
    match = _STORED_DATE.match(update_date or "")
    if match:
        year_number, month, day = _numbers(match)
        try:
            return _period(year_number, month, day)
        except ValueError:  # "2023-13-40": the year still holds
            return _period(year_number, None, None)
    match = _STORED_DATE.match(year or "")
    if match:
        return _period(int(match.group(1)), None, None)
    match = _LISTING_DATE.search(listing or "")
    if match and match.group(1).lower() in _MONTHS:
        try:
            return _period(
                int(match.group(3)), _MONTHS[match.group(1).lower()], int(match.group(2))
            )
        except ValueError:
            return None
    return None


def paper_period(paper: Paper) -> Period | None:
    """The period a paper's date covers (see the module docstring); None when unknown."""
    return _stored_period(paper.update_date, paper.year, paper.listing_date)


def _values(value: Any, field: str) -> tuple[str, ...]:
    """One text or a list of texts → the distinct non-empty values, in order."""
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(v, str) for v in items):
        raise FilterError(field, "must be a text or a list of texts")
    values: list[str] = []
    for item in items:
        parts = _SEPARATORS.split(item) if field == "categories" else [item.strip()]
        values.extend(part for part in parts if part and part not in values)
    if len(values) > MAX_VALUES:
        raise FilterError(field, f"{len(values)} values; the limit is {MAX_VALUES}")
    for text in values:
        if len(text) > MAX_VALUE_CHARS or not text.isprintable():
            raise FilterError(field, f"{text[:40]!r}… is not a {field[:-1]} name")
    return tuple(values)


class SearchFilters(BaseModel):
    """Dates, categories and source files a search is limited to; empty: no limit.

    Build one from keyword arguments or a JSON-like mapping with :meth:`from_mapping`,
    which turns every problem into a :class:`FilterError` naming the field.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    since: str | None = None
    until: str | None = None
    categories: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()

    @field_validator("since", "until", mode="before")
    @classmethod
    def _date(cls, value: Any, info: Any) -> str | None:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str):
            raise FilterError(info.field_name, f"must be a date ({DATE_FORMATS})")
        filter_period(value, info.field_name)
        return value.strip()

    @field_validator("categories", "sources", mode="before")
    @classmethod
    def _names(cls, value: Any, info: Any) -> tuple[str, ...]:
        return _values(value, info.field_name)

    @model_validator(mode="after")
    def _ordered(self) -> SearchFilters:
        if self.since and self.until and self.window[0] > self.window[1]:  # type: ignore[operator]
            raise FilterError("since", f"{self.since} is after until {self.until}")
        return self

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | SearchFilters | None) -> SearchFilters:
        """Filters from JSON-like input: keys ``since``, ``until``, ``category``/``categories``,
        ``source``/``sources``; each list-valued key takes one text or a list. An unknown
        key or a bad value raises :class:`FilterError` naming it."""
        if mapping is None:
            return cls()
        if isinstance(mapping, SearchFilters):
            return mapping
        if not isinstance(mapping, Mapping):
            raise FilterError("filters", "must be an object with since, until, category, source")
        fields: dict[str, Any] = {}
        for key, value in mapping.items():
            name = KEYS.get(str(key).strip().lower())
            if name is None:
                known = "since, until, category, source"
                raise FilterError(str(key)[:40], f"unknown filter; use {known}")
            if name in ("categories", "sources"):
                try:
                    value = _values(value, name)
                except FilterError as error:  # named as the caller spelled it
                    raise FilterError(str(key), error.reason) from None
                value = (*fields.get(name, ()), *value)  # "category" and "categories" both
            fields[name] = value
        return cls.build(**fields)

    @classmethod
    def build(cls, **fields: Any) -> SearchFilters:
        """Construct, turning pydantic's errors into one :class:`FilterError`."""
        try:
            return cls(**fields)
        except FilterError:
            raise
        except ValidationError as error:
            cause = (error.errors()[0].get("ctx") or {}).get("error")
            if isinstance(cause, FilterError):
                raise cause from None
            raise FilterError(*first_problem(error, "filters")) from None

    @classmethod
    def coerce(cls, value: SearchFilters | Mapping[str, Any] | None) -> SearchFilters | None:
        """What the engine accepts: None, a mapping, or filters; None when nothing limits."""
        filters = cls.from_mapping(value)
        return None if filters.is_empty else filters

    @property
    def is_empty(self) -> bool:
        return not (self.since or self.until or self.categories or self.sources)

    @cached_property
    def window(self) -> tuple[date | None, date | None]:
        """(first day allowed, last day allowed); None on an open side."""
        start = filter_period(self.since, "since")[0] if self.since else None
        end = filter_period(self.until, "until")[1] if self.until else None
        return start, end

    @cached_property
    def _names_folded(self) -> tuple[frozenset[str], frozenset[str]]:
        categories = frozenset(c.casefold() for c in self.categories)
        sources = frozenset(PurePath(s).name.casefold() for s in self.sources)
        return categories, sources

    def matches(self, paper: Paper) -> bool:
        """Whether ``paper`` passes every filter (see the module docstring)."""
        start, end = self.window
        if start or end:
            period = paper_period(paper)
            if period is None:
                return False
            if (start and period[1] < start) or (end and period[0] > end):
                return False
        categories, sources = self._names_folded
        if categories and not any(
            own in categories or own.split(".", 1)[0] in categories
            for own in (paper.categories or "").casefold().split()
        ):
            return False
        if sources and not any(
            source.casefold() in sources or PurePath(source).name.casefold() in sources
            for source in paper.sources
        ):
            return False
        return True

    def describe(self) -> str:
        """One line for messages: "since 2023, category cs.LG or stat.ML"."""
        parts = []
        if self.since:
            parts.append(f"since {self.since}")
        if self.until:
            parts.append(f"until {self.until}")
        if self.categories:
            parts.append(f"category {' or '.join(self.categories)}")
        if self.sources:
            parts.append(f"source {' or '.join(self.sources)}")
        return ", ".join(parts) or "no filters"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: since, until, categories, sources."""
        return {
            "since": self.since,
            "until": self.until,
            "categories": list(self.categories),
            "sources": list(self.sources),
        }


def matching_ids(papers: Iterable[Paper], filters: SearchFilters) -> frozenset[str]:
    """The ids of the papers ``filters`` allow."""
    return frozenset(paper.paper_id for paper in papers if filters.matches(paper))
