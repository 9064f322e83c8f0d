"""The package's structure: one installed name, entry points, and the registries behind every choice."""

import ast
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from behavior_tokens.data import POSE_FORMATS
from behavior_tokens.lm import SCHEMES, TokenizerConfig
from behavior_tokens.quantize import FAMILIES, QuantizerConfig

ROOT = Path(__file__).resolve().parents[1]


def test_a_users_own_data_py_cannot_shadow_the_package(tmp_path):
    (tmp_path / "data.py").write_text("raise ImportError('the user file was imported')\n")
    (tmp_path / "lm").mkdir()
    (tmp_path / "lm" / "__init__.py").write_text("raise ImportError('the user folder was imported')\n")
    (tmp_path / "quantize.py").write_text("x = 1\n")
    code = ("import behavior_tokens.quantize as q, behavior_tokens.lm as lm; "
            "from behavior_tokens.data import PosePipeline; print(q.QuantizerConfig().groups, lm.SCHEMES['groups'].name)")
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-1500:]
    assert res.stdout.split() == ["2", "groups"]


def _cli(*args, cwd=None):
    exe = Path(sys.executable).with_name("behavior-tokens")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, cwd=cwd)


def test_console_entry_point_lists_and_runs_commands(tmp_path):
    res = _cli("--help")
    assert res.returncode == 0
    for name in ("train-quantizer", "export-tokens", "train-lm", "generate", "probe", "report", "describe-data"):
        assert name in res.stdout
    res = _cli("describe-data", "--source", "synthetic:2:1")
    assert res.returncode == 0, res.stderr
    assert "| train | 1 |" in res.stdout and "| test | 1 |" in res.stdout
    res = _cli("nope")
    assert res.returncode == 2 and res.stderr.strip().splitlines()[-1] == "error: nope: no such command (choose one above)"


@pytest.mark.parametrize("script, args, message", [
    ("train_quantizer.py", ["--max_steps", "0"], "error: --max_steps: must be >= 1, got 0 (give a value >= 1)"),
    ("train_quantizer.py", ["--family", "rnn"], "error: --family: invalid choice: 'rnn' (choose from 'gru', 'conv')"),
    ("export_tokens.py", ["--checkpoint", "x", "--output_dir", "y", "--scheme", "bogus"],
     "error: --scheme: invalid choice: 'bogus'"),
    ("train_lm.py", ["--n_embd", "30", "--n_head", "4"], "error: --n_embd: 30 is not divisible by --n_head 4"),
    ("generate_behavior.py", ["--lm", "x", "--top_p", "0"], "error: --top_p: must be > 0, got 0"),
])
def test_scripts_answer_bad_flags_with_one_line(script, args, message):
    res = subprocess.run([sys.executable, str(ROOT / "scripts" / script), *args], capture_output=True, text=True)
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and res.stderr.startswith(message), res.stderr


def test_choices_are_the_registries():
    hints = typing.get_type_hints(QuantizerConfig)
    assert typing.get_args(hints["family"]) == tuple(FAMILIES)
    assert set(typing.get_args(hints["pose_format"])) == {"auto", *POSE_FORMATS}
    assert typing.get_args(typing.get_type_hints(TokenizerConfig)["scheme"]) == tuple(SCHEMES)


# Rooms from the top of the house down: each imports only from the ones before it; ``generation`` and ``explorer``
# stand side by side (neither imports the other); ``peers`` (the tools compared with ours) comes last and nothing
# imports it.
LAYERS = ["core", "data", "quantize", "lm", "generation", "explorer", "peers"]


def _imports(path: Path) -> set[str]:
    """The behavior_tokens rooms a module imports (top-level or inside functions)."""
    rooms = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("behavior_tokens."):
            rooms.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            rooms |= {a.name.split(".")[1] for a in node.names if a.name.startswith("behavior_tokens.")}
    return rooms


def test_the_rooms_import_one_way():
    """core <- data <- quantize <- lm <- generation | explorer <- peers: no module imports a room below its own,
    the language model neither the renderer nor the explorer, and lm takes no run plumbing from quantize."""
    for i, room in enumerate(LAYERS):
        for path in (ROOT / room).glob("*.py"):
            below = _imports(path) & set(LAYERS[i + 1:])
            assert not below, (path, below)
            if room in ("generation", "explorer"):
                other = {"generation": "explorer", "explorer": "generation"}[room]
                assert other not in _imports(path), path
    plumbing = ("config import RunConfig", "checkpoint", "EpochSampler", "format_table", "available_trackers",
                "prepare_output_dir", "write_json_atomic")
    for path in (ROOT / "lm").glob("*.py"):
        for line in path.read_text().splitlines():
            if line.startswith("from behavior_tokens.quantize"):
                assert not any(p in line for p in plumbing), (path, line)


def _function_lengths():
    for room in [*LAYERS, "behavior_tokens"]:
        for path in (ROOT / room).glob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    yield path, node.name, node.end_lineno - node.lineno + 1


def test_no_room_holds_most_of_the_house_and_no_function_runs_long():
    sizes = {room: sum(len(p.read_text().splitlines()) for p in (ROOT / room).glob("*.py")) for room in LAYERS}
    assert max(sizes.values()) < 0.3 * sum(sizes.values()), sizes
    long = [(str(p.relative_to(ROOT)), name, n) for p, name, n in _function_lengths() if n > 80]
    assert not long, long
