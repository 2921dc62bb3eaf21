"""Corpus reading (Anki format edge cases), named-corpus cache, the addition task, the split."""

import zipfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.data.corpus import addition_pairs, load_pairs, resolve_corpus, split_pairs
from engine.data.files import CorpusError, Pair, read_anki


def write(tmp_path, data: bytes, name="c.txt"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_reads_bom_crlf_and_two_or_three_columns(tmp_path):
    data = "\ufeffHi.\t嗨。\ta third column\r\nRun!\t跑！\r\n".encode()
    pairs, skipped = read_anki(write(tmp_path, data))
    assert pairs == [Pair("Hi.", "嗨。"), Pair("Run!", "跑！")]
    assert skipped == 0


def test_blank_lines_are_ignored(tmp_path):
    pairs, _ = read_anki(write(tmp_path, b"a\tb\n\n   \nc\td\n\n"))
    assert pairs == [Pair("a", "b"), Pair("c", "d")]


@pytest.mark.parametrize(
    "data, line, reason",
    [
        (b"a\tb\nno tab here\n", 2, "found no tab"),
        (b"a\tb\nc\td\n\t\xe5\x97\xa8\n", 3, "empty source or target"),
        (b"a\tb\nsource\t \n", 2, "empty source or target"),
        (b"a\tb\nc\td\ne\t\xff\xfe\n", 3, "not valid UTF-8"),
    ],
)
def test_bad_line_is_an_error_naming_file_and_line(tmp_path, data, line, reason):
    path = write(tmp_path, data)
    with pytest.raises(CorpusError) as err:
        read_anki(path)
    assert str(err.value).startswith(f"{path}:{line}: ")
    assert reason in str(err.value)
    assert "\n" not in str(err.value)


def test_skip_bad_lines_counts_them(tmp_path):
    pairs, skipped = read_anki(write(tmp_path, b"a\tb\nbad\nc\t\n\xff\tx\nd\te\n"), skip_bad_lines=True)
    assert pairs == [Pair("a", "b"), Pair("d", "e")]
    assert skipped == 3


def test_reads_the_zip_as_distributed(tmp_path):
    path = tmp_path / "cmn-eng.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("_about.txt", "licence text")
        archive.writestr("cmn.txt", "\ufeffHi.\t嗨。\tattribution\n".encode())
    assert read_anki(path)[0] == [Pair("Hi.", "嗨。")]


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CorpusError, match="no such file"):
        read_anki(tmp_path / "nope.txt")


def test_named_corpus_comes_from_the_cache_without_network(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQ2SEQ_CORPORA", str(tmp_path))
    (tmp_path / "cmn-eng").mkdir()
    (tmp_path / "cmn-eng" / "cmn.txt").write_text("Hi.\t嗨。\n", encoding="utf-8")
    monkeypatch.setattr("urllib.request.urlopen", lambda *a, **k: pytest.fail("must not download"))
    assert resolve_corpus("cmn-eng") == tmp_path / "cmn-eng" / "cmn.txt"
    pairs, facts = load_pairs("cmn-eng")
    assert pairs == [Pair("Hi.", "嗨。")] and "CC-BY 2.0" in facts["licence"]


def test_failed_download_leaves_nothing_behind(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQ2SEQ_CORPORA", str(tmp_path))

    def refuse(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr("urllib.request.urlopen", refuse)
    with pytest.raises(CorpusError, match="could not download"):
        resolve_corpus("fra-eng")
    assert list(tmp_path.iterdir()) == []


def test_load_drops_duplicates_reverses_and_caps(tmp_path):
    path = write(tmp_path, b"a\t1\nb\t2\na\t1\nc\t3\n")
    pairs, facts = load_pairs(str(path), reverse=True, max_pairs=2)
    assert pairs == [Pair("1", "a"), Pair("2", "b")]
    assert facts["duplicates_dropped"] == 1 and facts["pairs_read"] == 4


def test_addition_corpus_is_correct_deterministic_and_distinct():
    pairs = addition_pairs(500, seed=7)
    assert pairs == addition_pairs(500, seed=7) != addition_pairs(500, seed=8)
    assert len(set(pairs)) == 500
    for pair in pairs:
        a, b = pair.source.split("+")
        assert int(pair.target) == int(a) + int(b)


sentences = st.lists(st.tuples(st.text(min_size=1, max_size=12), st.text(min_size=1, max_size=5)), max_size=60)


@settings(max_examples=50, deadline=None)
@given(sentences, st.integers(0, 1000))
def test_split_is_deterministic_and_disjoint_by_source(rows, seed):
    pairs = [Pair(s, t) for s, t in rows]
    first = split_pairs(pairs, 0.2, 0.2, seed)
    assert first == split_pairs(pairs, 0.2, 0.2, seed)
    parts = [{p.source for p in part} for part in (first.train, first.valid, first.test)]
    assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
    assert sorted(first.train + first.valid + first.test, key=repr) == sorted(pairs, key=repr)


def test_split_keeps_every_reference_of_a_source_together():
    pairs = [Pair(f"s{i % 50}", f"t{i}") for i in range(400)]
    split = split_pairs(pairs, 0.1, 0.1, 1)
    for part in (split.train, split.valid, split.test):
        for source in {p.source for p in part}:
            assert sum(p.source == source for p in part) == 8
    assert 0 < len(split.test) < len(split.train)
