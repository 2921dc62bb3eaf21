"""Spans that the other language writes differently, converted exactly instead of translated:
dates (`29 June 2007`, `June 29, 2007` ↔ `2007年6月29日`) and the Latin abbreviations of English
prose (`e.g.` → 例如, `i.e.` → 即, `etc.` → 等等). The model only places a placeholder; the
converted text replaces it (engine/text/protect.py), so a date is never spelled out in a loop
(`29六六六六月日`) and `e.g.` never becomes a name.

Titles before a name the model does not know are written the Chinese way (`Dr. Okafor` →
`Okafor博士`). English clock times with a part of the day are converted too (`3 pm` → `下午3点`, `8:30 a.m.` →
`上午8点30分`): the model, which has seen a few dozen, wrote `at 9 am` as 在9年. (The other way
was tried and left out: carried as a span, 晚上11点 came out "on 11 pm" where the model's own
"at 11 o'clock at night" is right; it reads 点 as a time, a placeholder not.) Only whole dates are converted (a day from 1 to 31, a known month, a four-digit year
when there is one) and only times with an hour from 1 to 12 (and minutes under 60); anything else
stays a plain number span. A time without a part of the day (9:30) is the same in both languages
and is kept as it is.
"""

from __future__ import annotations

import re

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December")
_MONTH = r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
_ORDINAL = r"(?:st|nd|rd|th)?"
_ENGLISH_DATE = re.compile(
    rf"(?<![\w.])(?:(?P<d1>\d{{1,2}}){_ORDINAL}\s(?P<m1>{_MONTH})(?:,?\s(?P<y1>\d{{4}}))?"
    rf"|(?P<m2>{_MONTH})\s(?P<d2>\d{{1,2}}){_ORDINAL}(?:,?\s(?P<y2>\d{{4}}))?)(?![\w])"
)
_CHINESE_DATE = re.compile(r"(?<!\d)(?:(?P<y>\d{4})年)?(?P<m>\d{1,2})月(?P<d>\d{1,2})[日号]")
ABBREVIATIONS_TO_CHINESE = {"e.g.": "例如", "i.e.": "即", "etc.": "等等", "vs.": "对"}
_ENGLISH_TIME = re.compile(r"(?<![\w.:])(?P<h>\d{1,2})(?::(?P<m>\d{2}))?\s?(?P<half>[ap])\.?\s?m\b(?:\.(?=\s*[a-z,;]))?", re.IGNORECASE)
# (the dot of a.m. is taken only inside a sentence: at its end it is the sentence's full stop too, kept for the model)
TITLES_TO_CHINESE = {"mr": "先生", "mrs": "太太", "ms": "女士", "miss": "小姐", "dr": "博士", "prof": "教授"}
_TITLED = re.compile(r"(?<![\w.])(?P<title>Mrs|Mr|Ms|Miss|Dr|Prof)\.?\s(?P<name>[A-Z](?:'[A-Z])?[a-z]+(?:[A-Z][a-z]+)?(?:-[A-Z][a-z]+)?)\b")
_ABBREVIATION = re.compile(r"(?<![\w.])(?:e\.g\.|i\.e\.|etc\.|vs\.)", re.IGNORECASE)


def _month_number(name: str) -> int:
    return next(k for k, month in enumerate(MONTHS, start=1) if month.lower().startswith(name.rstrip(".").lower()[:3]))


def _valid(day: int, month: int) -> bool:
    return 1 <= month <= 12 and 1 <= day <= 31


def _chinese_day_part(hour: int, pm: bool) -> str:
    if pm:
        return "中午" if hour == 12 else "下午" if hour < 6 else "晚上"
    return "午夜" if hour == 12 else "凌晨" if hour < 6 else "上午"


def english_to_chinese(text: str, known=None) -> list[tuple[int, int, str]]:
    """(start, end, Chinese) of the dates, clock times and abbreviations of an English text, and of
    each title before a name the model does not know (known(word) → bool; Dr. Okafor → Okafor博士:
    the model wrote `Dr。Okafor` and Mrs. as 先生; a name it knows it translates, Mr. Smith 史密斯先生)."""
    found = []
    for match in _TITLED.finditer(text) if known is not None else ():
        if not known(match["name"]):
            found.append((match.start(), match.end(), match["name"] + TITLES_TO_CHINESE[match["title"].lower()]))
    for match in _ENGLISH_TIME.finditer(text):
        hour, minutes = int(match["h"]), match["m"]
        if 1 <= hour <= 12 and (minutes is None or int(minutes) < 60):
            written = f"{_chinese_day_part(hour, match['half'].lower() == 'p')}{hour}点" + (f"{minutes}分" if minutes and int(minutes) else "")
            found.append((match.start(), match.end(), written))
    for match in _ENGLISH_DATE.finditer(text):
        day = int(match["d1"] or match["d2"])
        month = _month_number(match["m1"] or match["m2"])
        year = match["y1"] or match["y2"]
        if _valid(day, month) and not any(a < match.end() and match.start() < b for a, b, _ in found):
            found.append((match.start(), match.end(), f"{year + '年' if year else ''}{month}月{day}日"))
    for match in _ABBREVIATION.finditer(text):
        if not any(a < match.end() and match.start() < b for a, b, _ in found):
            found.append((match.start(), match.end(), ABBREVIATIONS_TO_CHINESE[match.group().lower()]))
    return sorted(found)


def chinese_to_english(text: str) -> list[tuple[int, int, str]]:
    """(start, end, English) of the dates of a Chinese text."""
    found = []
    for match in _CHINESE_DATE.finditer(text):
        day, month = int(match["d"]), int(match["m"])
        if _valid(day, month):
            english = f"{MONTHS[month - 1]} {day}" + (f", {match['y']}" if match["y"] else "")
            found.append((match.start(), match.end(), english))
    return found
