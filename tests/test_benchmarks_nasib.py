"""Smoke test of the NASIB benchmark: with --quick it runs and writes both sections (to a scratch file)."""
import subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bench_nasib_runs(tmp_path):
    out = tmp_path / 'B.md'
    r = subprocess.run([sys.executable, str(ROOT / 'benchmarks' / 'bench_nasib.py'), '--quick', '--out', str(out), '--figure-dir', str(tmp_path)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    text = out.read_text()
    for m in ('nasib-costs', 'nasib-budget'): assert f'<!-- bench:{m} -->' in text and f'<!-- /bench:{m} -->' in text
    assert 'Command: `python benchmarks/bench_nasib.py --quick' in text
    for m in (3, 5):
        assert f'| {m} | {m * m} | layer |' in text and f'| {m} | {m * m} | supernet |' in text
    assert '| 8 | ' in text and '| 12 | ' in text and 'Used / requested:' in text
    assert '![step time and memory against m](nasib_costs.png)' in text and (tmp_path / 'nasib_costs.png').stat().st_size > 10_000
