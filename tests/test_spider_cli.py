"""`nasbook spider` end to end on digits, resumed by running the same command again, then `nasbook shap-edges` on its
checkpoint; bad input."""
import json, os, shutil, subprocess, sys
from pathlib import Path

EXE = shutil.which('nasbook', path=str(Path(sys.executable).parent)) or shutil.which('nasbook')
ENV = dict(os.environ, OMP_NUM_THREADS='1', MPLBACKEND='Agg', KINETO_LOG_LEVEL='5')
ARGS = ['spider', '--cycles', '2', '--epochs-per-cycle', '1', '--train-epochs', '2', '--scale', '4', '--batch-size', '32']


def run(*args, check=True):
    assert EXE, 'the nasbook console script is not installed (run `make install`)'
    r = subprocess.run([EXE, *args], capture_output=True, text=True, env=ENV, timeout=900)
    if check: assert r.returncode == 0, r.stderr[-3000:]
    return r


def test_spider_then_shap_edges(tmp_path):
    out = tmp_path / 'sp'
    run(*ARGS, '--out', str(out))
    res = json.loads((out / 'result.json').read_text())
    assert res['finished'] and res['mutations'] == 6            # 3 per cycle, one per cell, 2 cycles
    assert res['test_top1'] > 0.15 and (out / 'cells.png').stat().st_size > 5000
    again = run(*ARGS, '--out', str(out))                          # a finished search is read back, not re-run
    assert f"test top-1 {res['test_top1']:.4f}" in again.stdout
    r = run('shap-edges', str(out), '--nsamples', '60', '--batch', '32')
    sh = json.loads((out / 'shap_edges.json').read_text())
    g = res['genotype']
    live = [f"c{i}/{k}" for i, c in enumerate(g['cells']) for k, ops in c['edges'].items() if ops]
    assert sorted(sh['edges']) == sorted(live) and len(sh['shap']) == len(live)
    assert (out / 'shap_edges.png').stat().st_size > 5000 and sh['edges'][0] in r.stdout


def test_bad_input(tmp_path):
    r = run('shap-edges', str(tmp_path / 'absent'), check=False)
    assert r.returncode == 2 and 'is not a folder' in r.stderr
    (tmp_path / 'empty').mkdir()
    r = run('shap-edges', str(tmp_path / 'empty'), check=False)
    assert r.returncode == 2 and 'holds no checkpoint' in r.stderr
    r = run('spider', '--mutations', '2', '--out', str(tmp_path / 'x'), check=False)
    assert r.returncode == 2 and 'mutations_per_cycle=2 is smaller than the number of cells (3)' in r.stderr
