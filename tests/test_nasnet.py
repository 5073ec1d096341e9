"""NASNet (nasbook.nasnet): 200 random cell pairs of the space build and run forward (and backward) at 8×8 and
28×28; NASNet-A's parameter counts match Tables 1-3; genotypes survive encode → decode and JSON; bad input is
refused with a ConfigError that names the argument; random search on the shared loop is seeded and resumes."""
import json, math

import numpy as np
import pytest
import torch

from nasbook.core import ConfigError
from nasbook.nasnet import (NASNET_A, NASNET_OPS, NASNet, NASNetBuilder, NASNetCell, NASNetSpace, check_genotype,
                            default_concat, nasnet_op, param_count)
from nasbook.search import RandomSearch, run_search
from nasbook.execute import FunctionEvaluator

torch.set_num_threads(1)

@pytest.mark.parametrize('H', [8, 28])
def test_100_random_architectures_build_and_run(H):
    "100 per size (200 in all), at tiny widths: every sampled cell pair builds, gives logits of the right shape and a gradient."
    sp, rng = NASNetSpace(), np.random.default_rng(H)
    seen_ops, seen_concat_comb = set(), 0
    for k in range(100):
        g = sp.sample(rng)
        seen_ops |= {o for c in ('normal', 'reduce') for blk in g[c] for o in blk[2:4]}
        seen_concat_comb += sum(blk[4] == 'concat' for c in ('normal', 'reduce') for blk in g[c])
        aux = k % 3 == 0
        m = NASNet(g, C=4, N=1, num_classes=7, in_channels=1, input_size=H, aux=aux, stem_filters=4, drop_path_prob=0.2)
        m.train()
        x = torch.randn(2, 1, H, H)
        out = m(x)
        logits = out[0] if aux else out
        assert tuple(logits.shape) == (2, 7) and torch.isfinite(logits).all()
        if aux: assert tuple(out[1].shape) == (2, 7)
        logits.sum().backward()
        assert m.classifier.weight.grad is not None
    assert seen_ops == set(NASNET_OPS)          # the sample exercised all 13 operations
    assert seen_concat_comb > 100               # and many 'concat' combinations (about half of 1,000 blocks)

def test_nasnet_a_parameter_counts():
    "Trainable parameters without the auxiliary head, within 2 % of the paper (Table 1: 3.3 M; Table 3: 5.3 M)."
    cifar = NASNet(NASNET_A, C=32, N=6, num_classes=10)
    assert cifar.penultimate == 768
    n = param_count(cifar)
    assert abs(n / 3.3e6 - 1) < 0.02, n
    assert param_count(cifar, aux=True) - n > 1e6            # the auxiliary head is not what the paper counts
    mobile = NASNet(NASNET_A, C=44, N=4, num_classes=1000, stem='imagenet', stem_filters=32, input_size=224)
    assert mobile.penultimate == 1056 and abs(param_count(mobile) / 5.3e6 - 1) < 0.02

def test_rule_concat_differs_from_released_nasnet_a():
    "With the paper's 'unused states' rule the normal cell concatenates 5 states (640 filters), not 6 (768)."
    rule = {k: v for k, v in NASNET_A.items() if not k.endswith('_concat')}
    assert NASNet(rule, C=32, N=6).penultimate == 640
    assert default_concat(NASNET_A['reduce']) == [4, 5, 6] and NASNET_A['reduce_concat'] == [3, 4, 5, 6]

@pytest.mark.parametrize('H', [8, 28, 32])
def test_nasnet_a_rebuilds_at_any_size(H):
    m = NASNet(NASNET_A, C=6, N=1, num_classes=3, in_channels=3, input_size=H).eval()
    assert tuple(m(torch.randn(2, 3, H, H)).shape) == (2, 3)

def test_encode_decode_round_trip():
    sp, rng = NASNetSpace(B=3, combines=['add']), np.random.default_rng(1)
    assert sp.decisions == [2, 2, 13, 13, 1, 3, 3, 13, 13, 1, 4, 4, 13, 13, 1] * 2
    for _ in range(200):
        toks = [int(rng.integers(n)) for n in sp.decisions]
        g = sp.decode(toks)
        assert sp.encode(g) == toks
        assert sp.decode(sp.encode(json.loads(json.dumps(g)))) == g
    assert sp.decode(np.array(toks)) == sp.decode(toks)
    full = NASNetSpace()
    assert full.decode(full.encode(NASNET_A))['normal'] == NASNET_A['normal']
    assert math.isclose(full.size(), math.prod(full.decisions), rel_tol=1e-9)

@pytest.mark.parametrize('call, message', [
    (lambda: NASNetSpace(ops=[]), 'ops must be a non-empty list'),
    (lambda: NASNetSpace(B=0), 'B=0 is too small'),
    (lambda: NASNetSpace(B=2.5), 'B must be int'),
    (lambda: NASNetSpace(ops=['sep_conv_3x3', 'conv_3x3x']), "ops: 'conv_3x3x' is unknown"),
    (lambda: NASNetSpace(ops=['sep_conv_3x3', 'sep_conv_3x3']), 'ops has duplicates'),
    (lambda: NASNetSpace(combines=[]), 'combines must be'),
    (lambda: nasnet_op('max_pool_4x4', 4, 4), "op 'max_pool_4x4' is unknown"),
    (lambda: NASNetSpace().decode([0] * 10), 'tokens must have 50 entries'),
    (lambda: NASNetSpace().decode([0, 2] + [0] * 48), 'tokens[1]=2 (normal.0.input2) is outside 0..1'),
    (lambda: NASNetSpace(ops=['conv_1x1']).encode(NASNET_A), "op 'sep_conv_5x5' is unknown"),
    (lambda: check_genotype({'normal': [[0, 1, 'bogus_op', 'conv_1x1', 'add']], 'reduce': NASNET_A['reduce']}), "normal[0]: op 'bogus_op' is unknown"),
    (lambda: check_genotype({**NASNET_A, 'normal_concat': []}), 'normal_concat must be a non-empty list'),
    (lambda: NASNetCell([[0, 3, 'conv_1x1', 'conv_1x1', 'add']], None, 4, 4, 4, False, False), 'normal[0] reads hidden state 3'),
    (lambda: NASNet(NASNET_A, C=1), 'C=1 is too small'),
    (lambda: NASNet(NASNET_A, drop_path_prob=1.5), 'drop_path_prob=1.5 is too large'),
    (lambda: NASNetBuilder(N=0), 'N=0 is too small'),
])
def test_bad_input_names_the_argument(call, message):
    with pytest.raises(ConfigError) as e: call()
    assert message in str(e.value), str(e.value)

def test_random_search_is_seeded_and_uniform(tmp_path):
    "RandomSearch over the space on run_search: the same seed asks the same genotypes; the journal resumes."
    def n_sep(g, seed): return float(sum(o.startswith('sep_conv') for c in ('normal', 'reduce') for blk in g[c] for o in blk[2:4]))
    a = run_search(RandomSearch(NASNetSpace(), seed=3), FunctionEvaluator(n_sep), budget=30, journal=tmp_path / 'a.jsonl', seed=3, progress=False)
    b = run_search(RandomSearch(NASNetSpace(), seed=3), FunctionEvaluator(n_sep), budget=30, seed=3, progress=False)
    assert [r['config'] for r in a.records] == [r['config'] for r in b.records]
    lines = (tmp_path / 'a.jsonl').read_text().splitlines(True)
    (tmp_path / 'cut.jsonl').write_text(''.join(lines[:1 + 12]))
    c = run_search(RandomSearch(NASNetSpace(), seed=3), FunctionEvaluator(n_sep), budget=30, journal=tmp_path / 'cut.jsonl', seed=3, progress=False)
    assert c.evaluated == 18 and c.best_value == a.best_value
    # 20 op decisions per genotype, 3 of the 13 ops are separable: the mean count is near 20 × 3/13 ≈ 4.6
    assert abs(np.mean([r['value'] for r in a.records]) - 20 * 3 / 13) < 1.0

def test_controller_of_nasbook_rl_searches_the_cell_space():
    "The contract with nasbook.rl: NASNetSpace is a DecisionSpace; PPO over it asks valid genotypes on the shared loop."
    from nasbook.rl import RLSearch, TokenMatch, check_decision_space, random_tokens, Controller
    sp = NASNetSpace()
    ds, kinds = check_decision_space(sp)
    assert ds == sp.decisions and set(kinds) == {'input', 'op', 'combine'}
    ctl = Controller.for_space(sp, hidden=16, layers=1)
    assert ctl.kinds == {'input': 6, 'op': 13, 'combine': 2}       # inputs of block 4 choose among 6 states
    toks, lp, _ = ctl.sample(sp, 3, torch.Generator().manual_seed(0))
    for t in toks: assert sp.encode(sp.decode(t)) == t
    ev = TokenMatch(sp, seed=1)
    res = run_search(RLSearch(sp, seed=0, method='ppo', batch=4, lr=0.01), ev, budget=8, progress=False)
    assert len(res.records) == 8 and all(r['status'] == 'ok' for r in res.records)
    for r in res.records: sp.validate(r['config'])
