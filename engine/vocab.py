"""Vocabularies: text ⇄ token ids, character or word level, saved as JSON.

Ids 0..3 are reserved: PAD (padding, masked everywhere), BOS (decoder start), EOS (end of
sentence) and UNK (anything the training data never had). Encoding never fails.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from pathlib import Path

PAD, BOS, EOS, UNK = 0, 1, 2, 3
SPECIALS = ["<pad>", "<s>", "</s>", "<unk>"]

# Word level: Latin-script words (with inner apostrophes, "don't"), numbers, each CJK character
# on its own, and any other non-space character on its own (punctuation).
_CJK = (
    "\u2e80-\u2fdf\u3040-\u30ff\u3100-\u312f\u3190-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff\U00020000-\U0002fa1f"
)
_WORD_RE = re.compile(rf"[^\W{_CJK}]+(?:['’][^\W{_CJK}]+)*|\S")


def tokenize(text: str, level: str) -> list[str]:
    if level == "char":
        return list(text)
    return _WORD_RE.findall(text)


def _is_wordlike(char: str) -> bool:
    return char.isalnum() and not re.match(rf"[{_CJK}]", char)


def detokenize(tokens: list[str], level: str) -> str:
    """Inverse of `tokenize`: characters concatenate; words get a space between two word-like
    tokens (and after sentence punctuation), none around CJK characters or before punctuation."""
    if level == "char":
        return "".join(tokens)
    out = ""
    for token in tokens:
        if out and token and (
            (_is_wordlike(out[-1]) and _is_wordlike(token[0]))
            or (out[-1] in ",.!?;:" and _is_wordlike(token[0]))
        ):
            out += " "
        out += token
    return out


class Vocab:
    def __init__(self, tokens: list[str], level: str):
        if tokens[: len(SPECIALS)] != SPECIALS:
            raise ValueError("a vocabulary must start with the special tokens")
        self.level = level
        self.tokens = list(tokens)
        self.index = {token: i for i, token in enumerate(self.tokens)}

    @classmethod
    def build(cls, texts, level: str, min_freq: int = 1) -> Vocab:
        """Tokens seen at least `min_freq` times, most frequent first (ties in first-seen order)."""
        counts = Counter(token for text in texts for token in tokenize(text, level))
        kept = [t for t, n in sorted(counts.items(), key=lambda kv: -kv[1]) if n >= min_freq]
        return cls(SPECIALS + [t for t in kept if t not in SPECIALS], level)

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def chinese(self) -> bool:
        """Whether this vocabulary's language is Chinese (most of its commonest tokens are Han)."""
        return is_chinese("".join(self.tokens[len(SPECIALS) : 200]))

    def encode(self, text: str) -> list[int]:
        """Token ids of `text` (no BOS/EOS); unknown tokens become UNK."""
        return self.ids(tokenize(text, self.level))

    def ids(self, tokens: list[str]) -> list[int]:
        return [self.index.get(token, UNK) for token in tokens]

    def tokens_of(self, ids) -> list[str]:
        """Tokens of ids, stopping at EOS and skipping PAD/BOS. UNK shows as U+FFFD."""
        tokens = []
        for i in ids:
            i = int(i)
            if i == EOS:
                break
            if i in (PAD, BOS):
                continue
            tokens.append("\ufffd" if i == UNK or i >= len(self.tokens) else self.tokens[i])
        return tokens

    def decode(self, ids) -> str:
        """Text of ids (see `tokens_of`)."""
        return detokenize(self.tokens_of(ids), self.level)

    def to_json(self) -> str:
        return json.dumps({"level": self.level, "tokens": self.tokens}, ensure_ascii=False, indent=0)

    @classmethod
    def from_dict(cls, data: dict) -> Vocab:
        tokens, level = data["tokens"], data["level"]
        if level not in ("char", "word") or not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise ValueError('needs "level" (char or word) and "tokens" (a list of strings)')
        return cls(tokens, level)

    @classmethod
    def load(cls, path: str | Path) -> Vocab:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def is_chinese(text: str) -> bool:
    """True when most letters of `text` are Han characters (decides BLEU's tokenizer)."""
    letters = [c for c in text if c.isalpha()]
    han = [c for c in letters if unicodedata.name(c, "").startswith("CJK UNIFIED")]
    return bool(letters) and len(han) * 2 >= len(letters)
