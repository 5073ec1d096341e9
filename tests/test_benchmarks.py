"""Smoke test of the benchmark scripts: they run and write their section (to a scratch file here)."""
import subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def test_bench_trainer_runs(tmp_path):
    out = tmp_path/'B.md'
    r = subprocess.run([sys.executable, str(ROOT/'benchmarks'/'bench_trainer.py'), '--repeats', '1', '--fraction', '0.02', '--out', str(out)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    text = out.read_text()
    assert '<!-- bench:trainer -->' in text and '| Trainer |' in text and 'Command: `python benchmarks/bench_trainer.py' in text

def test_bench_spline_runs(tmp_path):
    out, fig = tmp_path/'B.md', tmp_path/'fig.png'
    r = subprocess.run([sys.executable, str(ROOT/'benchmarks'/'bench_spline.py'), '--quick', '--out', str(out), '--figure', str(fig)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    text = out.read_text()
    assert '<!-- bench:spline-cost -->' in text and '<!-- bench:spline-efficiency -->' in text
    assert '| 30 | SplineSearch.ask() |' in text and '| 15 | TPE ask() |' in text
    assert '| SplineSearch |' in text and '| RandomSearch |' in text and '| Optuna TPE |' in text
    assert 'Command: `python benchmarks/bench_spline.py --quick' in text and '![best-so-far curves](fig.png)' in text
    assert fig.stat().st_size > 10_000
