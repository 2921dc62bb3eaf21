"""Corpora beyond one Anki file: pairs built from tatoeba.org's exports (small files the tests
write themselves; nothing downloads), several corpora in one run, and the CC-CEDICT reader."""

import bz2

import pytest

from engine.config import RunConfig
from engine.data.corpus import load_split
from engine.data.dictionary import DictionaryError, first_senses, parse_lines, word_pairs
from engine.data.files import CorpusError, read_anki
from engine.data.tatoeba import build_pairs, tatoeba_corpus


def write_bz2(path, lines):
    path.write_bytes(bz2.compress(("\n".join(lines) + "\n").encode("utf-8")))


@pytest.fixture
def exports(tmp_path):
    folder = tmp_path / "cache" / "tatoeba"
    folder.mkdir(parents=True)
    write_bz2(folder / "eng_sentences.tsv.bz2", ["1\teng\tI love you.", "2\teng\tHello.", "3\teng\tGood morning.", "9\teng\tUnlinked."])
    write_bz2(folder / "cmn_sentences.tsv.bz2", ["11\tcmn\t我愛你。", "12\tcmn\t你好。", "13\tcmn\t您好。", "14\tcmn\t早上好。"])
    # both directions of one link, a sentence linked to two translations, a link to nowhere
    write_bz2(folder / "eng-cmn_links.tsv.bz2", ["1\t11", "11\t1", "2\t12", "13\t2", "3\t14", "3\t99"])
    return folder


def test_pairs_come_from_links_in_both_directions_once_each(exports):
    pairs = build_pairs(
        exports / "eng_sentences.tsv.bz2", exports / "cmn_sentences.tsv.bz2", exports / "eng-cmn_links.tsv.bz2",
        "eng", "cmn", simplify=True,
    )
    assert [(s, t) for s, t, _ in pairs] == [("I love you.", "我爱你。"), ("Hello.", "你好。"), ("Hello.", "您好。"), ("Good morning.", "早上好。")]
    assert pairs[0][2].endswith("#1 & #11")  # each pair names its two sentence ids


def test_traditional_stays_when_not_simplifying(exports):
    pairs = build_pairs(
        exports / "eng_sentences.tsv.bz2", exports / "cmn_sentences.tsv.bz2", exports / "eng-cmn_links.tsv.bz2",
        "eng", "cmn", simplify=False,
    )
    assert pairs[0][1] == "我愛你。"


def test_the_built_corpus_is_an_anki_file_with_its_export_facts(exports):
    path = tatoeba_corpus("eng-cmn", exports.parent)
    pairs, _ = read_anki(path)
    assert len(pairs) == 4 and pairs[0].target == "我爱你。"
    facts = path.with_suffix(".json").read_text()
    assert "sha256" in facts and "eng-cmn_links.tsv.bz2" in facts


def test_a_malformed_export_line_is_named(exports):
    write_bz2(exports / "cmn_sentences.tsv.bz2", ["11\tcmn\t我爱你。", "twelve\tcmn"])
    with pytest.raises(CorpusError, match=r"cmn_sentences.tsv.bz2:2: expected 'id<TAB>language<TAB>text'"):
        tatoeba_corpus("eng-cmn", exports.parent)


def test_a_failed_download_names_the_url_and_the_cache(tmp_path, monkeypatch):
    import urllib.request

    def refuse(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    with pytest.raises(CorpusError) as caught:
        tatoeba_corpus("eng-cmn", tmp_path / "cache")
    message = str(caught.value)
    assert "https://downloads.tatoeba.org/exports/per_language/eng/eng_sentences.tsv.bz2" in message
    assert str(tmp_path / "cache" / "tatoeba") in message
    assert not list((tmp_path / "cache" / "tatoeba").glob("*.part"))


def test_bad_language_codes_are_refused(tmp_path):
    with pytest.raises(CorpusError, match="three-letter"):
        tatoeba_corpus("english-chinese", tmp_path)


def anki(path, pairs):
    path.write_text("".join(f"{s}\t{t}\tCC-BY\n" for s, t in pairs), encoding="utf-8")
    return path


def test_a_second_corpus_adds_training_pairs_and_keeps_the_first_ones_splits(tmp_path):
    first = [(f"sentence {i}.", f"句子{i}。") for i in range(400)]
    config = RunConfig(corpus=str(anki(tmp_path / "a.txt", first)))
    alone, _ = load_split(config)
    held_out = alone.valid + alone.test
    # the second corpus repeats a training pair, shares a held-out sentence, and adds new ones
    second = [first[0], (held_out[0].source.upper(), "别的。"), ("another one.", "另一个。"), ("more.", "更多。")]
    config.extra_corpora = [str(anki(tmp_path / "b.txt", second))]
    both, facts = load_split(config)
    assert both.valid == alone.valid and both.test == alone.test
    assert both.train[: len(alone.train)] == list(alone.train)
    assert [p.source for p in both.train[len(alone.train) :]] == ["another one.", "more."]
    assert facts["extra"][0]["held_out_overlap_dropped"] == 1 and facts["extra"][0]["pairs_added"] == 2


def test_a_share_of_the_second_corpus_is_a_second_validation_split_never_trained_on(tmp_path):
    first = [(f"sentence {i}.", f"句子{i}。") for i in range(200)]
    second = [(f"other {i}.", f"别的{i}。") for i in range(400)] + [("sentence 3.", "另一个说法。")]
    config = RunConfig(corpus=str(anki(tmp_path / "a.txt", first)), extra_corpora=[str(anki(tmp_path / "b.txt", second))], extra_valid_fraction=0.2)
    split, facts = load_split(config)
    assert 40 < len(split.valid_extra) < 120  # about a fifth of 400, keyed on the source
    assert all(p.source.startswith("other") for p in split.valid_extra)
    kept_out = {t for p in split.valid_extra for t in (p.source, p.target)}
    assert not any(p.source in kept_out or p.target in kept_out for p in split.train)
    assert facts["extra"][0]["held_out_as_valid_extra"] == len(split.valid_extra)
    again, _ = load_split(config)
    assert again.valid_extra == split.valid_extra  # the same on every run
    from engine.evaluation.evaluate import held_out

    sources, references = held_out(config, "valid-extra")
    assert len(sources) == len(split.valid_extra) and references[0] == [split.valid_extra[0].target]
    config.extra_valid_fraction = 0.0
    with pytest.raises(ValueError, match="valid-extra"):
        held_out(config, "valid-extra")


CEDICT = [
    "# CC-CEDICT",
    "傳統 传统 [chuan2 tong3] /tradition/traditional/convention/",
    "吃 吃 [chi1] /to eat/to consume/",
    "巴塞羅那 巴塞罗那 [Ba1 sai4 luo2 na4] /Barcelona/",
    "狗 狗 [gou3] /dog/CL:隻|只[zhi1],條|条[tiao2]/",
    "發票 发票 [fa1 piao4] /invoice; receipt or bill for purchase/",
]


def test_the_dictionary_reader_takes_simplified_headwords_and_first_senses():
    entries = parse_lines(CEDICT, "cedict.txt")
    assert entries[0].traditional == "傳統" and entries[0].simplified == "传统"
    assert entries[0].senses == ("tradition", "traditional", "convention")
    # names (capitalised pinyin) are left out; "to eat" → "eat"; "invoice; receipt…" → "invoice"
    assert first_senses(entries) == [("tradition", "传统"), ("eat", "吃"), ("dog", "狗"), ("invoice", "发票")]
    assert ("吃", "eat") in word_pairs(10, chinese_source=True, seed=0, entries=entries)


def test_a_malformed_dictionary_line_is_named():
    with pytest.raises(DictionaryError, match="cedict.txt:2"):
        parse_lines(["吃 吃 [chi1] /to eat/", "not an entry"], "cedict.txt")
