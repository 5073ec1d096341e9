"""Smoke tests of the BonsaiNet/SpiderNet benchmark scripts: with --quick they run and write their sections (to a scratch file)."""
import subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(script, tmp_path):
    out = tmp_path / 'B.md'
    r = subprocess.run([sys.executable, str(ROOT / 'benchmarks' / script), '--quick', '--out', str(out), '--figure-dir', str(tmp_path)],
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr[-2000:]
    return out.read_text()


def test_bench_pruners_runs(tmp_path):
    text = run('bench_pruners.py', tmp_path)
    for m in ('pruner-saw', 'pruner-supernet', 'deadhead', 'memory-prediction'):
        assert f'<!-- bench:{m} -->' in text and f'<!-- /bench:{m} -->' in text
    assert 'Command: `python benchmarks/bench_pruners.py --quick' in text
    assert '| saw on a scalar weight | raw | mul, floor, sub, div |' in text and '| saw on a scalar weight | optimized | remainder |' in text
    assert '| saw on a scalar weight | **raw / optimized** |' in text and '13.3, 129.1, 1200 Kb' in text
    assert '| pruners → identity |' in text and '| with pruners |' in text
    assert '| 1 | 1.000 |' in text and '| 0 (all deadheaded) | 0.000 | 0 (0) |' in text
    assert '| full supernet | ' in text and '| random 1 |' in text and '| 0 mutations |' in text
    assert '| Algorithm 1 as stated (all live ops) | median' in text and '| **in context (corrected)** | **median' in text
    assert '![step time against hard compression](deadhead_step_time.png)' in text
    assert '![predicted against measured memory](memory_prediction.png)' in text
    for f in ('deadhead_step_time.png', 'memory_prediction.png'): assert (tmp_path / f).stat().st_size > 10_000


def test_bench_proxies_runs(tmp_path):
    text = run('bench_proxies.py', tmp_path)
    for m in ('ntk-lrc', 'proxy-tau', 'shap'):
        assert f'<!-- bench:{m} -->' in text and f'<!-- /bench:{m} -->' in text
    assert 'Command: `python benchmarks/bench_proxies.py --quick' in text
    assert '| 0 | 6 / 9 / 63 | 3,546 |' in text and '| 2 | 8 / 13 / 91 |' in text and '≈60 s per model, GPU' in text
    assert '| LRC (500 3×3 crops, one-channel copy) | + |' in text and '| -0.42 |' in text and '| +0.64 |' in text
    assert '| 4 | toy |' in text and '| 4 | BonsaiNet |' in text and '| 16 |' in text
    assert 'identical estimates to the timed BonsaiNet runs' in text
    assert '![seconds per candidate](ntk_lrc_cost.png)' in text and '![SHAP cost and agreement](shap_cost.png)' in text
    for f in ('ntk_lrc_cost.png', 'shap_cost.png'): assert (tmp_path / f).stat().st_size > 10_000
