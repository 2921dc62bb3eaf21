"""The corpus formats users bring: aligned Moses files, TSV, gzip/xz/bzip2, OPUS's Moses zip and
TMX read to the same pairs, and every bad file is one error naming the file and the line."""

import bz2
import gzip
import lzma
import zipfile

import pytest

from engine.data.files import CorpusError, Pair
from engine.data.formats import read_corpus

ENGLISH = ["Hi.", "Run!", "I like tea & cake."]
CHINESE = ["你好。", "跑！", "我喜欢茶和蛋糕。"]
PAIRS = [Pair(e, z) for e, z in zip(ENGLISH, CHINESE)]


def lines(texts, ending="\n"):
    return "".join(t + ending for t in texts).encode("utf-8")


def tmx(units, lang="zh-CN") -> bytes:
    body = "".join(
        f'<tu tuid="{i}"><tuv xml:lang="en-US"><seg>{e.replace("&", "&amp;")}</seg></tuv>'
        f'<tuv xml:lang="{lang}"><seg>{z}</seg></tuv></tu>\n'
        for i, (e, z) in enumerate(units)
    )
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<tmx version="1.4"><header srclang="en-US"/>\n<body>\n' + body + "</body></tmx>\n").encode()


def test_aligned_files_tsv_and_compressed_copies_read_alike(tmp_path):
    (tmp_path / "train.en").write_bytes(lines(ENGLISH))
    (tmp_path / "train.zh").write_bytes(lines(CHINESE, "\r\n"))
    (tmp_path / "c.tsv").write_bytes(lines(f"{e}\t{z}" for e, z in zip(ENGLISH, CHINESE)))
    for suffix, opener in ((".gz", gzip.open), (".xz", lzma.open), (".bz2", bz2.open)):
        with opener(tmp_path / f"c.tsv{suffix}", "wb") as out:
            out.write((tmp_path / "c.tsv").read_bytes())
        with opener(tmp_path / f"train.zh{suffix}", "wb") as out:
            out.write(lines(CHINESE))
        assert read_corpus(tmp_path / f"c.tsv{suffix}") == (PAIRS, 0)
        assert read_corpus(f"{tmp_path}/train.en+{tmp_path}/train.zh{suffix}") == (PAIRS, 0)
    assert read_corpus(f"{tmp_path}/train.en+{tmp_path}/train.zh") == (PAIRS, 0)
    assert read_corpus(tmp_path / "c.tsv") == (PAIRS, 0)


def test_an_opus_moses_zip_reads_english_first(tmp_path):
    path = tmp_path / "en-zh.txt.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("Corpus.en-zh.zh", lines(CHINESE))
        archive.writestr("Corpus.en-zh.en", lines(ENGLISH))
        archive.writestr("README", "about this corpus")
    assert read_corpus(path) == (PAIRS, 0)


def test_tmx_units_with_inline_codes_and_other_language_tags(tmp_path):
    path = tmp_path / "memory.tmx"
    path.write_bytes(tmx(zip(ENGLISH, CHINESE)))
    assert read_corpus(path) == (PAIRS, 0)
    coded = tmp_path / "coded.tmx.gz"
    with gzip.open(coded, "wb") as out:
        out.write(tmx([("Press <bpt i='1'>&lt;b&gt;</bpt>Save<ept i='1'>&lt;/b&gt;</ept> now.", "现在按保存。")], lang="ZH"))
    assert read_corpus(coded) == ([Pair("Press Save now.", "现在按保存。")], 0)


def test_a_line_count_mismatch_names_the_file_and_line(tmp_path):
    (tmp_path / "a.en").write_bytes(lines(ENGLISH))
    (tmp_path / "a.zh").write_bytes(lines(CHINESE[:2]))
    with pytest.raises(CorpusError) as error:
        read_corpus(f"{tmp_path}/a.en+{tmp_path}/a.zh")
    assert str(error.value) == f"{tmp_path}/a.zh:3: the file ends here but {tmp_path}/a.en goes on (aligned files need as many lines)"


def test_bad_bytes_and_empty_sides_name_the_line(tmp_path):
    (tmp_path / "a.en").write_bytes(lines(ENGLISH))
    (tmp_path / "a.zh").write_bytes(lines(CHINESE[:1]) + b"\xff\xfe\n" + lines(CHINESE[2:]))
    with pytest.raises(CorpusError, match=r"a\.zh:2: not valid UTF-8 \(byte 1\)$"):
        read_corpus(f"{tmp_path}/a.en+{tmp_path}/a.zh")
    (tmp_path / "b.zh").write_bytes(lines([CHINESE[0], "", CHINESE[2]]))
    with pytest.raises(CorpusError, match=r"a\.en\+.*b\.zh:2: empty source or target \(use --skip-bad-lines"):
        read_corpus(f"{tmp_path}/a.en+{tmp_path}/b.zh")
    assert read_corpus(f"{tmp_path}/a.en+{tmp_path}/b.zh", skip_bad_lines=True) == ([PAIRS[0], PAIRS[2]], 1)


def test_broken_tmx_and_missing_files_are_one_line_errors(tmp_path):
    broken = tmp_path / "broken.tmx"
    broken.write_bytes(tmx(zip(ENGLISH, CHINESE)).replace(b"</tu>\n<tu", b"</tuv>\n<tu", 1))
    with pytest.raises(CorpusError, match=r"broken\.tmx:\d+: not well-formed TMX"):
        read_corpus(broken)
    one_language = tmp_path / "one.tmx"
    one_language.write_bytes(tmx([("Hi.", "Hello.")], lang="en-GB"))
    with pytest.raises(CorpusError, match=r"one\.tmx:4: expected English and one other language"):
        read_corpus(one_language)
    with pytest.raises(CorpusError, match="no such file"):
        read_corpus(f"{tmp_path}/x.en+{tmp_path}/x.zh")
    (tmp_path / "bad.gz").write_bytes(b"not gzip")
    with pytest.raises(CorpusError, match=r"bad\.gz: cannot be read: Not a gzipped file"):
        read_corpus(tmp_path / "bad.gz")


def test_a_run_reads_aligned_files_by_their_spec_and_keeps_only_their_names(tmp_path):
    from engine.data.corpus import load_pairs

    (tmp_path / "train.en").write_bytes(lines(ENGLISH))
    (tmp_path / "train.zh.xz").write_bytes(lzma.compress(lines(CHINESE)))
    pairs, facts = load_pairs(f"{tmp_path}/train.en+{tmp_path}/train.zh.xz", reverse=True)
    assert pairs == [Pair(p.target, p.source) for p in PAIRS]
    assert facts["file"] == "train.en+train.zh.xz" and facts["licence"] is None and facts["pairs_used"] == 3
