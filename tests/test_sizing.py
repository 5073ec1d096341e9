"""nasbook.compression: compression metrics (Table 4.4), Algorithm 2 allocation invariants, Algorithm 3 binary search;
nasbook.memory: Algorithm 1 measurements, sizes in context and the memory model's predictions; nasbook.execute's
sandbox failure handling."""
import math, operator, os, time
import numpy as np
import pytest, torch

from nasbook.core import ConfigError
from nasbook.compression import (soft_compression, hard_compression, compression_loss, mean_compression_loss, aim,
                                 total_loss, allocate, compression_target, compression_targets, search_depth, fits_budget)
from nasbook.memory import (MemoryTrace, op_size, SizeCache, model_memory, OpBag, MeasuredMemory, EstimatedMemory,
                            context_op_size, running_ops)
from nasbook.execute import sandboxed

# -- compression ---------------------------------------------------------------------------------------
def test_table_4_4():
    assert mean_compression_loss(torch.tensor([1., 0.]), 0.5).item() == 0
    assert mean_compression_loss(torch.tensor([.5, .5]), 0.5).item() == 0
    assert round(compression_loss(torch.tensor([1., 0.]), [.5, .5]).item(), 2) == 0.71
    assert compression_loss(torch.tensor([.5, .5]), [.5, .5]).item() == 0
    assert compression_loss(torch.tensor([.5, .5]), 0.5).item() == 0          # scalar target broadcasts

def test_soft_compression_gradient_and_hard():
    w = [torch.tensor(v, requires_grad=True) for v in (0.1, -0.1, 0.2)]
    c = soft_compression([2., 3., 5.], w)
    assert abs(c.item() - 0.7) < 1e-3
    c.backward()
    assert torch.allclose(torch.stack([x.grad for x in w]), torch.tensor([.2, .3, .5]))
    assert hard_compression([2., 3., 5.], [True, True, False]) == 0.5

def test_aim_and_total_loss():
    assert aim(0.5) == pytest.approx(0.45) and aim(0.3) == pytest.approx(0.198) and aim(0.35) == pytest.approx(0.231)
    assert total_loss(1., 2., 0.5) == 2.
    with pytest.raises(ConfigError, match="lam=-1 is too small"): total_loss(1., 2., -1)

# -- measurement ---------------------------------------------------------------------------------------
def test_memory_trace_sees_transient_peak():
    with MemoryTrace('cpu') as mt:
        a = torch.empty(250); mt.mark()
        b = torch.empty(500); del b
        mt.mark(); del a
    assert mt.marks == [1000, 1000] and mt.peak == 3000 and mt.net == 0

def test_op_size_is_a_measurement():
    kw = dict(C_in=8, C_out=8, stride=1, input_hw=8, reps=1, passes=2)
    small, big = op_size('sep_conv_3x3', batch_size=8, **kw), op_size('sep_conv_3x3', batch_size=16, **kw)
    assert 1.8 < big / small < 2.05                                          # activations scale with the batch
    assert op_size('skip_connect', batch_size=8, **kw) < small
    assert op_size('sep_conv_3x3', batch_size=8, how='peak', **kw) >= small
    with pytest.raises(ConfigError, match="how='max' is not allowed"): op_size('skip_connect', 4, 4, how='max')
    with pytest.raises(ConfigError, match="input_hw="): op_size('skip_connect', 4, 4, input_hw=(4, 0))

def test_size_cache_roundtrip(tmp_path):
    c = SizeCache(tmp_path / 's.json', 'cpu', reps=1)
    s = c.size('max_pool_3x3', 4, 4, 1, 4, 2)
    assert SizeCache(tmp_path / 's.json', 'cpu')[('max_pool_3x3', 4, 4, 1, 4, 4, 2)] == s

def test_model_memory_counts_parameters():
    x = torch.randn(2, 64, 2, 2)
    m = OpBag(['conv_3x3'], 64)
    params = sum(p.numel() * 4 for p in m.parameters())
    assert model_memory(m, x) >= 2 * params                                  # weights and their gradients

# -- Algorithm 2 ---------------------------------------------------------------------------------------
def _groups(rng):
    return {(c, d): {(e, o): float(rng.uniform(1, 10)) for e in range(int(rng.integers(1, 5))) for o in range(7)}
            for c in range(int(rng.integers(1, 4))) for d in range(int(rng.integers(1, 3)))}

@pytest.mark.parametrize('seed', range(10))
def test_allocation_invariants(seed):
    rng = np.random.default_rng(seed)
    groups, c = _groups(rng), float(rng.uniform(0, 1))
    res = {h: allocate(groups, c, h, seed=seed) for h in ('max', 'min', 'random')}
    assert res['max'].n_ops <= res['min'].n_ops
    for a in res.values():
        assert a.size <= a.target * (1 + 1e-9)
        for g, ks in a.chosen.items():
            assert len(set(ks)) == len(ks)
            s = sum(groups[g][k] for k in ks); left = [v for k, v in groups[g].items() if k not in ks]
            assert s <= c * sum(groups[g].values()) * (1 + 1e-9)
            assert not left or s + min(left) > c * sum(groups[g].values()) * (1 - 1e-12)   # greedy: nothing else fits
    assert allocate(groups, c, 'random', seed=seed) == res['random']

def test_allocation_extremes_and_errors():
    g = {'g': {'a': 1., 'b': 2.}}
    assert allocate(g, 1.0, 'max').chosen == {'g': ['b', 'a']} and allocate(g, 0.0).n_ops == 0
    with pytest.raises(ConfigError, match="heuristic='best' is not allowed"): allocate(g, 0.5, 'best')
    with pytest.raises(ConfigError, match="c_tgt has no target for groups"): allocate(g, {'h': 0.5})

# -- Algorithm 3 ---------------------------------------------------------------------------------------
def test_binary_search_extremes_and_threshold():
    assert compression_target(lambda c: True) == 1.0
    assert compression_target(lambda c: False) == 0.0
    for depth in (2, 6, 8):
        got = compression_target(lambda c: c <= 0.3, depth=depth)
        assert got <= 0.3 and 0.3 - got < 2. ** -depth
    trace = []
    compression_target(lambda c: True, depth=6, trace=trace)
    assert len(trace) == 7 and trace[-1] == (1.0, True)

def test_compression_targets_and_depth():
    assert compression_targets(lambda n, prev, c: sum(prev) + c <= 1.5, 2) == [1.0, 0.5]
    assert search_depth([1.] * 64) == 6 and search_depth([3., 1.]) == 2
    with pytest.raises(ConfigError, match="depth=1 is too small"): compression_target(lambda c: True, depth=1)

# -- sandbox -------------------------------------------------------------------------------------------
def _torch_oom(): return torch.empty(2 ** 60, dtype=torch.uint8)

def test_sandbox_results_and_failures():
    assert sandboxed(operator.mul, 6, 7) == (42, None)
    r = sandboxed(bytearray, 2 ** 62)
    assert r.value is None and r.reason.startswith('oom: MemoryError')
    assert sandboxed(os._exit, 3) == (None, 'exit code 3')
    assert sandboxed(operator.truediv, 1, 0).reason == 'error: ZeroDivisionError: division by zero'
    assert sandboxed(time.sleep, 30, timeout=0.5).reason == 'timeout after 0.5 s'
    with pytest.raises(ConfigError, match="cannot be sent to a subprocess"): sandboxed(lambda: 1)

def test_sandbox_torch_oom_and_signal():
    r = sandboxed(_torch_oom)
    assert r.reason.startswith('oom: RuntimeError') or r.reason.startswith('oom: OutOfMemoryError'), r.reason
    import signal
    assert sandboxed(os.abort).reason == f"killed by signal {int(signal.SIGABRT)} (SIGABRT)"

def test_fits_budget():
    from functools import partial
    build = partial(OpBag, ['skip_connect', 'avg_pool_3x3'], 4)
    f = fits_budget(build, 1e9, (4, 8, 8), 4, None)
    assert f.fits and f.bytes > 0 and f.reason is None
    assert not fits_budget(build, 0.9 * f.bytes, (4, 8, 8), 4, None).fits
    bad = fits_budget(partial(OpBag, ['nope'], 4), 1e9, (4, 8, 8), 4, None)
    assert not bad.fits and bad.bytes is None and bad.reason.startswith('error: ConfigError')

def _bag_at(c): return OpBag(['skip_connect'] * max(1, round(4 * c)), 4)

def test_budget_probe():
    from nasbook.compression import BudgetProbe
    probe = BudgetProbe(_bag_at, 1e9, input_shape=(4, 8, 8), batch_size=4, n_classes=None)
    assert probe(1.0) is True and len(probe.log) == 1 and probe.log[0][1].bytes > 0


# -- memory predictions ------------------------------------------------------------------------------
def _measured(m, B):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(B, *m.config['in_shape'], generator=g); y = torch.randint(0, 10, (B,), generator=g)
    return model_memory(m, x, y, steps=2)

def _small_models():
    from nasbook.core import set_seed
    from nasbook.cells import CellSupernet
    from nasbook.bonsai import compress_randomly
    from nasbook.spider import spider_model, random_mutations
    def full(seed):
        set_seed(seed); m = CellSupernet((1, 8, 8), 10, scale=4, sections=['N', 'R'], nodes=3, depth=2)
        while not m.complete: m.grow()
        return m
    sizes = MeasuredMemory(16, 'algorithm1', device='cpu').pruner_sizes(full(0))
    ms = [full(0), compress_randomly(full(1), {0: 0.3, 1: 0.9}, sizes, 'random', 1), compress_randomly(full(2), {0: 0.7, 1: 0.2}, sizes, 'random', 2)]
    set_seed(3); sp = spider_model(scale=4, sections=['N', 'R']); random_mutations(sp, 5, seed=3); ms.append(sp)
    return ms

def test_corrected_prediction_within_15_percent_and_algorithm1_over():
    B, ctx, a1 = 16, MeasuredMemory(16), MeasuredMemory(16, 'algorithm1', device='cpu')
    for m in _small_models():
        meas = _measured(m, B)
        assert abs(ctx.model_bytes(m) - meas) / meas < 0.15, (ctx.model_bytes(m), meas)
        assert a1.model_bytes(m) > 1.15 * meas                       # Algorithm 1 as stated over-predicts
        live = a1.pruner_sizes(m)
        assert a1.model_bytes(m) == a1.fixed_bytes(m) + sum(live.values())   # the thesis' additive reading, all live ops

def test_algorithm1_as_stated_is_kept():
    c = SizeCache(device='cpu', reps=1)
    mm = MeasuredMemory(8, 'algorithm1', cache=c)
    assert mm.op_bytes('sep_conv_3x3', 4, 1, (8, 8)) == c[('sep_conv_3x3', 4, 4, 1, 8, 8, 8)]
    assert abs(mm.op_bytes('max_pool_3x3', 4, 1, (8, 8)) - op_size('max_pool_3x3', 4, 4, 1, (8, 8), 8, reps=1)) < 1
    assert mm.node_bytes(4, (8, 8)) == 0.                           # Algorithm 1 prices operations only
    assert context_op_size('skip_connect', 4, 4, 1, (8, 8), 8) < op_size('skip_connect', 4, 4, 1, (8, 8), 8, reps=1)
    with pytest.raises(ConfigError, match="sizing='guess' is not allowed"): MeasuredMemory(8, 'guess')

def test_running_ops_skips_idle_edges():
    from nasbook.cells import CellSupernet
    m = CellSupernet((1, 8, 8), 10, scale=4, sections=['N'], nodes=3, depth=2)
    assert len(running_ops(m)) == m.n_live_ops()
    m.deadhead([f"c0/{k}/{o}" for k in ('in0->0', 'in1->0') for o in m.cells[0].edges[k].live_ops()], cascade=False)
    assert not any(k.startswith('c0/0->') for k in running_ops(m)) and len(running_ops(m)) < m.n_live_ops()

def test_bonsai_sizing_option():
    from nasbook.cells import CellSupernet
    from nasbook.bonsai import BonsaiConfig, assign_sizes, bonsai_search
    m = CellSupernet((1, 8, 8), 10, scale=4, sections=['N'], nodes=2, depth=2)
    a1, ctx = assign_sizes(m, 16, reps=1), assign_sizes(m, 16, sizing='context')
    assert a1.keys() == ctx.keys() and {p.size for _, p in m.pruners()} == set(ctx.values())     # the last call set the pruners
    assert all(ctx[k] < a1[k] for k in a1 if '/in/' not in k) and all(ctx[k] == a1[k] for k in a1 if '/in/' in k)
    with pytest.raises(ConfigError, match="sizing='thesis' is not allowed"): BonsaiConfig(sizing='thesis')
    r = bonsai_search(BonsaiConfig(sections=['N', 'R'], scale=4, nodes=2, depth=2, epochs=2, epochs_per_cycle=1, lam=1., lr=0.1,
                                   fraction=0.1, memory_budget='70%', search_depth=2, max_search_epochs=1, sizing='context'), progress=False)
    assert r['config']['sizing'] == 'context' and 0 < r['targets'][1] <= 1 and r['finished']

def test_spider_gate_defaults_to_the_measured_memory_model():
    from nasbook.data import get_dataset
    from nasbook.spider import spider_model, spider_search
    data = get_dataset('digits', fraction=0.1)
    start = spider_model(scale=4, sections=['N', 'R'])
    kw = dict(cycles=2, mutations_per_cycle=2, train_epochs=1, random_variant=3, batch_size=32, memory_budget='180%', progress=False)
    r = spider_search(start, data, **kw)
    assert r['config']['memory'] == 'measured'
    assert r['initial_size'] == MeasuredMemory(32).model_bytes(start) and r['budget'] == pytest.approx(1.8 * r['initial_size'])
    assert r['mutations'] > 0 and r['mutations_skipped'] > 0 and r['final_size'] < r['budget']     # the gate binds, and holds
    e = spider_search(start, data, memory='estimated', **kw)
    assert e['initial_size'] == EstimatedMemory(32).model_bytes(start)
