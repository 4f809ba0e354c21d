"""benchmarks/run.py: goals are read and judged right, and the README keeps its text around the table.

No benchmark is run here (timings are never asserted in tests); the bench files are only checked
to follow CONTRIBUTING.md's convention.
"""
import ast
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("bench_run", ROOT / "benchmarks" / "run.py")
bench_run = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench_run)


@pytest.mark.parametrize("goal,expected", [
    (60, ("<=", 60.0)), (1.5, ("<=", 1.5)), ("<= 60", ("<=", 60.0)), (">= 1.8", (">=", 1.8)),
    (">=1.8x", (">=", 1.8)), ("< 30 ms", ("<", 30.0)), (None, None), ("fast", None),
])
def test_goals_are_parsed(goal, expected):
    assert bench_run.parse_goal(goal) == expected


@pytest.mark.parametrize("row,expected", [
    ({"value": 59.0, "goal": "<= 60"}, "ok"), ({"value": 61.0, "goal": "<= 60"}, "MISSED"),
    ({"value": 2.0, "goal": ">= 1.8"}, "ok"), ({"value": 1.2, "goal": ">= 1.8"}, "MISSED"),
    ({"value": 1.5, "goal": 1.5}, "ok"), ({"value": None, "goal": ">= 1.8"}, "not measured"),
    ({"value": None, "goal": None, "error": True}, "error"), ({"value": 3.0, "goal": None}, "-"),
])
def test_status_compares_value_with_goal(row, expected):
    assert bench_run.status(row) == expected


def test_table_has_a_row_per_figure_with_goal_and_status():
    rows = [{"bench": "bench_x", "name": "a", "value": 0.5, "goal": "<= 1", "unit": "s", "note": "n|m"},
            {"bench": "bench_x", "name": "b", "value": None, "goal": ">= 1.8", "unit": "x", "note": "no GPU"}]
    lines = bench_run.table(rows).splitlines()
    assert len(lines) == 4
    assert lines[2] == "| bench_x | a | 0.500 s | <= 1 s | ok | n/m |"
    assert lines[3] == "| bench_x | b | - | >= 1.8 x | not measured | no GPU |"


def test_readme_block_is_replaced_and_the_rest_kept(tmp_path, monkeypatch):
    readme = tmp_path / "README.md"
    readme.write_text(f"# B\n\nintro\n\n{bench_run.START}\nold table\n{bench_run.END}\n\nafter\n")
    monkeypatch.setattr(bench_run, "README", readme)
    bench_run.write_readme("new table")
    assert readme.read_text() == f"# B\n\nintro\n\n{bench_run.START}\nnew table\n{bench_run.END}\n\nafter\n"


@pytest.mark.parametrize("path", sorted((ROOT / "benchmarks").glob("bench_*.py")), ids=lambda p: p.stem)
def test_every_bench_file_defines_run_and_a_main(path):
    tree = ast.parse(path.read_text())
    assert any(isinstance(node, ast.FunctionDef) and node.name == "run" for node in tree.body), f"{path.name} has no run()"
    assert "__main__" in path.read_text(), f"{path.name} does not print its rows when run directly"


def test_a_partial_run_keeps_the_other_benchmarks_rows(tmp_path, monkeypatch):
    import json

    monkeypatch.setattr(bench_run, "RESULTS", tmp_path)
    old = [{"bench": "bench_a", "name": "a1", "value": 1.0}, {"bench": "bench_b", "name": "b1", "value": 2.0},
           {"bench": "bench_b", "name": "b2", "value": 3.0}]
    (tmp_path / "latest.json").write_text(json.dumps({"machine": {}, "rows": old}))
    new = [{"bench": "bench_b", "name": "b1", "value": 5.0}]
    assert bench_run.merge_previous(new) == [old[0], new[0]]
