"""The peers' virtual environments (benchmarks/peers.py --part setup): each toolkit in a venv of
its own under .peers/ (ignored by git), pinned, with the CPU build of torch; the project's own
environment never gets torch.

What each needs on today's torch (2.13, the CPU wheel this machine offers):
- JoeyNMT 2.3.0 imports importlib_metadata without declaring it, and calls
  SentencePieceProcessor.SetVocabulary, which sentencepiece 0.2.2 dropped: 0.2.1 pinned.
- OpenNMT-py 3.5.1 pins torch < 2.3, whose PyPI wheels are CUDA builds of several GB: installed
  with --no-deps and its requirements named here. Its checkpoints pickle an argparse.Namespace,
  which torch ≥ 2.6 refuses to load by default (weights_only): its tools run with
  TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 (peers_toolkits.py), the switch torch gives for that.
- CTranslate2's converter refuses OpenNMT-py 3.5.1's default attention name
  ("scaled-dot-flash", OpenNMT/CTranslate2#1702): our OpenNMT-py config names "scaled-dot", the
  same weights and arithmetic.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOME = ROOT / ".peers"
VENVS = {"joeynmt": HOME / "joeynmt", "onmt": HOME / "onmt"}
TORCH = "torch==2.13.0"
SENTENCEPIECE = "sentencepiece==0.2.1"
PACKAGES = {
    "joeynmt": [["joeynmt==2.3.0", "importlib_metadata==10.2.0", SENTENCEPIECE, "sacrebleu==2.6.0"]],
    "onmt": [
        ["--no-deps", "OpenNMT-py==3.5.1"],
        ["configargparse", "ctranslate2==4.8.5", "tensorboard", "pyonmttok>=1.37,<2", "pyyaml", "sacrebleu==2.6.0", "rapidfuzz",
         "pyahocorasick", "six", "flask", "waitress", "spacy", "fasttext-wheel", SENTENCEPIECE],
    ],
}
VERSIONED = ("torch", "joeynmt", "OpenNMT-py", "ctranslate2", "sentencepiece")
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # (every row and decoder: one core, one thread)
PEER_ENVIRONMENT = {**ONE_THREAD, "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}  # (see the module's docstring)


def pip(venv: Path, *arguments: str) -> None:
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", *arguments], check=True)


def setup(log) -> None:
    """Make each venv that is missing (a venv that imports its toolkit is kept)."""
    for name, venv in VENVS.items():
        if (venv / "bin" / "python").exists() and toolkit_imports(name):
            log(f"{venv} is ready")
            continue
        log(f"making {venv}")
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        pip(venv, TORCH)  # first, so that nothing after it asks for another torch
        for packages in PACKAGES[name]:
            pip(venv, *packages)
        if not toolkit_imports(name):
            raise SystemExit(f"{name} does not import in {venv}")


def toolkit_imports(name: str) -> bool:
    module = {"joeynmt": "joeynmt.training", "onmt": "onmt.bin.train"}[name]
    python = VENVS[name] / "bin" / "python"
    return subprocess.run([str(python), "-c", f"import {module}"], capture_output=True).returncode == 0


def versions() -> dict:
    """The versions each venv holds of what the results depend on."""
    found = {}
    for name, venv in VENVS.items():
        listed = subprocess.run([str(venv / "bin" / "pip"), "list", "--format", "json"], capture_output=True, text=True)
        if listed.returncode == 0:
            found[name] = {p["name"]: p["version"] for p in json.loads(listed.stdout) if p["name"] in VERSIONED}
    return found
