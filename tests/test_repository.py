"""What the repository itself ships: no file outside the tests names this machine's folders (its
checkout's parent, a temporary folder), and the README stays a front door."""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def tracked_files() -> list[Path]:
    try:
        listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the tracked files cannot be listed")
    return [ROOT / name for name in listed.splitlines() if not name.startswith("tests/")]


def test_no_tracked_file_holds_a_path_of_this_machine():
    machine = [str(ROOT.parent) + "/", tempfile.gettempdir().rstrip("/") + "/", "/tmp/"]
    found = []
    for path in tracked_files():
        if path.is_file():
            text = path.read_bytes().decode("utf-8", "ignore")
            found += [f"{path.relative_to(ROOT)}: {marker}" for marker in machine if marker in text]
    assert found == []


def test_the_readme_is_a_front_door():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.encode()) <= 20_000
    for page in ("usage", "models", "results", "safety", "architecture"):
        assert f"docs/{page}.md" in readme and (ROOT / "docs" / f"{page}.md").is_file()


def package_files() -> list[Path]:
    """The Python files of the two packages, engine/ and repl/."""
    return sorted([*ROOT.glob("engine/**/*.py"), *ROOT.glob("repl/**/*.py")])


def project_imports() -> dict[str, set[str]]:
    """Each module of engine/ and repl/ → the project modules it imports anywhere in its text
    (at the top or inside a function: a cycle hidden in a function is still a cycle)."""
    import ast

    modules = {}
    for path in package_files():
        parts = path.relative_to(ROOT).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found |= {f"{node.module}.{alias.name}" for alias in node.names} | {node.module}
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def test_no_import_cycle_and_engine_never_imports_the_tools():
    graph = project_imports()
    assert not [(m, d) for m, deps in graph.items() if m.startswith("engine") for d in deps if d.startswith("repl")]
    done, cycles = set(), []

    def visit(module, path):
        if module in path:
            cycles.append(" → ".join(path[path.index(module):] + [module]))
            return
        if module in done:
            return
        for dep in sorted(graph[module]):
            if not dep.startswith(module + "."):  # (a package importing its own submodules is no cycle)
                visit(dep, path + [module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])
    assert cycles == []


def test_no_module_of_the_packages_is_over_350_lines():
    long = {str(p.relative_to(ROOT)): n for p in package_files() if (n := len(p.read_text(encoding="utf-8").splitlines())) > 350}
    assert long == {}


def test_the_han_range_is_written_in_one_module():
    writers = [str(p.relative_to(ROOT)) for p in package_files() if re.search(r"\\u4e00|一-", p.read_text(encoding="utf-8"))]
    assert writers == ["engine/text/script.py"]


@pytest.mark.parametrize("model", ["default", "default-zh-en"])
def test_each_model_cards_command_makes_the_shipped_config_but_for_the_budget(model):
    """The command a shipped model's card gives, parsed by seq2seq-train with a tiny budget,
    makes the config the model was trained with (config.json), the budget aside; for a model
    continued after that training, with the settings run.json says the continuation changed."""
    import dataclasses
    import json
    import shlex

    from engine.config import RunConfig
    from repl.cli import config_from_args, train_parser

    folder = ROOT / "checkpoints" / model
    if not (folder / "config.json").exists():
        pytest.skip(f"no shipped model {model} in this checkout")
    card = (folder / "README.md").read_text(encoding="utf-8")
    command = re.search(r"`(?:\w+=\S+ )*seq2seq-train ([^`]+)`", card).group(1)
    config = config_from_args(train_parser().parse_args([*shlex.split(command), "--max-minutes", "0.1"]))
    shipped = RunConfig.from_dict(json.loads((folder / "config.json").read_text(encoding="utf-8")))
    assert config.max_minutes == 0.1
    continued = json.loads((folder / "run.json").read_text(encoding="utf-8")).get("continued")
    if continued:
        config = dataclasses.replace(config, **continued["changed"])
    assert dataclasses.replace(config, max_minutes=None) == dataclasses.replace(shipped, max_minutes=None)


@pytest.mark.xdist_group("grouping-check")
def test_tests_that_share_a_trained_model_share_a_worker(request):
    """Under `--dist loadgroup` xdist marks each grouped test's id with its group and sends a
    group to one worker; when that silently stops (pytest 9 with xdist 3.8: pytest-xdist#1386)
    every toy model trains once per worker and the suite takes twice as long."""
    if not (hasattr(request.config, "workerinput") and request.config.getvalue("loadgroup")):
        pytest.skip("not running under xdist's --dist loadgroup")
    assert request.node.nodeid.endswith("@grouping-check")
