"""NASIB (nasbook.nasib): the policies P1/P2, the p1 decay, gradients and rescaling of α for the sampled pair only, every i×j
candidate keeps the spatial size, budget parsing and its errors, and `nasbook nasib` killed with SIGKILL then resumed ends as an
uninterrupted run does."""
import json, math, os, shutil, signal, subprocess, sys, time
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from nasbook.core import ConfigError
from nasbook.data import get_dataset
from nasbook.ops import get_op
from nasbook.nasib import (NasibConfig, NasibNet, NasibSampler, SampledLayer, alpha_epoch, epochs_for_budget, nasib_search,
                           p1_probs, p1_schedule, p2_probs, rescale_pair, sample_pair, search_budget, superkernel_ops)

EXE = shutil.which('nasbook', path=str(Path(sys.executable).parent)) or shutil.which('nasbook')
ENV = dict(os.environ, OMP_NUM_THREADS='1', MPLBACKEND='Agg', KINETO_LOG_LEVEL='5')
ARGS = ['nasib', '--budget', '8', '--superkernel', '3', '--layers', '4', '--channels', '8', '--train-epochs', '1',
        '--batch-size', '32', '--fraction', '0.5', '--quiet']


def test_p1_prefers_rarely_sampled_candidates():
    counts = torch.tensor([50., 3., 20., 20., 0.])
    p = p1_probs(counts)
    assert p.argmax() == 4 and p.argmin() == 0 and p[1] > p[2] == p[3] > p[0]
    g = torch.Generator().manual_seed(0)
    draws = torch.zeros(5)
    for _ in range(2000): draws[sample_pair(p, g)] += 1
    assert draws[4] > draws[2] > draws[0]                           # sampled in that order too


def test_p2_with_small_lambda_picks_the_largest_alpha():
    alpha = torch.tensor([0.02, -0.3, 0.11, 0.10, 0.0])
    q = p2_probs(alpha, lam=0.005)
    assert q.argmax() == 2 and q[2] > 0.85
    assert p2_probs(alpha, lam=100.).max() < 0.21                    # a large λ: nearly uniform
    g = torch.Generator().manual_seed(1)
    first = [sample_pair(q, g).tolist() for _ in range(200)]
    assert sum(2 in pr for pr in first) == 200


@pytest.mark.parametrize('E', [2, 3, 7, 25, 100])
def test_p1_decays_to_exploitation_by_the_last_epoch(E):
    ps = [p1_schedule(e, E) for e in range(E)]
    assert ps[0] == 1.0 and ps[-1] == pytest.approx(1e-3) and all(a > b for a, b in zip(ps, ps[1:]))
    assert max(ps[e + 1] / ps[e] for e in range(E - 1)) == pytest.approx(min(ps[e + 1] / ps[e] for e in range(E - 1)))


def test_only_the_sampled_pair_gets_alpha_gradients_and_others_keep_their_probability():
    torch.manual_seed(0)
    data = get_dataset('digits', fraction=0.3)
    _, vdl, _ = data.loaders(32)
    net = NasibNet(data.input_shape, 10, C=4, layers=3, m=3)
    with torch.no_grad():
        for a in net.arch_parameters(): a.copy_(torch.randn(9) * 0.1)
    # gradients: an Eq. 2 forward over a fixed pair
    for l in net.search_layers(): l.active, l.weighting = torch.tensor([2, 7]), 'softmax'
    x, y = next(iter(vdl))
    F.cross_entropy(net(x), y).backward()
    for a in net.arch_parameters():
        mask = torch.zeros(9, dtype=torch.bool); mask[[2, 7]] = True
        assert (a.grad[mask] != 0).all() and (a.grad[~mask] == 0).all()
    # one real α step (Adam + ProxylessNAS rescaling): every unsampled candidate keeps its probability under softmax(α)
    before = [F.softmax(a.detach().clone(), 0) for a in net.arch_parameters()]
    opt = torch.optim.Adam(net.arch_parameters(), lr=0.1, betas=(0., 0.999))
    alpha_epoch(net, vdl, opt, NasibSampler(seed=3, p1=0.5), max_batches=1)
    for l, p0 in zip(net.search_layers(), before):
        p = F.softmax(l.alpha.detach(), 0)
        out = torch.ones(9, dtype=torch.bool); out[l.active] = False
        assert torch.allclose(p[out], p0[out], atol=1e-6) and not torch.allclose(p[~out], p0[~out])
    # rescale_pair on its own, with a stray change to an unsampled α
    old = torch.tensor([0.1, 0.5, -0.2, 0.3]); new = old + torch.tensor([0.2, 0.3, -0.1, -0.4])
    rescale_pair(new, old, [0, 3])
    assert new[1] == old[1] and new[2] == old[2]
    assert torch.allclose(F.softmax(new, 0)[[1, 2]], F.softmax(old, 0)[[1, 2]], atol=1e-7)


@pytest.mark.parametrize('H', [7, 8])
def test_every_superkernel_candidate_builds_and_keeps_the_spatial_size(H):
    x = torch.randn(2, 3, H, H)
    names = superkernel_ops(9)
    assert len(names) == 81 and len(set(names)) == 81
    for n in names:
        assert get_op(n, 3, 5, 1)(x).shape == (2, 5, H, H), n
        assert get_op(n, 3, 5, 2)(x).shape == (2, 5, (H + 1) // 2, (H + 1) // 2), n
    lay = SampledLayer(3, 5, names, shared=True)
    for k in range(81):
        lay.active = torch.tensor([k]); assert lay(x).shape == (2, 5, H, H)


def test_budget_parsing_and_errors():
    assert search_budget('30s') == ('seconds', 30.) and search_budget('10m') == ('seconds', 600.)
    assert search_budget('2h') == ('seconds', 7200.) and search_budget('1.5gpu-days') == ('seconds', 1.5 * 86400)
    assert search_budget(12) == ('epochs', 12) and search_budget('12 epochs') == ('epochs', 12)
    with pytest.raises(ConfigError, match="unknown unit 'fortnights'"): search_budget('3fortnights')
    for bad in (0, '0s', '0', -5, -2.5):
        with pytest.raises(ConfigError, match=r"budget=.* must be positive.*or a whole number of search epochs"): search_budget(bad)
    with pytest.raises(ConfigError, match="budget='-1m' is not understood"): search_budget('-1m')
    with pytest.raises(ConfigError, match=r'budget=2 s is smaller than one epoch of the supernet \(3 s'): epochs_for_budget(2, 3.)
    with pytest.raises(ConfigError, match='m=0 is too small'): NasibConfig(m=0)
    with pytest.raises(ConfigError, match='m=-2 is too small'): superkernel_ops(-2)
    data = get_dataset('digits', fraction=0.3)
    with pytest.raises(ConfigError, match='is smaller than one epoch of the supernet'):
        nasib_search(data, '0.001s', m=3, layers=3, C=4, progress=False)


def run(*args, check=True, timeout=300):
    assert EXE, 'the nasbook console script is not installed (run `make install`)'
    r = subprocess.run([EXE, *args], capture_output=True, text=True, env=ENV, timeout=timeout)
    if check: assert r.returncode == 0, r.stderr[-3000:]
    return r


def _cli_error(argv):
    "Run `nasbook ARGV` in this process; (exit code, stderr)."
    import contextlib, io
    from nasbook.cli import main
    buf = io.StringIO()
    with contextlib.redirect_stderr(buf), pytest.raises(SystemExit) as e: main(argv)
    return e.value.code, buf.getvalue()


def test_cli_bad_input(tmp_path):
    code, err = _cli_error(['nasib', '--superkernel', '0', '--out', str(tmp_path / 'a')])
    assert code == 2 and "argument --superkernel: '0' must be > 0" in err
    code, err = _cli_error(['nasib', '--budget', '5 parsecs', '--out', str(tmp_path / 'b')])
    assert code == 2 and "budget='5 parsecs'" in err and "unknown unit 'parsecs'" in err
    code, err = _cli_error(['nasib', '--budget', '0.001s', '--superkernel', '2', '--layers', '2', '--fraction', '0.2', '--out', str(tmp_path / 'c'), '--quiet'])
    assert code == 2 and 'smaller than one epoch of the supernet' in err


def test_killed_search_resumes_to_the_uninterrupted_result(tmp_path):
    from nasbook.cli import main
    whole, killed = tmp_path / 'whole', tmp_path / 'killed'
    n = torch.get_num_threads(); torch.set_num_threads(1)                 # as the subprocesses (OMP_NUM_THREADS=1): same numerics
    try: main([*ARGS, '--out', str(whole)])                               # the uninterrupted run, in this process
    finally: torch.set_num_threads(n)
    p = subprocess.Popen([EXE, *ARGS, '--out', str(killed)], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0, done = time.time(), 0
    while time.time() - t0 < 120 and p.poll() is None:
        try: done = json.loads((killed / 'progress.json').read_text())['epoch']
        except (OSError, ValueError, KeyError): pass
        if done >= 3: break
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL); p.wait()
    done = json.loads((killed / 'progress.json').read_text())['epoch']
    assert 3 <= done < 9, f"the kill came too late to test anything ({done} epochs done)"
    assert not (killed / 'result.json').exists()
    run(*ARGS, '--out', str(killed))
    a, b = json.loads((whole / 'result.json').read_text()), json.loads((killed / 'result.json').read_text())
    assert a['genotype'] == b['genotype'] and a['test_top1'] == pytest.approx(b['test_top1'], abs=1e-9)
    assert [h['valid_top1'] for h in a['history']] == [h['valid_top1'] for h in b['history']]
    assert [h['epoch'] for h in b['history']] == list(range(1, 10))       # no epoch lost or repeated
    assert b['search_epochs'] == 8 and (killed / 'nasib.png').exists()
