"""What a finance question names: its periods, its words, the form of calculation it asks for.

Shared by the grounding check (which cells the question's line items and periods cover) and
the operation check (change from A to B is B − A...). Deliberately plain text rules, because
each verdict must be explainable in one line: "the question asks for Net income FY2022, FY2023".

Periods are years, in the spellings statements use: 2023, FY2023, FY23, F19, fiscal 2023,
"December 31, 2019", and spans "2017 to 2019", "2017-2019" (inclusive), "2021-2022" (a fiscal
year across two calendar years names both).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

_YEAR = re.compile(r"(?<![\d.])(19\d\d|20\d\d)(?![\d.])")
_SHORT_FY = re.compile(r"\b(?:FY|F)\s?'?(\d{2})\b", re.I)
_FISCAL = r"(?:FY\s?|fiscal\s+(?:year\s+)?)?"
_SPAN = re.compile(
    rf"(?<!\d)((?:19|20)\d\d)\s*(?:-|–|—|to|through|until|and)\s*{_FISCAL}((?:19|20)\d\d)(?!\d)", re.I
)
_WORD = re.compile(r"[a-z][a-z0-9]*(?:['’]s)?", re.I)
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "from",
        "by",
        "with",
        "and",
        "or",
        "as",
        "is",
        "was",
        "were",
        "be",
        "been",
        "being",
        "are",
        "what",
        "which",
        "how",
        "much",
        "many",
        "did",
        "does",
        "do",
        "has",
        "have",
        "had",
        "its",
        "it",
        "their",
        "this",
        "that",
        "these",
        "those",
        "than",
        "then",
        "there",
        "between",
        "during",
        "over",
        "under",
        "into",
        "per",
        "all",
        "each",
        "any",
        "both",
        "company",
        "companys",
        "group",
        "year",
        "years",
        "fiscal",
        "period",
        "ended",
        "ending",
        "end",
        "as",
        "at",
        "value",
        "amount",
        "amounts",
        "s",
    ]
)
"""Words that name no line item ("total" is kept: "Total revenue" is not "Revenue")."""
_ABBREVIATIONS = {
    "r&d": "research development",
    "sg&a": "selling general administrative",
    "pp&e": "property plant equipment",
    "eps": "earnings per share",
    "capex": "capital expenditure",
    "d&a": "depreciation amortization",
    "ebitda": "ebitda",
}
_MONTHS = frozenset(
    [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
    ]
)

FORMS: list[tuple[str, re.Pattern[str]]] = [
    (
        "percentage change",
        re.compile(
            r"\bpercent(?:age)?\s+(?:change|increase|decrease|growth|rise|decline)"
            r"|%\s*(?:change|increase|decrease)|\bgrowth\s+rate|\brate\s+of\s+(?:change|growth)",
            re.I,
        ),
    ),
    ("change", re.compile(r"\b(?:change|increase|decrease|growth|grow|rise|decline)\b", re.I)),
    (
        "difference",
        re.compile(
            r"\b(?:difference|differ)\b|\bhow\s+(?:much|many)\b[^?]*?\b(?:more|less|fewer|higher|lower)\b",
            re.I,
        ),
    ),
    ("average", re.compile(r"\b(?:average|mean)\b", re.I)),
    (
        "ratio",
        re.compile(
            r"\b(?:ratio|proportion|percentage\s+of|portion|fraction|share\s+of|what\s+percent)\b"
            r"|as\s+a\s+percent(?:age)?\b|%\s+of\b",
            re.I,
        ),
    ),
]
"""Question forms whose formula is checked, by the words that ask for them."""

_PERCENT_ASKED = re.compile(
    r"\bwhat\s+percent|\bhow\s+many\s+percent|\bas\s+a\s+percent(?:age)?\b|\bin\s+percent(?:age)?\b|\(%\)"
    r"|\bpercentage\b|\bpercent\s+(?:change|increase|decrease|growth)|\bgrowth\s+rate\b|\(\s*in\s+%\s*\)",
    re.I,
)


@dataclass(frozen=True, slots=True)
class Question:
    """The parts of a question the checks match against."""

    text: str
    years: frozenset[int]
    """Every year the question names, spans expanded."""
    span: int
    """How many years the named periods cover (2020-2024: 5), 0 when none are named."""
    words: frozenset[str]
    """Normalised words, stop words removed."""
    positions: dict[str, int]
    """Each word's first position in the question (which item is named first)."""
    counts: dict[str, int]
    """How often each word occurs ("net bookings and in-game net bookings" names two items)."""


def years_in(text: str) -> set[int]:
    """The years a header, label or question names (FY19 = 2019; "2017 to 2019" = 2017-2019)."""
    text = _SHORT_FY.sub(lambda m: f"20{m.group(1)}", text)
    found = {int(y) for y in _YEAR.findall(text)}
    for a, b in _SPAN.findall(text):
        lo, hi = int(a), int(b)
        if 0 < hi - lo <= 10 and not _is_pair_list(text, a, b):
            found.update(range(lo, hi + 1))
    return found


def _is_pair_list(text: str, a: str, b: str) -> bool:
    """ "between 2018 and 2019" names two years; "2017 and 2019" names exactly those two too."""
    return bool(re.search(rf"{a}\s*and\s*{_FISCAL}{b}", text, re.I))


def normalise(word: str) -> str:
    """Lower case, no possessive, simple singular ("liabilities" -> "liability", "costs" -> "cost")."""
    w = word.lower().replace("’", "'")
    w = re.sub(r"'s$", "", w)
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 4 and w.endswith(("sses", "xes", "ches", "shes")):
        return w[:-2]
    if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        return w[:-1]
    return w


def words_in(text: str) -> list[str]:
    """The content words of a label or question, in order, normalised."""
    lowered = text.lower()
    for short, long in _ABBREVIATIONS.items():
        lowered = re.sub(rf"(?<![a-z]){re.escape(short)}(?![a-z])", f" {long} ", lowered)
    out = []
    for match in _WORD.finditer(lowered):
        w = normalise(match.group(0))
        if (
            w not in _STOP
            and w not in _MONTHS
            and not w.isdigit()
            and len(w) > 1
            and not re.fullmatch(r"fy\d*|f\d\d|q[1-4]|\d+[a-z]*", w)
        ):
            out.append(w)
    return out


def parse_question(text: str) -> Question:
    years = years_in(text)
    found = words_in(text)
    positions: dict[str, int] = {}
    counts: dict[str, int] = {}
    for i, w in enumerate(found):
        positions.setdefault(w, i)
        counts[w] = counts.get(w, 0) + 1
    span = (max(years) - min(years) + 1) if years else 0
    return Question(
        text=text,
        years=frozenset(years),
        span=span,
        words=frozenset(found),
        positions=positions,
        counts=counts,
    )


_NAMED_RATIO = (
    re.compile(
        r"\bratio\s+of\s+(?:the\s+|its\s+)?(?P<top>[a-z][a-z ,&'-]{1,50}?)\s+to\s+(?:the\s+|its\s+)?"
        r"(?P<bottom>[a-z][a-z ,&'-]{1,50}?)"
        r"(?=\s+(?:in|for|at|of|as|from|during|between)\b|\s*[?.,]|\s+\d|$)",
        re.I,
    ),
    re.compile(
        r"\b(?:what\s+(?:was|is|were|are)\s+)?(?:the\s+)?(?P<top>[a-z][a-z ,&'-]{1,50}?)\s+as\s+an?\s+"
        r"(?:percent(?:age)?|share|proportion|fraction|ratio)\s+of\s+(?:the\s+|its\s+)?"
        r"(?P<bottom>[a-z][a-z ,&'-]{1,50}?)(?=\s+(?:in|for|at|as|from|during|between)\b|\s*[?.,]|\s+\d|$)",
        re.I,
    ),
)
"""How a question names both sides of a ratio: "the ratio of A to B", "A as a percentage of B"."""


_ASKING = re.compile(r"\b(?:what|how\s+much|how\s+many|calculate|compute|find|determine|estimate)\b", re.I)


def asking_sentence(question: str) -> str:
    """The sentence that asks (the last one with "what", "how much", "calculate"...): a word
    problem states its inputs with the same words it asks with, so only this one names the answer."""
    sentences = [s for s in re.split(r"(?<=[.?!])\s+", question) if s.strip()]
    return next((s for s in reversed(sentences) if _ASKING.search(s)), sentences[-1] if sentences else "")


class NamedRatio(NamedTuple):
    """The two sides a question names for a ratio, and where the naming phrase starts (the
    numbers a word problem states come before it)."""

    top: str
    bottom: str
    start: int


def named_ratio(question: str) -> NamedRatio | None:
    """The numerator's and the denominator's names where the question states both, else None."""
    for pattern in _NAMED_RATIO:
        match = pattern.search(question)
        if match:
            return NamedRatio(match.group("top").strip(), match.group("bottom").strip(), match.start())
    return None


def asks_for_percent(question: str) -> bool:
    """Whether the question asks for a percentage (then a bare number is not an answer)."""
    if re.search(r"\bpercentage\s+points?\b", question, re.I):
        return False
    return bool(_PERCENT_ASKED.search(question))


def question_form(question: str, ignore: set[str]) -> str | None:
    """The first form the question asks for ("percentage change", "change", "average", "ratio").

    `ignore` holds the words of the line items the calculation used: "Weighted average exchange
    rate" names an item, it does not ask for an average. "absolute percentage change" is a
    difference of percentages, not a percentage change.
    """
    found: list[tuple[int, str]] = []
    for form, pattern in FORMS:
        for match in pattern.finditer(question):
            matched = {normalise(w) for w in _WORD.findall(match.group(0))}
            if matched and matched <= ignore:
                continue
            found.append((match.start(), form))
            break
    if not found:
        return None
    found.sort()
    position, form = found[0]
    if form == "percentage change" and re.search(r"\babsolute\s+$", question[:position], re.I):
        return "change"
    if form == "change" and any(f == "percentage change" for _, f in found):
        return "percentage change"
    if form == "difference" and re.search(r"\bfrom\b.+\bto\b", question, re.I):
        return "change"  # "the difference ... from 2018 to 2019" is the change
    return form


NEGATIVE_ADMITTED = re.compile(
    r"chang|differ|increas|decreas|declin|loss|gain|profit|effect|impact|elastic|\bvar\b|value.at.risk|"
    r"deficit|surplus|adjust|variance|\bnet\b|delta|gamma|hedg|short|reduc|sell|p&l|movement",
    re.I,
)
"""Words under which a negative answer is a plausible one (a change, a loss, a net flow...)."""
