"""Vocabularies: tokenisation, round-trips, UNK for the unseen, JSON."""

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.data.vocab import EOS, PAD, UNK, Vocab, detokenize, tokenize


def test_word_level_splits_latin_words_and_each_cjk_character():
    assert tokenize("I don't know, Tom.", "word") == ["I", "don't", "know", ",", "Tom", "."]
    assert tokenize("我不知道。OK", "word") == ["我", "不", "知", "道", "。", "OK"]


def test_detokenize_restores_ordinary_sentences():
    for text in ["I don't know, Tom.", "我不知道。", "Is it 5 o'clock? Yes.", "Tom说OK。"]:
        assert detokenize(tokenize(text, "word"), "word") == text


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_char_vocab_round_trips_any_text_it_was_built_on(text):
    vocab = Vocab.build([text], "char")
    assert vocab.decode(vocab.encode(text)) == text


words = st.lists(st.sampled_from(["Tom", "likes", "it", "don't", "我", "好", ",", ".", "?", "5"]), max_size=12)


@settings(max_examples=200, deadline=None)
@given(words)
def test_word_tokens_survive_detokenize_then_tokenize(tokens):
    assert tokenize(detokenize(tokens, "word"), "word") == tokens


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_unseen_text_maps_to_unk_and_never_raises(text):
    vocab = Vocab.build(["abc"], "char")
    ids = vocab.encode(text)
    assert all(i == UNK or 4 <= i < len(vocab) for i in ids)
    assert len(vocab.decode(ids)) == len(ids)


def test_min_freq_and_specials():
    vocab = Vocab.build(["aab", "ac"], "char", min_freq=2)
    assert vocab.tokens == ["<pad>", "<s>", "</s>", "<unk>", "a"]
    assert vocab.encode("abc") == [4, UNK, UNK]


def test_decode_stops_at_eos_and_skips_padding():
    vocab = Vocab.build(["ab"], "char")
    a, b = vocab.encode("ab")
    assert vocab.decode([a, PAD, b, EOS, a]) == "ab"


def test_json_round_trip(tmp_path):
    vocab = Vocab.build(["Tom likes 我们."], "word")
    (tmp_path / "v.json").write_text(vocab.to_json(), encoding="utf-8")
    loaded = Vocab.load(tmp_path / "v.json")
    assert loaded.tokens == vocab.tokens and loaded.level == "word"
    assert loaded.encode("Tom 我们") == vocab.encode("Tom 我们")


def test_a_big_corpus_learns_its_pieces_from_a_seeded_sample_and_counts_every_word(monkeypatch):
    from engine.data import vocab as vocab_module
    from engine.data.vocab import SubwordVocab

    texts = [f"the cat number {i} sat on mat{i % 7}." for i in range(400)] + ["zebra crossing."]
    trainer, seen = vocab_module.sentencepiece.SentencePieceTrainer.train, []

    def counting(sentence_iterator, **options):  # the real trainer, told how many texts it got
        sentences = list(sentence_iterator)
        seen.append(len(sentences))
        return trainer(sentence_iterator=iter(sentences), **options)

    monkeypatch.setattr(vocab_module.sentencepiece.SentencePieceTrainer, "train", counting)
    monkeypatch.setattr(vocab_module, "PIECE_SAMPLE", 100)
    first = SubwordVocab.train(texts, 120, chinese=False)
    second = SubwordVocab.train(texts, 120, chinese=False)
    assert seen == [100, 100] and first.to_json() == second.to_json()  # a seeded sample: the same vocabulary
    assert first.words["zebra"] == 1 and first.words["cat"] == 400  # every text's words are counted
    monkeypatch.setattr(vocab_module, "PIECE_SAMPLE", 10_000)
    SubwordVocab.train(texts, 120, chinese=False)
    assert seen[-1] == 401  # a corpus under the sample size: every text
