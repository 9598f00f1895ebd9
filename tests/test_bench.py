"""``neurofb bench``: discovery, tables, JSON, and a smoke run of the engine and memory benchmarks.

No timing is asserted here: speed is what the benchmarks report, not what tests check.
"""

from __future__ import annotations

import json

import pytest

from neurofb.cli import main
from neurofb.commands.bench import benchmarks_dir, discover, format_table

TIMING_KEYS = {"p50_ms", "p99_ms", "cpu_p50_ms", "cpu_p99_ms"}
RATIO_KEYS = {"bf_ratio_p50", "bf_ratio_p99", "bf_ratio_cpu_p99", "target_met"}


def test_engine_quick_json(capsys):
    assert main(["bench", "engine", "--quick", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert list(result) == ["engine"]
    rows = result["engine"]
    timed = [r for r in rows if r["estimator"] == "engagement"]
    assert [(r["channels"], r["route"]) for r in timed] == [
        (n, route) for n in (8, 16)
        for route in ("brainflow", "features+estimator", "engine core", "engine update")]
    for row in timed:
        assert TIMING_KEYS | RATIO_KEYS | {"updates", "data"} <= set(row)
        assert row["updates"] == 60
        assert 0 < row["p50_ms"] <= row["p99_ms"] and 0 < row["cpu_p50_ms"] <= row["cpu_p99_ms"]
    for n in (8, 16):
        bf, core = (next(r for r in timed if r["channels"] == n and r["route"] == route)
                    for route in ("brainflow", "features+estimator"))
        assert core["bf_ratio_p99"] == pytest.approx(bf["p99_ms"] / core["p99_ms"])
        assert core["target_met"] == (core["bf_ratio_p99"] >= 5.0)
        assert bf["bf_ratio_p50"] is None
    model_rows = [r for r in rows if r["estimator"] == "model"]
    assert all("note" in r or "p99_ms" in r for r in model_rows)


def test_memory_quick_json(capsys):
    assert main(["bench", "memory", "--quick", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["memory"]
    assert row["simulated_s"] == 60.0 and row["updates"] == 1 + (60 * 250 - 500) // 63
    assert row["rss_start_mb"] > 0 and row["rss_end_mb"] > 0
    assert {"rss_warm_mb", "growth_after_warmup_mb", "growth_mb_per_hour"} <= set(row)


def test_table_output(capsys):
    assert main(["bench", "memory", "--quick"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("== memory: ")
    header, rule, row = lines[1], lines[2], lines[3]
    assert "rss_end_mb" in header and set(rule) <= {"-", " "}
    assert len(row) <= len(header) + 1


def test_unknown_benchmark_lists_the_available_ones(capsys):
    assert main(["bench", "nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown benchmark(s) nope" in err and "engine" in err and "memory" in err


def test_discovery_reports_broken_modules(tmp_path):
    (tmp_path / "bench_ok.py").write_text(
        "NAME = 'ok'\nDESCRIPTION = 'fine'\ndef run(args):\n    return [{'a': 1, 'b': 2.5}]\n")
    (tmp_path / "bench_broken.py").write_text("def run(:\n")
    (tmp_path / "bench_norun.py").write_text("NAME = 'norun'\n")
    (tmp_path / "helper.py").write_text("raise SystemExit('not a benchmark')\n")
    found = {b.name: b for b in discover(tmp_path)}
    assert set(found) == {"ok", "broken", "norun"}
    assert found["ok"].module is not None and found["ok"].description == "fine"
    assert "SyntaxError" in found["broken"].error
    assert "NAME and run" in found["norun"].error


def test_shipped_benchmarks_are_discovered():
    names = {b.name for b in discover(benchmarks_dir())}
    assert {"engine", "memory"} <= names


def test_format_table_aligns_columns():
    text = format_table([{"name": "a", "ms": 1.23456}, {"name": "longer", "ms": 12.5, "x": None}])
    lines = text.splitlines()
    assert lines[0].split() == ["name", "ms", "x"]
    assert len({len(line) for line in lines[:2]}) == 1
    assert "1.23" in lines[2] and "12.5" in lines[3] and lines[3].endswith("-")
    assert format_table([]) == "(no rows)"


@pytest.mark.slow
def test_longfiles_memory_is_bounded():
    """Whole-process peak RSS of replay and import: 30 minutes within 1.5x of three."""
    import argparse

    from neurofb.commands.bench import discover

    bench = next(b for b in discover() if b.name == "longfiles")
    rows = bench.module.run(argparse.Namespace(quick=False, longfiles_hours="0.05,0.5",
                                               longfiles_dir=None))
    assert len(rows) == 4 and all("error" not in r for r in rows), rows
    assert all(r["ratio"] <= 1.5 for r in rows), rows


def test_startup_bench_counts_an_app_run_that_did_not_exit_cleanly(tmp_path):
    """A run of the app that exits with an error (after drawing, or before its first focus)
    is counted and said in the table's note, not a traceback that loses the other figures."""
    import sys

    startup = {b.name: b for b in discover(benchmarks_dir())}["startup"].module
    argv = [sys.executable, "-c", "import sys; print('startup: window drawn 0.5 s after start "
            "(unix 1.0)', file=sys.stderr); sys.exit(3)"]
    with pytest.raises(startup.AppRunFailed, match="exit code 3, before its first focus"):
        startup._app(argv, tmp_path)
