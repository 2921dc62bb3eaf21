"""Installed, not cloned: a built wheel carries the shipped models and translates with them
from any working directory."""

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "checkpoints" / "default" / "best.keras"


@pytest.mark.skipif(not SHIPPED.exists(), reason="the shipped model is not in this checkout")
def test_the_wheel_brings_its_models_and_translates_outside_the_checkout(tmp_path):
    dist = tmp_path / "dist"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)],
        capture_output=True, text=True, timeout=600,
    )
    assert built.returncode == 0, built.stderr
    wheel = next(dist.glob("seq2seq-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for model in ("default", "default-zh-en"):
        assert f"engine/shipped/{model}/best.keras" in names and f"engine/shipped/{model}/README.md" in names
    assert not any(name.endswith("last.keras") or "/backup/" in name for name in names)

    # A fresh environment outside the checkout. Its own site-packages gets the wheel; the
    # dependencies (TensorFlow is 2 GB) come from this environment's site-packages through a
    # .pth line, which adds the folder but not its .pth files, so the checkout's editable
    # install stays out of it.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    target = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], capture_output=True, text=True, check=True)
    Path(target.stdout.strip(), "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = subprocess.run([python, "-m", "pip", "install", "--no-deps", "-q", str(wheel)], capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stderr

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("SEQ2SEQ_MODEL", "PYTHONPATH")}
    env["SEQ2SEQ_CHECKPOINTS"] = str(elsewhere / "no-checkpoints")  # nothing there: the package's models answer
    where = subprocess.run([python, "-c", "import engine; print(engine.__file__)"], capture_output=True, text=True, cwd=elsewhere, env=env)
    assert str(venv) in where.stdout, where.stdout  # the wheel's engine, not the checkout's
    chat = subprocess.run(
        [venv / "bin" / "seq2seq-chat", "--beam", "1"], input="I love you.\n我爱你。\n",
        capture_output=True, text=True, cwd=elsewhere, env=env, timeout=300,
    )
    assert chat.returncode == 0, chat.stderr
    chinese, english = chat.stdout.splitlines()
    assert "爱" in chinese and "love" in english.lower(), chat.stdout
