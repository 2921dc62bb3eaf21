"""What the chat shows besides translations: the model card (/info), the n-best table
(/nbest), and the attention of a translation (/align) as a heatmap and as text."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from repl.console import console, key_value_table


def n_best_table(result) -> Table:
    table = Table(title=f"{len(result.n_best)} best: {result.source}", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("translation")
    table.add_column("score", justify="right")
    for rank, hypothesis in enumerate(result.n_best, start=1):
        table.add_row(str(rank), hypothesis.text, f"{hypothesis.score:.3f}")
    return table


def _number(value, spec: str = ",") -> str:
    """A number from a run's JSON as text ("?" when the file holds something else)."""
    return format(value, spec) if isinstance(value, (int, float)) and not isinstance(value, bool) else "?"


def model_card(translator) -> Table:
    config, run = translator.config, translator.run
    try:
        facts, scores = run.facts(), run.evaluation()
    except ValueError as err:  # a damaged run.json or eval.json: the card says so, the chat goes on
        facts, scores = {"licence": None}, {}
        console.print(f"[yellow]warning:[/] {err}", soft_wrap=True)
    direction = {"en-zh": "English → Chinese", "zh-en": "Chinese → English"}.get(
        translator.direction, "reverse (target → source)" if config.reverse else "source → target"
    )
    split_sizes = facts.get("split") if isinstance(facts.get("split"), dict) else {}
    corpora = " + ".join([config.corpus, *config.extra_corpora])
    seconds = facts.get("training_seconds")
    rows = [
        ("run", run.path),
        ("corpus", f"{corpora} ({_number(split_sizes.get('train'))} training pairs)" if split_sizes else corpora),
        ("direction", direction),
        ("model", f"{translator.model.describe()}; {config.level} level"),
        ("parameters", _number(facts.get("params"))),
        ("vocabulary", f"{len(translator.src_vocab):,} source / {len(translator.tgt_vocab):,} target tokens"),
        ("training", f"{_number(facts.get('epochs_done'))} epochs, {_number(seconds / 60 if isinstance(seconds, (int, float)) else None, '.1f')} min"),
    ]
    for split, report in scores.items():
        if not isinstance(report, dict):
            continue
        decoding = report.get("decoding") if isinstance(report.get("decoding"), dict) else {}
        rows.append((f"scores ({split})", f"BLEU {report.get('bleu', '?')}  chrF {report.get('chrf', '?')}  (beam {decoding.get('beam', '?')}; {report.get('bleu_signature', '')})"))
        aligned = (report.get("alignment") or {}).get("name_alignment") if isinstance(report.get("alignment"), dict) else None
        if isinstance(aligned, (int, float)):
            rows.append((f"name alignment ({split})", f"{aligned:.2f} of name characters look at the English name"))
    if facts.get("licence"):
        rows.append(("data licence", str(facts["licence"])))
    for extra in facts.get("extra") or []:
        if isinstance(extra, dict) and extra.get("licence"):
            rows.append(("more data", f"{extra.get('corpus')}: {extra['licence']}"))
    return key_value_table("model card", rows)


def shown(token: str) -> str:
    """A token as a person reads it: SentencePiece's word-start mark ▁ left out (a lone one,
    the space before a placeholder, shows as ␣)."""
    return token.lstrip("▁") or ("␣" if token else token)


def alignment_peaks(result) -> str:
    """Where each output token looks hardest, as text: `汤→tom 姆→tom 有→has …`."""
    weights = result.attention
    sources = [shown(t) for t in result.source_tokens[: weights.shape[1]]]
    outputs = [shown(t) for t in [*result.tokens, "</s>"][: weights.shape[0]]]
    return "peaks: " + " ".join(f"{token}→{sources[int(row.argmax())]}" for token, row in zip(outputs, weights))


def alignment_heatmap(result) -> Table:
    """Rows: output tokens (and EOS); columns: source tokens; cell shade = attention weight."""
    weights = result.attention
    table = Table(title="attention (rows: output, columns: input)", title_justify="left", padding=(0, 0))
    table.add_column("")
    for token in (shown(t) for t in result.source_tokens[: weights.shape[1]]):
        table.add_column(token, justify="center", min_width=2)
    for row, token in enumerate(shown(t) for t in [*result.tokens, "</s>"][: weights.shape[0]]):
        cells = []
        for value in weights[row]:
            level = int(round(float(value) * 255))
            rounded = f"{value:.1f}"  # "0.7" → ".7", keeps the columns narrow
            label = "1" if rounded == "1.0" else rounded[1:]
            cells.append(Text(label, style=f"on rgb({level},{level // 3},{255 - level})"))
        table.add_row(token, *cells)
    return table
