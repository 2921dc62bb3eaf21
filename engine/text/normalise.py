"""Normalisation, before anything else reads a text (training pairs and user input alike).

Unicode NFKC folds full-width Latin letters and digits (１８号 → 18号), ligatures and
compatibility forms; curly apostrophes become straight ones (don’t → don't); whitespace runs
become one space. NFKC also turns Chinese full-width punctuation into ASCII (，→ ,), so after a
Han character it is put back in its Chinese form: Chinese text keeps its own punctuation, and
"你好,世界!" and "你好，世界！" read the same. Case is not changed here: `fold_case` lowercases
the source side of a Latin-script language (so "And" and "and" are one word), and the model
learns to write capitals on the target side.
"""

from __future__ import annotations

import re
import unicodedata

from engine.text.script import HAN, HAN_CHAR

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "‛": "'", "′": "'", "`": "'"})
_LATIN_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‟": '"', "″": '"'})
# ASCII punctuation that Chinese writes full-width; after NFKC it is ASCII everywhere.
_FULL_WIDTH = {",": "，", "!": "！", "?": "？", ":": "：", ";": "；", "(": "（", ")": "）"}
_CHINESE_PUNCT = re.compile(rf"(?<=[{HAN_CHAR}”’」』》）\]，。！？：；、])\s*([,!?:;)])|([(])\s*(?=[{HAN_CHAR}])")
_ELLIPSIS = re.compile(rf"(?<=[{HAN_CHAR}…])\s*\.\.\.")
_SPACE_NEAR_HAN = re.compile(rf"(?<=[{HAN_CHAR}，。！？：；、（）“”])\s+|\s+(?=[{HAN_CHAR}，。！？：；、（）“”])")


def normalise(text: str) -> str:
    """The one normal form of a text for training and translation (see the module's doc)."""
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES)
    text = " ".join(text.split())
    if not HAN.search(text):
        return text.translate(_LATIN_QUOTES)
    for _ in range(4):  # "……" is two ellipses; "）：" converts the bracket, then the colon
        before = text
        text = _ELLIPSIS.sub("…", text)
        text = _CHINESE_PUNCT.sub(lambda m: _FULL_WIDTH[m.group(1) or m.group(2)], text)
        if text == before:
            break
    return _SPACE_NEAR_HAN.sub("", text)


# (not a time's colon: ⟦N1⟧:30, ⟦N1⟧:⟦N2⟧)
_ASCII_IN_CHINESE = re.compile(rf"(?<=⟧)\s*([,!?:;])(?![\d⟦])\s*|([,!?:;])\s*(?=[{HAN_CHAR}])")


def chinese_punctuation(output: str) -> str:
    """A Chinese translation's ASCII , ! ? : ; written full-width where it stands after a placeholder or
    before a Han character (Kaur,请坐下 → Kaur，请坐下). Training targets keep an ASCII comma after a
    Latin word (NFKC folds Tom， to Tom, and `normalise` restores only those after a Han character),
    so a model writes one after a placeholder. Spans are not touched: this runs before they are restored."""
    return _ASCII_IN_CHINESE.sub(lambda m: _FULL_WIDTH[m.group(1) or m.group(2)], output)


_LOWERED_PLACEHOLDER = re.compile(r"⟦([nw])(\d)⟧")


def fold_case(text: str) -> str:
    """The source side of a Latin-script language is read without case (placeholders keep theirs)."""
    return _LOWERED_PLACEHOLDER.sub(lambda m: f"⟦{m.group(1).upper()}{m.group(2)}⟧", text.lower())
