"""NAS-RL / NASNet controller (nasbook.rl): exact log-probabilities, policy gradient that finds a known best,
random NAS-RL architectures that build and run, resume after SIGKILL, bad input, the CLI and the benchmark."""
import itertools, json, signal, subprocess, sys, time
from pathlib import Path
import numpy as np
import pytest
import torch

from nasbook.core import Journal, ConfigError
from nasbook.search import run_search
from nasbook.execute import Measurement
from nasbook.rl import (ChoiceSpace, NASRLSpace, NASRLNet, Controller, CONTROLLERS, RLSearch, RandomDecisions, LayerSchedule,
                        TokenMatch, make_strategy, random_tokens, nasrl_reward, check_decision_space)

HERE = Path(__file__).parent
torch.set_num_threads(1)

# -- controller ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize('space,shape', [(NASRLSpace(5), 'nasrl'), (NASRLSpace(3, strides=(1, 2)), 'nasrl'),
    (ChoiceSpace({'in0': [0, 1], 'in1': [0, 1, 2], 'op0': list('abcdefg'), 'in2': [0, 1, 2, 3]},
                 kinds={'in0': 'input', 'in1': 'input', 'in2': 'input', 'op0': 'op'}), 'nasnet')])
def test_log_prob_of_sampled_sequence_recomputed(space, shape):
    ctl = Controller.for_space(space, **CONTROLLERS[shape])
    toks, lp, ent = ctl.sample(space, 32, torch.Generator().manual_seed(0))
    assert all(0 <= t < n for seq in toks for t, n in zip(seq, space.decisions))
    _, lp2, ent2 = ctl(space, tokens=toks)
    assert torch.allclose(lp, lp2.detach(), atol=1e-5) and torch.allclose(ent, ent2.detach(), atol=1e-5)
    one = torch.stack([ctl(space, tokens=[t])[1][0].detach() for t in toks[:4]])      # one at a time = in a batch
    assert torch.allclose(one, lp[:4], atol=1e-5)
    assert (lp < 0).all() and (ent > 0).all()

def test_log_probs_sum_to_one_over_a_tiny_space():
    "With anchors (Bernoulli products) and shared, masked classifiers, the distribution is normalised."
    sp = NASRLSpace(3, filter_sizes=(1, 3), filters=(24,))
    ctl = Controller.for_space(sp, hidden=6, layers=2, init_range=0.7)
    allt = [list(t) for t in itertools.product(*[range(n) for n in sp.decisions])]
    assert len(allt) == 2 ** 6 * 2 ** 3
    p = ctl(sp, tokens=allt)[1].exp().detach().numpy()
    assert abs(p.sum() - 1) < 1e-5
    toks = np.array(ctl.sample(sp, 4000, torch.Generator().manual_seed(1))[0])   # and sampling follows it: every marginal
    A = np.array(allt)
    for t, n in enumerate(sp.decisions):
        for c in range(n): assert abs((toks[:, t] == c).mean() - p[A[:, t] == c].sum()) < 0.03

# -- policy gradient beats random on a known best ----------------------------------------------------------
def _curves(name, seeds, budget, **kw):
    sp = ChoiceSpace({f"x{i}": list(range(4)) for i in range(5)})
    out = []
    for s in seeds:
        res = run_search(make_strategy(name, sp, s, **kw), TokenMatch(sp, seed=100 + s), budget, progress=False)
        out.append(np.maximum.accumulate([r['value'] for r in res.records]))
    return np.array(out)

def test_reinforce_and_ppo_find_the_best_and_beat_random():
    seeds, budget = range(6), 160
    rnd = _curves('random', seeds, budget)
    for name, kw in (('reinforce', dict(lr=0.02, batch=4)), ('ppo', dict(lr=0.01, batch=4))):
        c = _curves(name, seeds, budget, **kw)
        found, rfound = (c[:, -1] == 1).mean(), (rnd[:, -1] == 1).mean()
        assert found >= 0.5 and found > rfound, (name, found, rfound)
        assert c[:, -1].mean() > rnd[:, -1].mean() + 0.05, (name, c[:, -1].mean(), rnd[:, -1].mean())

def test_reinforce_learns_through_the_anchor_attention():
    """Skip connections are learned too: with a target that connects every layer to every earlier one, the sampled
    connection density goes from 1/2 to nearly 1 (the gradient flows through sigmoid(v.tanh(W_prev h_j + W_curr h_i)))."""
    sp = NASRLSpace(4)
    for seed in range(2):
        rng = np.random.default_rng(seed)
        ev = TokenMatch(sp, target=[n - 1 if k == 'anchor' else int(rng.integers(n)) for n, k in zip(sp.decisions, sp.kinds)])
        st = RLSearch(sp, seed=seed, batch=4, lr=0.02)
        anchors = [i for i, k in enumerate(sp.kinds) if k == 'anchor' and sp.decisions[i] > 1]
        def density():
            toks = st.controller.sample(sp, 300, torch.Generator().manual_seed(9))[0]
            return np.mean([bin(row[i]).count('1') / (sp.decisions[i].bit_length() - 1) for row in toks for i in anchors])
        assert abs(density() - 0.5) < 0.05
        run_search(st, ev, 160, progress=False)
        assert density() > 0.9

def test_seeded_search_is_reproducible_and_seed_matters():
    sp = NASRLSpace(3); ev = TokenMatch(sp, seed=1)
    a, b, c = (run_search(RLSearch(sp, s, method='ppo', batch=4, lr=0.01), ev, 16, progress=False) for s in (3, 3, 4))
    assert [r['config'] for r in a.records] == [r['config'] for r in b.records]
    assert [r['config'] for r in a.records] != [r['config'] for r in c.records]

def test_layer_schedule_grows_the_networks():
    sp = NASRLSpace(2)
    st = RLSearch(sp, seed=0, batch=3, schedule=LayerSchedule(2, 2, 6, most=6))
    res = run_search(st, _LenEval(), 18, progress=False)
    assert [len(r['config']['layers']) for r in res.records] == [2] * 6 + [4] * 6 + [6] * 6
    assert st.updates == 6

class _LenEval:
    "Reward = fraction of layers with 3x3 filters (works for any depth)."
    def __call__(self, config, seed):
        ls = config['layers']; return Measurement(sum(l['fh'] == 3 and l['fw'] == 3 for l in ls) / len(ls))
    def describe(self): return {'evaluator': 'len'}

def test_reward_is_nasrl_cubed_max_of_last_five():
    h = [{'valid_top1': a} for a in [.99, .2, .5, .7, .6, .3, .4]]
    assert nasrl_reward(Measurement(.4, meta={'history': h})) == pytest.approx(.7 ** 3)
    assert nasrl_reward(Measurement(None, status='diverged')) == 0.

# -- NAS-RL child networks -----------------------------------------------------------------------------------
def test_200_random_nasrl_architectures_build_and_run():
    rng = np.random.default_rng(0)
    for k in range(200):
        sp = NASRLSpace(int(rng.integers(1, 9)), strides=(1, 2) if k % 3 == 0 else None)
        toks = random_tokens(sp, rng); c = sp.decode(toks)
        assert sp.encode(json.loads(json.dumps(c))) == toks
        for shape in ((1, 8, 8), (1, 28, 28)):
            net = NASRLNet(c, shape, 10).eval()
            with torch.no_grad(): y = net(torch.randn(2, *shape))
            assert y.shape == (2, 10) and torch.isfinite(y).all()
            used = {j for l in c['layers'] for j in l['inputs']}
            assert net.outputs == [i for i in range(len(c['layers'])) if i not in used]

# -- resume after SIGKILL --------------------------------------------------------------------------------------
def _lines(path): return Path(path).read_text().splitlines()[1:] if Path(path).exists() else []

sys.path.insert(0, str(HERE))
from _rl_job import search as _rl_search

@pytest.mark.parametrize('method,batch', [('ppo', 3), ('reinforce', 1)])
def test_kill_and_resume_ends_like_an_uninterrupted_search(tmp_path, method, batch):
    "SIGKILL a PPO search (asks in threes, updates every 4) twice mid-way; resumed, it ends as one never interrupted."
    budget = 18
    ref = _rl_search(tmp_path/'ref.jsonl', budget, batch, 0., method)
    j = tmp_path/'killed.jsonl'; seen = []
    for k in ((3, 10) if method == 'ppo' else (6,)):
        before = _lines(j)
        p = subprocess.Popen([sys.executable, str(HERE/'_rl_job.py'), str(j), str(budget), str(batch), '0.15', method],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        t0 = time.time()
        while len(_lines(j)) < k:
            assert p.poll() is None, p.stderr.read().decode()
            assert time.time() - t0 < 120
            time.sleep(0.01)
        p.send_signal(signal.SIGKILL); p.wait()
        seen.append(len(_lines(j)))
        assert _lines(j)[:len(before)] == before
    assert seen == sorted(seen) and seen[-1] < budget
    res = _rl_search(j, budget, batch, 0., method)
    assert res['evaluated'] == budget - seen[-1]
    a, b = Journal(j).records, Journal(tmp_path/'ref.jsonl').records
    assert [r['trial'] for r in a] == list(range(budget))
    assert [(r['config'], r['value']) for r in a] == [(r['config'], r['value']) for r in b]
    assert res['updates'] == ref['updates'] == budget // 4
    assert res['baseline'] == ref['baseline'] and res['weights'] == ref['weights']   # the controller ends identical

# -- bad input -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('fn,msg', [
    (lambda: ChoiceSpace({'op': []}), "choices['op'] must be a non-empty list"),
    (lambda: ChoiceSpace({}), 'choices must be a non-empty dict'),
    (lambda: NASRLSpace(0), 'layers=0 is too small'),
    (lambda: NASRLSpace(2, filter_sizes=[]), 'filter_sizes must be a non-empty list'),
    (lambda: NASRLSpace(2, filters=[24, 24]), 'filters has duplicates'),
    (lambda: make_strategy('evolution', NASRLSpace(2)), "strategy='evolution' is not allowed; choose one of 'reinforce', 'ppo', 'random'"),
    (lambda: RLSearch(NASRLSpace(2), method='a2c'), "method='a2c' is not allowed"),
    (lambda: RLSearch(NASRLSpace(2), batch=0), 'batch=0 is too small'),
    (lambda: RLSearch(NASRLSpace(2), controller='gru'), "controller='gru' is not allowed"),
    (lambda: RLSearch(NASRLSpace(2), lr=0.), 'lr=0.0 is too small'),
    (lambda: LayerSchedule(0, 2, 10), 'start=0 is too small'),
    (lambda: Controller.for_space(NASRLSpace(2), layers=0), 'layers=0 is too small'),
    (lambda: RandomDecisions(object()), 'DecisionSpace protocol'),
    (lambda: NASRLNet({'layers': [{'fh': 3, 'fw': 3, 'nf': 8, 'inputs': [1]}]}), 'inputs are earlier layers'),
    (lambda: NASRLSpace(2).encode({'layers': [{'fh': 2, 'fw': 3, 'nf': 24, 'inputs': []}] * 2}), 'layers[0].fh=2 is not one of [1, 3, 5, 7]'),
])
def test_bad_input_names_the_argument(fn, msg):
    with pytest.raises(ConfigError, match=None) as e: fn()
    assert msg in str(e.value), str(e.value)

def test_tell_of_an_unasked_architecture_is_an_error():
    sp = NASRLSpace(2); st = RLSearch(sp)
    with pytest.raises(ConfigError, match='did not ask'): st.tell(sp.decode([0] * len(sp.decisions)), Measurement(.5))

# -- CLI and benchmark -------------------------------------------------------------------------------------------
def test_cli_bad_strategy_is_a_clear_error(nasbook_cmd, tmp_path):
    r = subprocess.run([nasbook_cmd, 'nasnet', '--strategy', 'evolution', '--out', str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "--strategy: invalid choice: 'evolution'" in r.stderr

def test_bench_rl_quick_runs(tmp_path):
    out, fig = tmp_path/'B.md', tmp_path/'fig.png'
    r = subprocess.run([sys.executable, str(HERE.parent/'benchmarks'/'bench_rl.py'), '--quick', '--out', str(out), '--figure', str(fig)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    text = out.read_text()
    assert '<!-- bench:rl-overhead -->' in text and '<!-- bench:rl-vs-random -->' in text
    assert '| NAS-RL, 6 layers | nasrl | reinforce | 24 |' in text and '| choices 4^5 | ppo |' in text
    assert 'Command: `python benchmarks/bench_rl.py --quick`' in text and fig.stat().st_size > 10_000
