"""Each peer as benchmarks/peers.py drives it: its config (written as JSON, which YAML reads), its
training for a time budget that starts at its first training step, its best checkpoint by its
own validation, and its beam search (beam 4) over our test sources into `test.hyp`.

Sizes: our recipe's models have 2.6–2.8 M parameters; each peer's model is sized near that (a
Transformer of 3 + 3 layers, 128 wide, 4 heads, feed-forward 512: 2.95 M with our vocabularies;
JoeyNMT's recurrent model a bidirectional LSTM encoder and an LSTM decoder with Luong attention,
256 units). Recipes follow each toolkit's own small-data configurations (JoeyNMT's
configs/iwslt14_deen_*.yaml, OpenNMT-py's Transformer quickstart), scaled to this size: Adam
(0.9, 0.98), inverse-square-root warm-up, label smoothing 0.1, batches of ~2,048 tokens.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

from benchmarks.peers_setup import PEER_ENVIRONMENT, VENVS

STOPPED = "after its first validation past the budget"  # (each row says how it stopped: peers.json, the table)
MAX_OUTPUT = 100  # pieces, for every decoder (ours stops by its own length rule)
SAVED = re.compile(r"(?:Saving checkpoint|Checkpoint saved in) (\S+?)\.?$")  # (both toolkits' log lines)
# Warm-up steps of every peer: our recipe's 400. The toolkits' own configs warm up over 4,000 to
# 8,000 steps, made for GPUs: 12 minutes on one core are 1,100 (JoeyNMT) to 1,800 (OpenNMT-py)
# steps. Peak learning rate 2e-3 in JoeyNMT, 2.2e-3 in OpenNMT-py (noam factor 0.5 at width 128:
# 0.5 · 128^-½ · 400^-½).
WARMUP = 400


def pieces_to_text(line: str) -> str:
    """SentencePiece pieces back to text, for an output a toolkit left in pieces."""
    return "".join(line.split(" ")).replace("▁", " ").strip() if "▁" in line else line


class Toolkit:
    name = ""
    venv = ""  # (the name of its virtual environment in peers_setup.VENVS)
    start_marker = re.compile("")  # the log line of the first training step: the budget's clock starts
    params_pattern = re.compile("")

    def __init__(self, data: Path, folder: Path, languages: tuple[str, str], minutes: float):
        self.data, self.folder = data, folder
        # validations in proportion to the budget: every 300 steps in 12 minutes (2 to 5 times at
        # these toolkits' pace on one core)
        self.validate_every = max(100, round(minutes * 25))
        self.source, self.target = languages
        self.log_file = folder / "train.log"

    def tool(self, name: str) -> str:
        return str(VENVS[self.venv] / "bin" / name)

    def environment(self) -> dict:
        return {**os.environ, **PEER_ENVIRONMENT}

    def write_config(self, name: str, config: dict) -> Path:
        path = self.folder / name
        # (JSON is YAML, except that YAML 1.1, which both toolkits read, wants a dot in 1.0e-06)
        text = re.sub(r"(?<=[\s\[:])(-?\d+)e([-+]\d+)", r"\1.0e\2", json.dumps(config, indent=1, ensure_ascii=False))
        path.write_text(text + "\n", encoding="utf-8")
        return path

    def train_for(self, command: list[str], seconds: float, log) -> float:
        """Run the training command, its output into train.log, until its first validation that
        ends after `seconds` of training (the clock starts at its first training step), then kill
        it: the rule ours follows, which stops at the end of the epoch (and its validation) that
        passes the budget. Returns the training seconds it had; `self.saved` holds when (seconds
        since the first step) each checkpoint was saved."""
        started, self.saved = None, {}
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   env=self.environment(), cwd=self.folder, start_new_session=True)
        stop = threading.Event()

        def read():
            nonlocal started
            with open(self.log_file, "w", encoding="utf-8") as out:
                for line in process.stdout:
                    out.write(line)
                    out.flush()
                    if started is None and self.start_marker.search(line):
                        started = time.monotonic()
                        log(f"{self.name}: training started; {seconds / 60:g} min from now")
                    elif started is not None and (found := SAVED.search(line)):
                        self.saved[Path(found.group(1)).name] = time.monotonic() - started
            stop.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        validations_at_budget = None
        try:
            while not stop.wait(1.0):
                if started is None:
                    continue
                spent = time.monotonic() - started
                if spent >= seconds and validations_at_budget is None:
                    validations_at_budget = self.validations_done()
                if validations_at_budget is not None and (self.validations_done() > validations_at_budget or spent > 1.5 * seconds):
                    break
        finally:  # (at the budget, or when this benchmark is interrupted: the peer runs in a session of its own)
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)  # (the toolkit and any helper process it started)
        process.wait()
        reader.join(10)
        if started is None:
            raise RuntimeError(f"{self.name} never started training (exit {process.returncode}); see {self.log_file}")
        if validations_at_budget is None:
            raise RuntimeError(f"{self.name} ended before its budget (exit {process.returncode}); see {self.log_file}")
        return time.monotonic() - started

    def validations_done(self) -> int:
        """How many validations have ended, their checkpoint saved whole."""
        raise NotImplementedError

    def params(self) -> int | None:
        found = self.params_pattern.findall(self.log_file.read_text(encoding="utf-8"))
        return int(found[-1].replace(",", "")) if found else None

    def translate(self, checkpoint: Path) -> None:
        """Our test sources translated with `checkpoint` into test.hyp.raw (then `write_hypotheses`)."""
        raise NotImplementedError

    def write_hypotheses(self) -> None:
        """test.hyp.raw as text, a line per test source, into test.hyp."""
        lines = (self.folder / "test.hyp.raw").read_text(encoding="utf-8").split("\n")[:-1]
        (self.folder / "test.hyp").write_text("".join(pieces_to_text(line) + "\n" for line in lines), encoding="utf-8")

    def train(self, seconds: float, log) -> tuple[Path, float]:
        raise NotImplementedError

    def train_and_translate(self, seconds: float, log) -> dict:
        """Train, translate the test split with the best checkpoint into test.hyp; the facts."""
        checkpoint, trained = self.train(seconds, log)
        started = time.perf_counter()
        self.translate(checkpoint)
        self.write_hypotheses()
        decode = time.perf_counter() - started
        kept = checkpoint.resolve().name
        return {"params": self.params(), "training_minutes": round(trained / 60, 1), "decode_seconds": round(decode, 1),
                "checkpoint": kept, "kept_at_minutes": round(self.saved[kept] / 60, 1) if kept in self.saved else None,
                "stopped": STOPPED}


# ----------------------------------------------------------------------------------------------
# JoeyNMT 2.3.0


class JoeyNMT(Toolkit):
    name = venv = "joeynmt"
    start_marker = re.compile(r"EPOCH 1\b")
    params_pattern = re.compile(r"Total params: ([\d,]+)")

    def side(self, language: str) -> dict:
        return {"lang": language, "level": "bpe", "lowercase": False, "max_length": MAX_OUTPUT, "voc_min_freq": 1,
                "voc_limit": 10000, "tokenizer_type": "sentencepiece",
                "tokenizer_cfg": {"model_file": str(self.data / f"spm.{language}.model")}}

    def model(self) -> dict:
        layer = {"type": "transformer", "num_layers": 3, "num_heads": 4, "hidden_size": 128, "ff_size": 512,
                 "dropout": 0.2, "layer_norm": "pre", "embeddings": {"embedding_dim": 128, "scale": True, "dropout": 0.2}}
        return {"initializer": "xavier_uniform", "embed_initializer": "xavier_uniform", "bias_initializer": "zeros",
                "init_gain": 1.0, "embed_init_gain": 1.0, "tied_embeddings": False, "tied_softmax": True,
                "encoder": layer, "decoder": layer}

    def config(self) -> dict:
        return {
            "name": self.name, "joeynmt_version": "2.3.0", "model_dir": str(self.folder / "model"), "use_cuda": False,
            "fp16": False, "random_seed": 42,
            "data": {"train": str(self.data / "train"), "dev": str(self.data / "valid"), "dataset_type": "plain",
                     "sample_dev_subset": 300, "src": self.side(self.source), "trg": self.side(self.target)},
            "testing": {"n_best": 1, "beam_size": 4, "beam_alpha": 1.0, "batch_size": 64, "batch_type": "sentence",
                        "max_output_length": MAX_OUTPUT, "eval_metrics": ["bleu"],
                        "sacrebleu_cfg": {"tokenize": "zh" if self.target == "zh" else "13a"}},
            "training": {"optimizer": "adam", "adam_betas": [0.9, 0.98], "learning_rate": 2e-3, "learning_rate_min": 1e-6,
                         "scheduling": "warmupinversesquareroot", "learning_rate_warmup": WARMUP, "loss": "crossentropy",
                         "label_smoothing": 0.1, "batch_size": 2048, "batch_type": "token", "normalization": "tokens",
                         "epochs": 1000, "validation_freq": self.validate_every,
                         # JoeyNMT wants the validation interval a multiple of the logging one (1,125 at 45 min)
                         "logging_freq": math.gcd(100, self.validate_every), "early_stopping_metric": "bleu",
                         "keep_best_ckpts": 1, "overwrite": True, "shuffle": True, "clip_grad_norm": 5.0},
            "model": self.model(),
        }

    def validations_done(self) -> int:
        # (validations.txt gets its line after the validation's checkpoint is saved)
        path = self.folder / "model" / "validations.txt"
        return len(path.read_text(encoding="utf-8").splitlines()) if path.exists() else 0

    def train(self, seconds: float, log) -> tuple[Path, float]:
        config = self.write_config("config.yaml", self.config())
        trained = self.train_for([self.tool("python"), "-m", "joeynmt", "train", str(config), "-t"], seconds, log)
        best = self.folder / "model" / "best.ckpt"
        if not best.exists():
            raise RuntimeError(f"{self.name}: no validation finished within the budget (no {best})")
        return best, trained

    def translate(self, checkpoint: Path) -> None:
        with (open(self.data / f"test.{self.source}", "rb") as sources, open(self.folder / "test.hyp.raw", "wb") as out,
              open(self.folder / "translate.log", "wb") as log_file):
            # (stdout: with -o, JoeyNMT 2.3.0 fails after translating, on args.n_best)
            subprocess.run([self.tool("python"), "-m", "joeynmt", "translate", str(self.folder / "config.yaml")],
                           stdin=sources, stdout=out, stderr=log_file, env=self.environment(), cwd=self.folder, check=True)


class JoeyNMTRecurrent(JoeyNMT):
    """JoeyNMT's recurrent model (its iwslt14 RNN recipe's layout), our shipped models' kind."""

    name = "joeynmt-rnn"

    def model(self) -> dict:
        embeddings = {"embedding_dim": 128, "scale": False}
        return {"initializer": "xavier_uniform", "embed_initializer": "normal", "embed_init_weight": 0.1,
                "bias_initializer": "zeros", "init_rnn_orthogonal": False, "lstm_forget_gate": 1.0,
                "tied_embeddings": False, "tied_softmax": False,
                "encoder": {"type": "recurrent", "rnn_type": "lstm", "embeddings": embeddings, "hidden_size": 192,
                            "bidirectional": True, "dropout": 0.2, "num_layers": 1},
                "decoder": {"type": "recurrent", "rnn_type": "lstm", "embeddings": embeddings, "hidden_size": 256,
                            "attention": "luong", "dropout": 0.2, "hidden_dropout": 0.2, "num_layers": 1,
                            "input_feeding": True, "init_hidden": "bridge"}}


# ----------------------------------------------------------------------------------------------
# OpenNMT-py 3.5.1


class OpenNMT(Toolkit):
    name = venv = "onmt"
    start_marker = re.compile(r"Start training loop")
    params_pattern = re.compile(r"\* number of parameters: (\d+)")

    def subwords(self) -> dict:
        return {"src_subword_model": str(self.data / f"spm.{self.source}.model"),
                "tgt_subword_model": str(self.data / f"spm.{self.target}.model")}

    def config(self) -> dict:
        run = self.folder / "run"
        return {
            "save_data": str(run / "samples"), "src_vocab": str(run / "vocab.src"), "tgt_vocab": str(run / "vocab.tgt"),
            "src_vocab_size": 10000, "tgt_vocab_size": 10000, "share_vocab": False, "overwrite": True, **self.subwords(),
            "data": {"corpus_1": {"path_src": str(self.data / f"train.{self.source}"), "path_tgt": str(self.data / f"train.{self.target}"),
                                  "transforms": ["sentencepiece", "filtertoolong"]},
                     "valid": {"path_src": str(self.data / f"valid.{self.source}"), "path_tgt": str(self.data / f"valid.{self.target}"),
                               "transforms": ["sentencepiece"]}},
            "src_seq_length": MAX_OUTPUT, "tgt_seq_length": MAX_OUTPUT,
            "save_model": str(run / "model"), "save_checkpoint_steps": self.validate_every, "keep_checkpoint": -1, "train_steps": 1_000_000,
            "valid_steps": self.validate_every, "report_every": 100, "seed": 42, "world_size": 1, "num_workers": 0,
            "batch_type": "tokens", "batch_size": 2048, "valid_batch_size": 64, "bucket_size": 32768, "accum_count": [1],
            "optim": "adam", "adam_beta1": 0.9, "adam_beta2": 0.98, "learning_rate": 0.5, "decay_method": "noam",
            "warmup_steps": WARMUP, "label_smoothing": 0.1, "max_grad_norm": 0.0, "param_init": 0.0, "param_init_glorot": True,
            "normalization": "tokens",
            "model_type": "text", "encoder_type": "transformer", "decoder_type": "transformer", "enc_layers": 3, "dec_layers": 3,
            "heads": 4, "hidden_size": 128, "word_vec_size": 128, "transformer_ff": 512, "position_encoding": True,
            "dropout": [0.2], "attention_dropout": [0.1], "share_decoder_embeddings": True, "self_attn_type": "scaled-dot",
        }

    def validations_done(self) -> int:
        """Saved checkpoints whose file has stopped growing (OpenNMT-py logs "Saving checkpoint"
        before it writes the file; it saves at every validation)."""
        done = 0
        for name in list(self.saved):  # (a copy: the reader thread adds to it)
            with contextlib.suppress(FileNotFoundError):
                status = (self.folder / "run" / name).stat()
                done += status.st_size > 0 and time.time() - status.st_mtime > 2
        return done

    def train(self, seconds: float, log) -> tuple[Path, float]:
        config = self.write_config("config.yaml", self.config())
        subprocess.run([self.tool("onmt_build_vocab"), "-config", str(config), "-n_sample", "-1"], check=True,
                       env=self.environment(), cwd=self.folder, capture_output=True)
        trained = self.train_for([self.tool("onmt_train"), "-config", str(config)], seconds, log)
        return self.best_checkpoint(), trained

    def best_checkpoint(self) -> Path:
        """The checkpoint saved right after the validation with the lowest perplexity (OpenNMT-py
        validates, then saves, at the same steps; it keeps no "best" file of its own)."""
        scored, perplexity = [], None
        for line in self.log_file.read_text(encoding="utf-8").splitlines():
            if found := re.search(r"Validation perplexity: ([\d.]+)", line):
                perplexity = float(found.group(1))
            elif (found := re.search(r"Saving checkpoint (\S+)", line)) and perplexity is not None:
                scored.append((perplexity, Path(found.group(1))))
                perplexity = None
        kept = [(p, path) for p, path in scored if path.name in self.saved and path.exists()]
        if not kept:
            raise RuntimeError(f"{self.name}: no validated checkpoint within the budget; see {self.log_file}")
        return min(kept)[1]

    def translate(self, checkpoint: Path) -> None:
        subprocess.run([self.tool("onmt_translate"), "-model", str(checkpoint), "-src", str(self.data / f"test.{self.source}"),
                        "-output", str(self.folder / "test.hyp.raw"), "-beam_size", "4", "-batch_size", "64",
                        "-max_length", str(MAX_OUTPUT), "-max_length_ratio", "3", "-transforms", "sentencepiece",
                        *(item for key, value in self.subwords().items() for item in (f"-{key}", value))],
                       check=True, env=self.environment(), cwd=self.folder, capture_output=True)


class OpenNMTRecurrent(OpenNMT):
    """OpenNMT-py's recurrent model (its RNN defaults: a bidirectional LSTM encoder, an LSTM
    decoder with Luong's general attention, input feeding and a bridge), sized like ours, with
    Adam at a fixed 1e-3 and gradients clipped at norm 5 (the noam warm-up is the Transformer's)."""

    name = "onmt-rnn"

    def config(self) -> dict:
        transformer_only = ("heads", "transformer_ff", "self_attn_type", "enc_layers", "dec_layers", "hidden_size", "attention_dropout")
        config = {key: value for key, value in super().config().items() if key not in transformer_only}
        return config | {
            "encoder_type": "brnn", "decoder_type": "rnn", "rnn_type": "LSTM", "layers": 1, "enc_hid_size": 256, "dec_hid_size": 256,
            "word_vec_size": 128, "global_attention": "general", "input_feed": 1, "bridge": True, "position_encoding": False,
            "share_decoder_embeddings": False, "learning_rate": 1e-3, "decay_method": "none", "max_grad_norm": 5.0,
            "param_init": 0.1, "param_init_glorot": False,
        }


TOOLKITS = {"joeynmt": JoeyNMT, "joeynmt-rnn": JoeyNMTRecurrent, "onmt": OpenNMT, "onmt-rnn": OpenNMTRecurrent}
