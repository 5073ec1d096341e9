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
