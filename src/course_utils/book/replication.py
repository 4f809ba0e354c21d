"""Claims checked on several trainings: each chapter executed again with other seeds.

A claim about a trained network is a claim about CNNs only if it survives retraining. Every
chapter takes its seed in a cell tagged ``parameters`` (``SEED = 0``); the book is built with
that default. ``replicate`` executes a chapter again with ``SEED = k`` put after that cell (the
convention papermill uses) and returns the claim records its outputs carry. The ledger
(``course_utils.book.ledger``) runs these replications while the book builds, shows the seeds each
claim was checked on and its worst margin, and fails the build if a claim breaks on any seed.

The replications run without strict claims, so one failing claim does not hide the others; a
cell that raises for another reason is an error. Results are cached by the notebook, the
package's source and the seed, so an unchanged chapter is not executed twice.

Command line (what the build runs in a worker process)::

    python -m course_utils.book.replication book/05b_circuits.ipynb --seed 1 --out run.json
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from course_utils.teaching import claims

PARAMETERS_TAG = "parameters"
_PACKAGE = Path(__file__).resolve().parent.parent


class ReplicationError(RuntimeError):
    """A chapter could not be executed with another seed (not a failing claim: an error)."""


def with_seed(notebook, seed: int):
    """A copy of ``notebook`` with ``SEED = seed`` set right after its parameters cell."""
    import nbformat

    tagged = _parameters_cells(notebook)
    if len(tagged) != 1:
        raise ReplicationError(f"expected one cell tagged {PARAMETERS_TAG!r} that sets SEED, "
                               f"found {len(tagged)}")
    if not re.search(r"^SEED\s*=", "".join(notebook.cells[tagged[0]].source), re.M):
        raise ReplicationError(f"the {PARAMETERS_TAG!r} cell does not set SEED")
    copy = nbformat.from_dict(json.loads(json.dumps(notebook)))
    injected = nbformat.v4.new_code_cell(f"SEED = {int(seed)}  # injected by course_utils.book.replication")
    injected.metadata["tags"] = ["injected-parameters"]
    copy.cells.insert(tagged[0] + 1, injected)
    return copy


def executed_records(notebook) -> list[dict]:
    """The claim records in an executed notebook's outputs, in the order the cells ran."""
    found = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            found += claims.records_in(output.get("data", {}).get("text/html", ""))
    return found


def replicate(path: Path, seed: int, timeout: int = 900) -> list[dict]:
    """Execute the chapter at ``path`` with ``SEED = seed``; its claim records (not strict)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    path = Path(path)
    notebook = with_seed(nbformat.read(path, as_version=4), seed)
    os.environ.pop(claims.STRICT_ENV, None)   # the kernel inherits this environment
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()
    except CellExecutionError as error:
        # numbered as in the chapter's own file, without the injected cell
        injected = next(i for i, c in enumerate(notebook.cells)
                        if "injected-parameters" in c.metadata.get("tags", []))
        cell = next((i - (i > injected) for i, c in enumerate(notebook.cells)
                     for o in c.get("outputs", []) if o.get("output_type") == "error"), "?")
        raise ReplicationError(f"{path.name} with SEED = {seed}, cell {cell}: "
                               f"{error.ename}: {error.evalue}") from None
    return executed_records(notebook)


# ----------------------------------------------------------------------------- many at once
# The book build's and the instructors' own modules: they cannot change what a chapter computes.
_NOT_IN_CHAPTERS = ("book", "instructor")
_BUILD_TOOLS = {"published.py"}


def default_cache() -> Path:
    """Beside the zoo's models, so the book build and the tests share the results."""
    from course_utils.cnn.zoo import cache_dir

    return cache_dir() / "replications"


def cache_key(path: Path, seed: int) -> str:
    """Changes when the notebook, a module the chapters use, torch or the seed does."""
    import torch

    digest = hashlib.sha256(Path(path).read_bytes() + torch.__version__.encode())
    for source in sorted(_PACKAGE.rglob("*.py")):
        folder = source.relative_to(_PACKAGE).parts[0]
        if folder not in _NOT_IN_CHAPTERS and source.name not in _BUILD_TOOLS:
            digest.update(source.read_bytes())
    digest.update(str(seed).encode())
    return digest.hexdigest()[:16]


def replicate_all(paths: list[Path], seeds: list[int], cache: Path, workers: int = 2,
                  log=print) -> dict[tuple[str, int], list[dict]]:
    """Every chapter with every seed, ``workers`` processes at a time; {(stem, seed): records}.

    Each run is a separate Python process (one kernel each); its result is cached in ``cache``.
    A chapter that raises does not stop the others; all failures are raised together at the end.
    """
    cache.mkdir(parents=True, exist_ok=True)
    jobs = [(Path(p), s) for s in seeds for p in paths]

    def run(job: tuple[Path, int]) -> tuple[tuple[str, int], list[dict]]:
        path, seed = job
        out = cache / f"{path.stem}-seed{seed}-{cache_key(path, seed)}.json"
        if not out.exists():
            log(f"replication: {path.stem} with SEED = {seed} ...")
            done = subprocess.run([sys.executable, "-m", "course_utils.book.replication", str(path),
                                   "--seed", str(seed), "--out", str(out)],
                                  capture_output=True, text=True)
            if done.returncode != 0:
                # main() prints a ReplicationError as one line naming the chapter and seed;
                # anything else (a crash) gets them added
                last = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
                named = last.startswith(path.name)
                return (path.stem, seed), ReplicationError(
                    last if named else f"{path.name} with SEED = {seed}: {last}")
        return (path.stem, seed), json.loads(out.read_text())

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = dict(pool.map(run, jobs))
    failed = [str(r) for r in results.values() if isinstance(r, ReplicationError)]
    if failed:
        raise ReplicationError("; ".join(failed))
    return results


def build_seed(notebook) -> int | None:
    """The SEED a chapter's parameters cell sets (what the book is built with); None if none."""
    tagged = _parameters_cells(notebook)
    if not tagged:
        return None
    found = re.search(r"^SEED\s*=\s*(\d+)", "".join(notebook.cells[tagged[0]].source), re.M)
    return int(found.group(1)) if found else None


def _parameters_cells(notebook) -> list[int]:
    return [i for i, cell in enumerate(notebook.cells)
            if PARAMETERS_TAG in cell.get("metadata", {}).get("tags", [])]


def across_seeds(records: list[dict], seed: int, runs: dict[int, list[dict]]) -> list[str]:
    """Add each measured record's result on every seed; return what breaks, one line each.

    records: one chapter's claims as the build measured them with ``seed``; runs: the same
    chapter's records per other seed. Each measured record gets ``seeds`` (seed, value,
    baseline, bound, margin, holds on each) and ``worst_margin`` (the smallest margin).
    """
    problems = []
    for record in records:
        if record["kind"] != "measured":
            continue
        results = [_result(seed, record)]
        for other, found in sorted(runs.items()):
            match = [r for r in found if r["id"] == record["id"]]
            if not match:
                problems.append(f"claim {record['id']} was not made with SEED = {other}")
                continue
            results.append(_result(other, match[0]))
            if not match[0]["holds"]:
                problems.append(
                    f"claim {record['id']} ({record['source_claim'] or record['topic']}) does "
                    f"not hold with SEED = {other}: measured "
                    f"{claims.format_value(match[0]['value'], record.get('fmt'))}, holds if "
                    f"{match[0]['bound']} (with SEED = {seed}: "
                    f"{claims.format_value(record['value'], record.get('fmt'))})")
        record["seeds"] = results
        record["worst_margin"] = min(r["margin"] for r in results)
    return problems


def _result(seed: int, record: dict) -> dict:
    return {"seed": seed, **{k: record[k] for k in ("value", "baseline", "bound", "margin", "holds")}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Execute a chapter with another SEED; "
                                     "write its claim records as JSON.")
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        found = replicate(args.notebook, args.seed)
    except ReplicationError as error:
        print(str(error).replace("\n", " | "), file=sys.stderr)
        return 1
    partial = args.out.with_suffix(".partial")
    partial.write_text(json.dumps(found, indent=1, ensure_ascii=False))
    partial.replace(args.out)   # a crash never leaves a half-written result in the cache
    failing = [r["id"] for r in found if not r["holds"]]
    print(f"{args.notebook.stem} SEED = {args.seed}: {len(found)} claims, "
          f"{len(found) - len(failing)} hold" + (f"; failing: {', '.join(failing)}" if failing else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
