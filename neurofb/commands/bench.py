"""``neurofb bench``: run the benchmarks in ``benchmarks/bench_*.py`` and print their tables.

Each benchmark module exposes ``NAME`` (str), ``DESCRIPTION`` (str), optionally
``add_arguments(parser)``, and ``run(args) -> list[dict]`` returning table rows. Benchmark
options are added to this command's parser (grouped by benchmark) only when ``bench`` itself is
parsed or asked for help: building the CLI (``neurofb --help``, any other command) reads the
benchmarks' names and descriptions from their source without importing them. ``--quick`` asks
every benchmark for a short run (the CI smoke test).
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import logging
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from neurofb.errors import NeurofbError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Benchmark:
    """A discovered benchmark module (or why it could not be loaded)."""

    name: str
    path: Path
    module: ModuleType | None
    error: str | None = None

    @property
    def description(self) -> str:
        """One line saying what it measures."""
        return str(getattr(self.module, "DESCRIPTION", "")) if self.module else ""


def benchmarks_dir() -> Path:
    """Folder of the benchmark modules (``benchmarks/`` in the source checkout)."""
    from neurofb.paths import REPO_ROOT

    return REPO_ROOT / "benchmarks"


def discover(folder: Path | None = None) -> list[Benchmark]:
    """Load every ``bench_*.py`` in ``folder``, sorted by name.

    A module that fails to import or lacks ``NAME``/``run`` is returned with ``error`` set, so
    the command can say which one is broken instead of failing as a whole.
    """
    folder = benchmarks_dir() if folder is None else folder
    found = []
    for path in sorted(folder.glob("bench_*.py")):
        stem = path.stem.removeprefix("bench_")
        spec = importlib.util.spec_from_file_location(f"neurofb_benchmarks.{path.stem}", path)
        try:
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot load {path}")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        except Exception as err:  # a broken benchmark must not break the whole CLI
            log.debug("benchmark %s could not be loaded: %s", path.name, err)
            found.append(Benchmark(stem, path, None, f"{type(err).__name__}: {err}"))
            continue
        if not isinstance(getattr(module, "NAME", None), str) or not callable(
            getattr(module, "run", None)
        ):
            found.append(Benchmark(stem, path, None, "it does not define NAME and run(args)"))
            continue
        found.append(Benchmark(module.NAME, path, module))
    return found


def listing(folder: Path | None = None) -> list[tuple[str, str]]:
    """(name, description) of every ``bench_*.py``, read from the source without running it."""
    folder = benchmarks_dir() if folder is None else folder
    found = []
    for path in sorted(folder.glob("bench_*.py")):
        name, text = path.stem.removeprefix("bench_"), ""
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, ValueError):
            found.append((name, "(cannot be read)"))
            continue
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
                if isinstance(target, ast.Name) and target.id in ("NAME", "DESCRIPTION"):
                    try:
                        value = ast.literal_eval(node.value)
                    except ValueError:
                        continue
                    if target.id == "NAME":
                        name = str(value)
                    else:
                        text = str(value)
        found.append((name, text))
    return found


_DESCRIPTION = ("Run the benchmarks in benchmarks/bench_*.py and print a table per benchmark (or "
                "JSON with --json). Benchmarks: {}.")


def _describe(parser: argparse.ArgumentParser) -> None:
    """The description with each benchmark's name and what it measures (read from source)."""
    found = listing() if benchmarks_dir().is_dir() else []
    parser.description = _DESCRIPTION.format(
        "; ".join(f"{name}: {desc}" for name, desc in found) or "none found")


def _populate(parser: argparse.ArgumentParser) -> None:
    """What ``bench`` adds when it is used: the description and the benchmarks' options."""
    _describe(parser)
    _add_benchmark_options(parser)


def _add_benchmark_options(parser: argparse.ArgumentParser) -> None:
    """Each benchmark's own options, in a group per benchmark (imports the modules)."""
    for bench in discover() if benchmarks_dir().is_dir() else []:
        add = getattr(bench.module, "add_arguments", None)
        if callable(add):
            try:
                add(parser.add_argument_group(f"{bench.name} options"))
            except argparse.ArgumentError as err:
                log.warning("benchmark %s: options not added (%s)", bench.name, err)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``bench`` subcommand (its description and benchmark options on first use)."""
    kwargs = {"populate": _populate} if subparsers._parser_class is not \
        argparse.ArgumentParser else {}
    p = subparsers.add_parser("bench", help="run the speed and memory benchmarks", **kwargs)
    p.add_argument("names", nargs="*", metavar="NAME", help="benchmarks to run (default: all)")
    p.add_argument("--json", action="store_true", help="print one JSON object {name: rows}")
    p.add_argument("--quick", action="store_true", help="short runs (smoke test)")
    if not kwargs:  # a plain parser tree: add them now
        _populate(p)
    p.set_defaults(func=run)


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:.3g}" if abs(value) < 1e4 else f"{value:.0f}"
    return "-" if value is None else str(value)


def format_table(rows: list[dict]) -> str:
    """Rows of dicts as an aligned text table (columns in order of first appearance)."""
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    if not columns:
        return "(no rows)"
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    numeric = [
        all(isinstance(row.get(c), int | float) for row in rows if row.get(c) is not None)
        for c in columns
    ]

    def line(values: list[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ).rstrip()

    return "\n".join([line(columns), line(["-" * w for w in widths]), *map(line, cells)])


def run(args: argparse.Namespace) -> int:
    """Run the selected benchmarks; return 0, or 1 if one failed."""
    folder = benchmarks_dir()
    if not folder.is_dir():
        raise NeurofbError(
            f"no benchmarks folder at {folder}; benchmarks run from a source checkout"
        )
    found = {b.name: b for b in discover(folder)}
    unknown = [n for n in args.names if n not in found]
    if unknown:
        raise NeurofbError(
            f"unknown benchmark(s) {', '.join(unknown)}; available: {', '.join(found) or 'none'}"
        )
    selected = [found[n] for n in args.names] if args.names else list(found.values())
    results: dict[str, list[dict]] = {}
    failed = False
    for bench in selected:
        if bench.module is None:
            print(f"benchmark {bench.name} ({bench.path.name}) is broken: {bench.error}",
                  file=sys.stderr)
            failed = True
            continue
        rows = list(bench.module.run(args))
        results[bench.name] = rows
        if not args.json:
            print(f"== {bench.name}: {bench.description}")
            print(format_table(rows))
            print()
    if args.json:
        print(json.dumps(results, indent=1, default=float))
    return 1 if failed else 0
