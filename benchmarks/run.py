"""Run every benchmarks/bench_*.py, print one table (figure, goal, machine), keep the latest results.

    make bench                                  # all benchmarks; rewrites benchmarks/README.md
    .venv/bin/python benchmarks/run.py bench_training bench_featviz   # some; prints only
    .venv/bin/python benchmarks/run.py bench_book --write   # some; the others' rows are kept

Each bench file defines ``run() -> list[dict]`` with keys ``name``, ``value``, ``goal``, ``unit``
(CONTRIBUTING.md) and optionally ``note``. ``goal`` is a number (the value must not exceed it)
or a string such as ``"<= 60"`` or ``">= 1.8"``; ``value`` is ``None`` for a figure that could
not be measured on this machine (e.g. a GPU figure on a CPU machine). Each file runs in its own
process, so one benchmark's threads and memory do not disturb the next. Goals are reported,
never asserted: a missed goal prints MISSED; a benchmark that crashes makes the exit status 1.
"""
from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import operator
import os
import platform
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
README = HERE / "README.md"
RESULTS = HERE / "results"  # gitignored: the raw JSON of the last run
START, END = "<!-- results:start -->", "<!-- results:end -->"
_GOAL = re.compile(r"^\s*(<=|>=|<|>|==)?\s*([-+0-9.eE]+)\s*(.*)$")
_COMPARE = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt, "==": operator.eq}


def bench_files(names: list[str] | None = None) -> list[Path]:
    """benchmarks/bench_*.py in name order, or only those whose stem is in `names`."""
    files = sorted(HERE.glob("bench_*.py"))
    if names:
        wanted = {Path(n).stem for n in names}
        unknown = wanted - {f.stem for f in files}
        if unknown:
            raise SystemExit(f"unknown benchmark(s) {sorted(unknown)}; have {[f.stem for f in files]}")
        files = [f for f in files if f.stem in wanted]
    return files


def parse_goal(goal: object) -> tuple[str, float] | None:
    """``60`` -> ('<=', 60.0); ``">= 1.8x"`` -> ('>=', 1.8); ``None`` or free text -> None."""
    if goal is None or isinstance(goal, bool):
        return None
    if isinstance(goal, (int, float)):
        return "<=", float(goal)
    match = _GOAL.match(str(goal))
    if not match:
        return None
    try:
        return match.group(1) or "<=", float(match.group(2))
    except ValueError:
        return None


def status(row: dict) -> str:
    """'ok', 'MISSED', 'not measured' or 'error' for one result row."""
    if row.get("error"):
        return "error"
    if row.get("value") is None:
        return "not measured"
    goal = parse_goal(row.get("goal"))
    if goal is None:
        return "-"
    return "ok" if _COMPARE[goal[0]](float(row["value"]), goal[1]) else "MISSED"


def goal_text(row: dict) -> str:
    goal = parse_goal(row.get("goal"))
    if goal is None:
        return str(row.get("goal") or "-")
    number = f"{goal[1]:g}"
    return f"{goal[0]} {number} {row.get('unit', '')}".strip()


def value_text(row: dict) -> str:
    value = row.get("value")
    if value is None:
        return "-"
    value = float(value)
    digits = 3 if abs(value) < 10 else 1 if abs(value) < 1000 else 0
    return f"{value:.{digits}f} {row.get('unit', '')}".strip()


def machine() -> dict:
    """What the figures were measured on: CPU, cores, GPU, versions, load, date."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {"cpu": cpu, "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "python": platform.python_version(), "os": f"{platform.system()} {platform.release()}",
            "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
            "load": " ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"}
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        info["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    except ImportError:
        info["torch"], info["gpu"] = "not installed", "?"
    return info


def machine_text(info: dict) -> str:
    return (f"{info['cpu']}, {info['cores']} cores (torch {info.get('torch')}, {info.get('torch_threads', '?')} threads), "
            f"GPU: {info.get('gpu')}, Python {info['python']}, {info['os']}; load average {info['load']} at start; {info['date']}")


def run_file(path: Path) -> list[dict]:
    """Import `path` and call its run(); rows get the file's stem as `bench`."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    spec.loader.exec_module(module)
    rows = module.run()
    for row in rows:
        missing = {"name", "value", "goal", "unit"} - set(row)
        if missing:
            raise ValueError(f"{path.name}: a row lacks {sorted(missing)}: {row}")
        row["bench"] = path.stem
    return rows


def run_isolated(path: Path) -> list[dict]:
    """run_file(path) in a fresh Python process; a crash becomes one 'error' row."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rows.json"
        result = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--single", str(path), "--json", str(out)],
                                stdout=sys.stderr, stderr=subprocess.STDOUT)  # progress goes to stderr, the table to stdout
        if result.returncode == 0 and out.exists():
            return json.loads(out.read_text())
    return [{"bench": path.stem, "name": f"{path.stem} crashed (exit {result.returncode})", "value": None,
             "goal": None, "unit": "", "error": True, "note": "see the output above"}]


def table(rows: list[dict]) -> str:
    """A Markdown table, one row per figure."""
    lines = ["| benchmark | figure | value | goal | status | note |", "|---|---|---:|---|---|---|"]
    for row in rows:
        note = str(row.get("note", "")).replace("|", "/").replace("\n", " ")
        lines.append(f"| {row['bench']} | {row['name']} | {value_text(row)} | {goal_text(row)} | {status(row)} | {note} |")
    return "\n".join(lines)


def write_readme(text: str) -> None:
    """Replace the results block of benchmarks/README.md (the rest of the file is kept)."""
    current = README.read_text() if README.exists() else f"# Benchmarks\n\n{START}\n{END}\n"
    if START not in current or END not in current:
        current = current.rstrip() + f"\n\n## Latest results\n\n{START}\n{END}\n"
    head, rest = current.split(START, 1)
    tail = rest.split(END, 1)[1]
    README.write_text(f"{head}{START}\n{text}\n{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="bench file stems to run (default: all); a subset only prints")
    parser.add_argument("--single", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--write", action="store_true", help="also rewrite benchmarks/README.md after a subset")
    args = parser.parse_args(argv)
    if args.single:  # the child process of run_isolated
        args.json.write_text(json.dumps(run_file(args.single)))
        return 0
    info = machine()
    rows: list[dict] = []
    for path in bench_files(args.names):
        print(f"== {path.name}", file=sys.stderr, flush=True)
        rows += [{**row, "date": info["date"]} for row in run_isolated(path)]
    print(f"\nMachine: {machine_text(info)}\n\n{table(rows)}")
    if not args.names or args.write:
        kept = merge_previous(rows) if args.names else rows
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "latest.json").write_text(json.dumps({"machine": info, "rows": kept}, indent=1))
        earlier = sorted({f"{r['bench']} ({r.get('date', '?')})" for r in kept if r not in rows})
        note = f"\n\nKept from earlier runs: {', '.join(earlier)}." if earlier else ""
        write_readme(f"Machine: {machine_text(info)}{note}\n\n{table(kept)}")
        print(f"\n(written to {README.relative_to(HERE.parent)})")
    return 1 if any(row.get("error") for row in rows) else 0


def merge_previous(rows: list[dict]) -> list[dict]:
    """`rows`, plus the rows of the benchmarks not run now from the last written results."""
    previous = RESULTS / "latest.json"
    old = json.loads(previous.read_text())["rows"] if previous.exists() else []
    ran = {row["bench"] for row in rows}
    merged = [row for row in old if row["bench"] not in ran] + rows
    return sorted(merged, key=lambda row: row["bench"])  # stable: each bench keeps its row order


if __name__ == "__main__":
    sys.exit(main())
