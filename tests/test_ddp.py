"""Data-parallel training (issue 14): 2 ranks under torchrun (gloo, CPU; two agents meeting by rendezvous, as two
machines would) follow the one-process loss curve at the same global batch, and their checkpoint resumes in one process."""
import json, os, shutil, subprocess, sys
from pathlib import Path
import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from _ddp_job import run, mlp, N_EXACT
from nasbook.train import small_cnn

# measured on this 2-core CPU (3 epochs): MLP with nothing to pad 4.8e-8; MLP with one padded repeat per epoch 2.6e-3;
# small CNN, whose BatchNorm normalises over 32 samples per rank instead of 64, 3.4e-2
TOL_EXACT, TOL_PAD, TOL_BN = 1e-5, 0.01, 0.08

def torchrun_two_ranks(out):
    """Run tests/_ddp_job.py on 2 ranks as 2 *nodes*: two torchrun agents of one process each that meet through
    torchrun's c10d rendezvous, as on two machines (`--nnodes=2 --rdzv_endpoint=HOST:PORT`); (out, rank 0's history.json)."""
    from nasbook.train import free_port
    torchrun = shutil.which('torchrun', path=str(Path(sys.executable).parent)) or shutil.which('torchrun')
    assert torchrun, 'torchrun (part of torch) is not on PATH'
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONPATH': str(HERE.parent) + os.pathsep + os.environ.get('PYTHONPATH', '')}
    cmd = [torchrun, '--nnodes=2', '--nproc_per_node=1', '--rdzv_backend=c10d', f'--rdzv_endpoint=127.0.0.1:{free_port()}',
           '--rdzv_id=test-ddp', str(HERE/'_ddp_job.py'), str(out)]
    nodes = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    for p in nodes:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-3000:]
    return out, json.loads((out/'history.json').read_text())

def test_two_ranks_under_torchrun(tmp_path):
    "One torchrun job (xdist may run tests on several workers: one test, one job) checked three ways."
    out, h = torchrun_two_ranks(tmp_path)
    # 1. the loss curve of one process, at the same global batch
    assert (h['world_size'], h['ddp'], h['loader']) == (2, 'DistributedDataParallel', 'ShardedLoader')
    one_mlp, one_cnn, one_full = run(mlp, n=N_EXACT).history, run(small_cnn).history, run(mlp).history
    dmax = lambda p, q: max(abs(a['train_loss'] - b['train_loss']) for a, b in zip(p, q))
    d_mlp, d_cnn, d_full = dmax(one_mlp, h['mlp']), dmax(one_cnn, h['cnn']), dmax(one_full, h['mlp_full'])
    print(f"max |train loss 1 proc - 2 procs| over 3 epochs: MLP on {N_EXACT} images {d_mlp:.2e}, "
          f"MLP on 1293 (one padded repeat per epoch) {d_full:.2e}, small CNN (BatchNorm per rank) {d_cnn:.2e}")
    assert len(h['mlp']) == len(one_mlp) == 3 and d_mlp <= TOL_EXACT, (one_mlp, h['mlp'])
    assert d_full <= TOL_PAD and d_cnn <= TOL_BN, (d_full, d_cnn)
    assert h['mlp'][-1]['train_loss'] < h['mlp'][0]['train_loss']           # and it learns
    # validation metrics are all-reduced over disjoint shards: they count every validation image once
    assert abs(one_mlp[-1]['valid_top1'] - h['mlp'][-1]['valid_top1']) <= 2 / 144
    # 2. only rank 0 writes (every rank called save)
    assert (out/'saved-by-rank0.pt').exists() and not (out/'saved-by-rank1.pt').exists()
    # 3. the checkpoint of 2 ranks resumes in one process
    resumed = run(mlp, resume=out/'mlp-epoch2.pt', n=N_EXACT, distributed=False).history
    assert [r['epoch'] for r in resumed] == [1, 2, 3]
    assert resumed[:2] == h['mlp'][:2]                                       # the saved history, as saved
    assert abs(resumed[2]['train_loss'] - h['mlp'][2]['train_loss']) <= TOL_EXACT

def test_ray_cluster_example_passes_rays_schema():
    "examples/ray-cluster.yaml is what `ray up` accepts: Ray's own config preparation and JSON-schema validation."
    import yaml
    from ray.autoscaler._private.util import validate_config, prepare_config
    cfg = yaml.safe_load((HERE.parent/'examples'/'ray-cluster.yaml').read_text())
    validate_config(prepare_config(cfg))
    assert cfg['provider']['type'] == 'local' and len(cfg['provider']['worker_ips']) == 2
    with pytest.raises(Exception, match='unknown_field'): validate_config(prepare_config({**cfg, 'unknown_field': 1}))

def test_bench_scale_quick_runs(tmp_path):
    "Smoke test of benchmarks/bench_scale.py --quick: both halves run and write their section."
    out = tmp_path/'B.md'
    r = subprocess.run([sys.executable, str(HERE.parent/'benchmarks'/'bench_scale.py'), '--quick', '--out', str(out)],
                       capture_output=True, text=True, timeout=600, env={**os.environ, 'OMP_NUM_THREADS': '1'})
    assert r.returncode == 0, r.stderr[-3000:]
    text = out.read_text()
    assert '<!-- bench:scale -->' in text and 'Command: `python benchmarks/bench_scale.py --quick' in text
    assert '| 2 |' in text and '| Ray, 2 CPUs |' in text and '| process pool, 2 workers |' in text and 'shared with other jobs' in text
