"""Spans that the other language writes differently, converted exactly instead of translated:
dates (`29 June 2007`, `June 29, 2007` ↔ `2007年6月29日`) and the Latin abbreviations of English
prose (`e.g.` → 例如, `i.e.` → 即, `etc.` → 等等). The model only places a placeholder; the
converted text replaces it (engine/text/protect.py), so a date is never spelled out in a loop
(`29六六六六月日`) and `e.g.` never becomes a name.

Titles before a name are written the Chinese way where the model does not know the name or the
title (`Dr. Okafor` → `Okafor博士`), and a Chinese city or province the model does not know is
written in Chinese (`Shenzhen` → `深圳`, from CC-CEDICT; not `Suzhou`, which is two cities).

English clock times with a part of the day are converted too (`3 pm` → `下午3点`, `8:30 a.m.` →
`上午8点30分`): the model, which has seen a few dozen, wrote `at 9 am` as 在9年. (The other way
was tried and left out: carried as a span, 晚上11点 came out "on 11 pm" where the model's own
"at 11 o'clock at night" is right; it reads 点 as a time, a placeholder not.)

Only whole dates are converted (a day from 1 to 31, a known month, a four-digit year when there
is one) and only times with an hour from 1 to 12 (and minutes under 60); anything else stays a
plain number span. A time without a part of the day (9:30) is the same in both languages and is
kept as it is.
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
# A clock time with a part of the day, or a range of them (9-11 am); the dot of a.m. is taken inside a
# sentence only: at its end it is also the sentence's full stop, kept for the model.
_CLOCK = r"(?P<{0}h>\d{{1,2}})(?::(?P<{0}m>\d{{2}}))?"
_ENGLISH_TIME = re.compile(
    rf"(?<![\w.:])(?:{_CLOCK.format('from_')}\s?(?:-|–|to)\s?)?{_CLOCK.format('')}\s?(?P<half>[ap])\.?\s?m\b"
    r"(?:\.(?=\s*[a-z,;:?!)\]\"']))?", re.IGNORECASE)
TITLES_TO_CHINESE = {"mr": "先生", "mrs": "太太", "ms": "女士", "miss": "小姐", "dr": "博士", "prof": "教授"}
_UPPER, _LOWER = "A-Z\u00c0-\u00d6\u00d8-\u00de", "a-z\u00df-\u00f6\u00f8-\u00ff\u0100-\u024f"  # (Müller, José)
# a name of one word: O'Brien, McDonald, Smith-Jones, Müller
_NAME = rf"[{_UPPER}](?:'[{_UPPER}])?[{_LOWER}]+(?:[{_UPPER}][{_LOWER}]+)?(?:-[{_UPPER}][{_LOWER}]+)?"
_TITLED = re.compile(rf"(?<![\w.])(?P<title>Mrs|Mr|Ms|Miss|Dr|Prof)\.?\s(?P<name>{_NAME}(?:\s{_NAME}){{0,2}})\b")
_CAPITALISED = re.compile(rf"(?<![\w'])[{_UPPER}][{_LOWER}]+(?:'[{_LOWER}]+)?(?![\w'])")
_ABBREVIATION = re.compile(r"(?<![\w.])(?:e\.g\.|i\.e\.|etc\.|vs\.)", re.IGNORECASE)


def _month_number(name: str) -> int:
    return next(k for k, month in enumerate(MONTHS, start=1) if month.lower().startswith(name.rstrip(".").lower()[:3]))


def _valid(day: int, month: int) -> bool:
    return 1 <= month <= 12 and 1 <= day <= 31


def _chinese_time(hour: int, minutes: str | None, pm: bool) -> tuple[str, str] | None:
    """(part of the day, clock) in Chinese: (上午, 9点), (下午, 5点30分), (午夜, 12点); None for no such
    time (13 pm, 9:75)."""
    if not 1 <= hour <= 12 or (minutes is not None and int(minutes) >= 60):
        return None
    minutes = minutes if minutes and int(minutes) else None
    if not pm and hour == 12:  # (12 am: midnight, and half past it 凌晨0点30分)
        return ("凌晨", f"0点{minutes}分") if minutes else ("午夜", "12点")
    part = ("中午" if hour == 12 else "下午" if hour < 6 else "晚上") if pm else "凌晨" if hour < 6 else "上午"
    return part, f"{hour}点" + (f"{minutes}分" if minutes else "")


def _english_time(match) -> str | None:
    """A time or a range of them in Chinese: 上午9点到11点; the second part of the day is written only
    where it is not the first's (上午11点到午夜12点). In `11 to 1 pm` the first hour is before noon."""
    pm = match["half"].lower() == "p"
    end = _chinese_time(int(match["h"]), match["m"], pm)
    if match["from_h"] is None or end is None:
        return "".join(end) if end else None
    first = int(match["from_h"])
    other_half = first > int(match["h"]) and int(match["h"]) != 12  # (11 to 1 pm: from 11 am)
    start = _chinese_time(first, match["from_m"], pm != other_half)
    return f"{''.join(start)}到{end[1] if end[0] == start[0] else ''.join(end)}" if start else None


def _free(found: list, start: int, end: int) -> bool:
    return not any(a < end and start < b for a, b, _ in found)


def english_to_chinese(text: str, known=None, in_chinese=lambda name: None,
                       place=lambda name: None) -> list[tuple[int, int, str]]:
    """(start, end, Chinese) of the dates, clock times and abbreviations of an English text, and of
    each title before a name where the model does not know the name or the title (known(word) →
    bool): Dr. Okafor → Okafor博士, Dr. Smith → 斯密博士 (in_chinese(name): a name as CC-CEDICT writes
    it, else the name as it is). The model wrote `Dr。Okafor` and Mrs. as 先生; Mr. Smith it
    translates itself (史密斯先生). place(word): a Chinese city's or province's name in Chinese
    (Shenzhen → 深圳), for one the model does not know (it would carry it in Latin letters)."""
    found = []
    for match in _TITLED.finditer(text) if known is not None else ():
        words, title = match["name"].split(), match["title"]
        names_known = all(map(known, words))
        if names_known and known(title):
            continue  # (Mr. Smith: the model's own)
        chinese = [in_chinese(word) for word in words] if names_known else [None]
        written = "".join(chinese) if all(chinese) else match["name"]
        found.append((*match.span(), written + TITLES_TO_CHINESE[title.lower()]))
    for match in _CAPITALISED.finditer(text) if known is not None else ():
        written = place(match.group()) if not known(match.group()) else None
        if written and _free(found, *match.span()):
            found.append((*match.span(), written))
    for match in _ENGLISH_TIME.finditer(text):
        written = _english_time(match)
        if written and _free(found, *match.span()):
            found.append((*match.span(), written))
    for match in _ENGLISH_DATE.finditer(text):
        day = int(match["d1"] or match["d2"])
        month = _month_number(match["m1"] or match["m2"])
        year = match["y1"] or match["y2"]
        if _valid(day, month) and _free(found, *match.span()):
            found.append((*match.span(), f"{year + '年' if year else ''}{month}月{day}日"))
    for match in _ABBREVIATION.finditer(text):
        if _free(found, *match.span()):
            found.append((*match.span(), ABBREVIATIONS_TO_CHINESE[match.group().lower()]))
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
