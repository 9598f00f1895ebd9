"""``neurofb bench``: discovery, tables, JSON, and a smoke run of the engine and memory benchmarks.

No timing is asserted here: speed is what the benchmarks report, not what tests check.
"""

from __future__ import annotations

import json

import pytest

from neurofb.cli import main
from neurofb.commands.bench import benchmarks_dir, discover, format_table

ENGINE_KEYS = {
    "channels", "sfreq_hz", "estimator", "updates",
    "engine_p50_wall_ms", "engine_p99_wall_ms", "brainflow_p50_wall_ms", "brainflow_p99_wall_ms",
    "ratio_p50_wall", "ratio_p99_wall", "engine_p50_cpu_ms", "engine_p99_cpu_ms",
    "brainflow_p50_cpu_ms", "brainflow_p99_cpu_ms", "ratio_p50_cpu", "ratio_p99_cpu",
    "target_met", "data",
}


def test_engine_quick_json(capsys):
    assert main(["bench", "engine", "--quick", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert list(result) == ["engine"]
    rows = result["engine"]
    timed = [r for r in rows if r["estimator"] == "engagement"]
    assert [r["channels"] for r in timed] == [8, 16]
    for row in timed:
        assert ENGINE_KEYS <= set(row)
        assert row["updates"] == 60 and row["sfreq_hz"] == 250.0
        assert row["engine_p50_wall_ms"] > 0 and row["brainflow_p50_wall_ms"] > 0
        assert row["engine_p99_wall_ms"] >= row["engine_p50_wall_ms"]
        assert row["ratio_p99_wall"] == pytest.approx(
            row["brainflow_p99_wall_ms"] / row["engine_p99_wall_ms"])
    model_rows = [r for r in rows if r["estimator"] == "model"]
    assert all("note" in r or "engine_p99_wall_ms" in r for r in model_rows)


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
