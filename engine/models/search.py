"""Greedy and beam search, written once over the decoder interface every model offers:

    memory = model.encode_memory(src)               # once per batch; nested tensors, batch first
    state = model.initial_state(memory, max_steps)  # a flat list of tensors, batch first
    logits, state, weights = model.step(tokens, state, memory, t)   # one output position t

A recurrent model's state is its cells' states (its memory holds the encoder outputs); a
Transformer's is its key/value cache. Search never looks inside either: it only tiles them for
beams and reorders their rows. Both functions are meant to run inside one `tf.function`
(compiled with XLA by `engine.decoding.translate.Translator`): a `tf.while_loop` runs until every sentence
has produced EOS, with no Python per token.

The repetition guard (`no_repeat`): a token that would complete an n-gram the hypothesis
already holds is never chosen (n tokens: characters or subword pieces of about a word), and no
output runs longer than `ratio` × its source length + `extra` tokens (it ends there). A
hypothesis that never repeats an n-gram is never changed by it (in greedy search, exactly).

Shapes: B batch, K beam, S source length, T output steps, V target vocabulary.
"""

from __future__ import annotations

import tensorflow as tf

from engine.data.vocab import BOS, EOS, PAD

NEG_INF = -1e9


def output_limits(src, max_steps, ratio, extra):
    """The most output tokens of each sentence (B,): ratio × its source length + extra, at most
    max_steps. ratio 0 turns the bound off."""
    if not ratio:
        return tf.fill([tf.shape(src)[0]], max_steps)
    source_length = tf.reduce_sum(tf.cast(tf.not_equal(src, PAD), tf.float32), -1)
    return tf.minimum(tf.cast(tf.math.ceil(ratio * source_length + extra), tf.int32), max_steps)


def repeated_ngrams(hyps, t, n, vocab):
    """hyps (R, T): tokens written at columns < t. → (R, V) True where the token would complete an
    n-gram that the row already holds (its last n-1 tokens occurred before, followed by it)."""
    rows, width = tf.shape(hyps)[0], tf.shape(hyps)[1]
    start = tf.maximum(t - (n - 1), 0)
    tail = tf.gather(hyps, start + tf.range(n - 1), axis=1)  # (R, n-1): the last n-1 tokens
    match = tf.ones([rows, width], tf.bool)
    for k in range(n - 1):  # window starting at column j equals the tail
        match = tf.logical_and(match, tf.equal(tf.roll(hyps, -k, axis=1), tail[:, k : k + 1]))
    columns = tf.range(width)
    match = tf.logical_and(match, (columns + n - 1 < t)[None])  # the token after the window is written
    following = tf.roll(hyps, -(n - 1), axis=1)  # (R, T): the token after each window
    indices = tf.stack([tf.broadcast_to(tf.range(rows)[:, None], [rows, width]), following], -1)
    banned = tf.scatter_nd(tf.reshape(indices, [-1, 2]), tf.reshape(tf.cast(match, tf.float32), [-1]), [rows, vocab])
    return tf.logical_and(banned > 0, t >= n - 1)


def placeholder_rule(src, copies, vocab, repeat: int = 1):
    """What the placeholder rule needs for the whole search, made once: (columns (P, V), one-hot
    rows of the placeholders' target ids; absent (R, P), 1 where the row's source lacks
    placeholder p), R = B × repeat. copies: the placeholders' (source ids (P,), target ids (P,)),
    or None (no rule)."""
    if copies is None:
        return None
    sources, targets = copies
    absent = tf.logical_not(tf.reduce_any(tf.equal(src[:, :, None], sources[None, None]), axis=1))  # (B, P)
    return targets, tf.one_hot(targets, vocab), tf.repeat(tf.cast(absent, tf.float32), repeat, axis=0)


def _without_used_placeholders(log_probs, hyps, rule):
    """log_probs (R, V) with NEG_INF on each placeholder the row's source lacks or the row has
    already written: a placeholder stands for one span of its source, so it is written once (a
    second copy would take the place of a word, and one the source lacks stands for nothing).
    Unwritten columns of hyps are PAD, never a placeholder."""
    targets, columns, absent = rule
    written = tf.cast(tf.reduce_any(tf.equal(hyps[:, :, None], targets[None, None]), axis=1), tf.float32)  # (R, P)
    return log_probs + tf.cast(tf.matmul(tf.maximum(absent, written), columns) * NEG_INF, log_probs.dtype)


def _guarded(log_probs, hyps, t, limits, no_repeat, vocab, rule=None):
    """log_probs (R, V) with repeated n-grams and used or absent placeholders (`placeholder_rule`)
    at NEG_INF, and only EOS left where a row has reached its limit (R,)."""
    if no_repeat > 1:
        log_probs = tf.where(repeated_ngrams(hyps, t, no_repeat, vocab), NEG_INF, log_probs)
    if rule is not None:
        log_probs = _without_used_placeholders(log_probs, hyps, rule)
    only_eos = tf.one_hot(EOS, vocab, on_value=0.0, off_value=NEG_INF)
    return tf.where((t >= limits - 1)[:, None], only_eos[None], log_probs)


def greedy(model, src, max_steps, choice_bias, no_repeat=0, ratio=0.0, extra=0, copies=None):
    """src (B, S) → ids (B, T), total log-prob (B,), lengths (B,) (EOS counted).

    choice_bias (V,) is added to the logits before the argmax (−inf on tokens never to be
    chosen); the log-probabilities are the model's own. no_repeat, ratio, extra, copies: the
    guard (copies: the placeholders' source and target ids, each written at most once)."""
    memory = model.encode_memory(src)
    states = model.initial_state(memory, max_steps)
    batch = tf.shape(src)[0]
    vocab = model.tgt_vocab_size
    rule = placeholder_rule(src, copies, vocab)
    limits = output_limits(src, max_steps, ratio, extra)
    tokens = tf.fill([batch], BOS)
    finished = tf.zeros([batch], tf.bool)
    log_prob = tf.zeros([batch])
    length = tf.zeros([batch], tf.int32)
    hyps = tf.zeros([batch, max_steps], tf.int32)

    def body(t, tokens, states, finished, log_prob, length, hyps):
        logits, states, _ = model.step(tokens, states, memory, t)
        log_probs = tf.nn.log_softmax(logits)
        chosen = tf.argmax(_guarded(logits + choice_bias, hyps, t, limits, no_repeat, vocab, rule), -1, output_type=tf.int32)
        chosen = tf.where(finished, PAD, chosen)
        step_lp = tf.gather(log_probs, chosen, batch_dims=1)
        live = tf.logical_not(finished)
        log_prob += tf.where(live, step_lp, 0.0)
        length += tf.cast(live, tf.int32)
        finished = tf.logical_or(finished, tf.equal(chosen, EOS))
        hyps += chosen[:, None] * tf.one_hot(t, max_steps, dtype=tf.int32)  # column t = chosen
        return t + 1, chosen, states, finished, log_prob, length, hyps

    def cond(t, tokens, states, finished, *_):
        return tf.logical_and(t < max_steps, tf.logical_not(tf.reduce_all(finished)))

    _, _, _, _, log_prob, length, hyps = tf.while_loop(
        cond, body, (tf.constant(0), tokens, states, finished, log_prob, length, hyps),
        maximum_iterations=max_steps,
    )
    # Unwritten steps (the loop stopped early) read as PAD.
    return hyps, log_prob, length


def beam_search(model, src, beam, max_steps, choice_bias, no_repeat=0, ratio=0.0, extra=0, copies=None):
    """Batched beam search. src (B, S) → ids (B, K, T), log-prob (B, K), lengths (B, K)."""
    batch = tf.shape(src)[0]
    vocab = model.tgt_vocab_size
    rule = placeholder_rule(src, copies, vocab, repeat=beam)  # rows (B*K, …), as the beams are laid out
    limits = tf.repeat(output_limits(src, max_steps, ratio, extra), beam)  # (B*K,)
    # Every beam of a sentence reads the same memory: tile its rows to (B*K, ...) once; the
    # state starts from the tiled memory.
    memory = tf.nest.map_structure(lambda x: tf.repeat(x, beam, axis=0), model.encode_memory(src))
    states = model.initial_state(memory, max_steps)
    # Only the first beam is live at the start, so the K beams do not start as copies.
    scores = tf.tile(tf.concat([[0.0], tf.fill([beam - 1], NEG_INF)], 0)[None], [batch, 1])
    tokens = tf.fill([batch * beam], BOS)
    finished = tf.zeros([batch, beam], tf.bool)
    length = tf.zeros([batch, beam], tf.int32)
    hyps = tf.zeros([batch, beam, max_steps], tf.int32)
    # A finished beam may only extend with PAD at no cost, so its score stays fixed.
    finished_row = tf.one_hot(PAD, vocab, on_value=0.0, off_value=NEG_INF)

    def body(t, tokens, states, scores, finished, length, hyps):
        logits, states, _ = model.step(tokens, states, memory, t)
        log_probs = _guarded(tf.nn.log_softmax(logits) + choice_bias, tf.reshape(hyps, [batch * beam, max_steps]), t, limits, no_repeat, vocab, rule)
        log_probs = tf.reshape(log_probs, [batch, beam, vocab])
        log_probs = tf.where(finished[..., None], finished_row, log_probs)
        candidates = tf.reshape(scores[..., None] + log_probs, [batch, beam * vocab])
        scores, flat = tf.math.top_k(candidates, k=beam)  # (B, K)
        origin, chosen = flat // vocab, flat % vocab
        # Reorder everything by the beam each candidate extends.
        rows = tf.reshape(origin + tf.range(batch)[:, None] * beam, [-1])
        states = [tf.ensure_shape(tf.gather(s, rows), s.shape) for s in states]
        hyps = tf.gather(hyps, origin, batch_dims=1)
        was_finished = tf.gather(finished, origin, batch_dims=1)
        length = tf.gather(length, origin, batch_dims=1) + tf.cast(tf.logical_not(was_finished), tf.int32)
        hyps += chosen[..., None] * tf.one_hot(t, max_steps, dtype=tf.int32)  # column t = chosen
        finished = tf.logical_or(was_finished, tf.equal(chosen, EOS))
        return t + 1, tf.reshape(chosen, [-1]), states, scores, finished, length, hyps

    def cond(t, tokens, states, scores, finished, *_):
        return tf.logical_and(t < max_steps, tf.logical_not(tf.reduce_all(finished)))

    _, _, _, scores, _, length, hyps = tf.while_loop(
        cond, body, (tf.constant(0), tokens, states, scores, finished, length, hyps),
        maximum_iterations=max_steps,
    )
    return hyps, scores, length


def greedy_search(model, src, beam, max_steps, choice_bias, no_repeat=0, ratio=0.0, extra=0, copies=None):
    """Greedy search with beam search's signature and shapes (K = 1): ids (B, 1, T), log-prob
    (B, 1), lengths (B, 1)."""
    ids, log_prob, length = greedy(model, src, max_steps, choice_bias, no_repeat, ratio, extra, copies)
    return ids[:, None], log_prob[:, None], length[:, None]


# The decoding strategies by name (DecodeOptions.strategy): each takes (model, src, beam,
# max_steps, choice_bias, no_repeat, ratio, extra, copies) and returns ids (B, K, T), scores (B, K),
# lengths (B, K). The translator compiles one graph per strategy when it is first used.
STRATEGIES = {"greedy": greedy_search, "beam": beam_search}


def forced_attention(model, src, tgt_in):
    """Teacher-forced pass over chosen outputs → attention weights (B, T, S), or an empty tensor
    for a model without attention."""
    _, weights = model.teacher_forced(src, tgt_in)
    return weights if weights is not None else tf.zeros([0])


def guard_settings(vocab) -> dict:
    """The repetition guard for a target vocabulary: the n-gram never repeated (Chinese: 4
    characters or pieces; English: 3 words or pieces, since most English pieces are whole words:
    with 4 pieces a repeated three-word phrase got through, in 27% of zh→en outputs of 600
    Chinese lines of 30 characters or more, 4.7% with 3, valid BLEU 35.46 → 35.48) and the output
    bound (3 × source tokens + 10)."""
    return {"no_repeat": 4 if vocab.chinese else 3, "ratio": 3.0, "extra": 10}
