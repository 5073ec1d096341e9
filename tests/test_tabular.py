"Tabulated benchmarks (issue 17): the shipped tables, TabularEvaluator, the smoothing spline, regret curves, the bench's quick mode."
import gzip, importlib.util, itertools, json, math, os, subprocess, sys
from pathlib import Path

import numpy as np
import pytest
from scipy.interpolate import RBFInterpolator

from nasbook.search import SearchSpace, Int, RandomSearch, run_search
from nasbook.spline import PolyharmonicSpline
from nasbook.tabular import (DATA, SCHEMA, Table, load_table, list_tables, TabularEvaluator, RegularizedEvolution, regret_curve,
                             regret_at, evals_to_within)

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location('make_tables', ROOT/'benchmarks'/'make_tables.py')
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod); return mod


@pytest.mark.parametrize('name', ['cnn2d-digits', 'cnn4d-digits'])
def test_tables_match_their_script(name):
    mk = _script()
    space, grid, dataset = mk.TABLES[name]
    with gzip.open(DATA/f'{name}.json.gz', 'rt') as f: raw = json.load(f)
    assert raw['schema'] == mk.SCHEMA == SCHEMA and raw['name'] == name and raw['generated_by'] == 'benchmarks/make_tables.py'
    assert raw['grid'] == grid and raw['space'] == space.to_dict() and raw['evaluator']['dataset'] == dataset
    assert len(raw['seeds']) >= 3 and raw['wall_seconds_this_run'] > 0 and raw['training_seconds_total'] > 0
    assert [r['config'] for r in raw['rows']] == [dict(zip(grid, v)) for v in itertools.product(*grid.values())]
    for r in raw['rows']:
        assert set(r) == {'config', 'params', 'macs', 'valid', 'test', 'seconds'}
        assert all(len(r[k]) == len(raw['seeds']) for k in ('valid', 'test', 'seconds'))
        assert all(0 < v <= 1 for v in r['valid'] + r['test']) and all(s > 0 for s in r['seconds']) and r['macs'] > r['params'] > 0
    t = load_table(name)
    assert name in list_tables() and len(t) == len(raw['rows']) and t.space.to_dict()['dims'] == raw['space']['dims']
    assert (DATA/f'{name}.json.gz').stat().st_size < 200_000   # "a few MB at most"


def test_resnet5d_fashion_table():
    "The third table (issue 22): the spline paper's shape, 5 ResNet widths x 3 values, Fashion-MNIST subset, 3 epochs, 2 seeds."
    mk = _script(); name = 'resnet5d-fashion'
    space, grid, dataset = mk.TABLES[name]
    with gzip.open(DATA/f'{name}.json.gz', 'rt') as f: raw = json.load(f)
    assert raw['schema'] == SCHEMA and raw['grid'] == grid and raw['space'] == space.to_dict() and dataset == 'fashion-subset'
    assert raw['evaluator']['dataset'].startswith('fashion-mnist[subset') and raw['evaluator']['epochs'] == 3 and raw['seeds'] == [0, 1]
    assert raw['subset'] == {'train': 1000, 'valid': 500, 'test': 500, 'seeds': [0, 1, 2], 'depth': 1}
    assert [r['config'] for r in raw['rows']] == [dict(zip(grid, v)) for v in itertools.product(*grid.values())]
    assert len(raw['rows']) == 243 and raw['training_seconds_total'] > 0
    for r in raw['rows']:
        assert all(0 < v <= 1 for v in r['valid'] + r['test']) and all(s > 0 for s in r['seconds']) and r['macs'] > r['params'] > 0
    t = load_table(name)
    assert name in list_tables() and len(t) == 243 and len(t.grid) == 5 and (DATA/f'{name}.json.gz').stat().st_size < 200_000
    wide, narrow = t.row({'c1': 12, 'g1': 16, 'g2': 24, 'g3': 32, 'g4': 40}), t.row({'c1': 4, 'g1': 4, 'g2': 8, 'g3': 8, 'g4': 8})
    assert t.params[wide] > t.params[narrow] and t.mean[wide] > t.mean[narrow] + .05   # widths matter on this table
    m = TabularEvaluator(t)({'c1': 4, 'g1': 4, 'g2': 8, 'g3': 8, 'g4': 8}, 1)
    assert m.value == t.valid[narrow, 1] and m.cost == t.seconds[narrow, 1]


def test_tabular_evaluator_returns_stored_values():
    with gzip.open(DATA/'cnn2d-digits.json.gz', 'rt') as f: raw = json.load(f)
    t = load_table('cnn2d-digits')
    ev, mean = TabularEvaluator(t), TabularEvaluator(t, mode='mean')
    for r in raw['rows'][::7]:
        for s in range(5):
            m = ev(r['config'], s)
            k = s % len(raw['seeds'])
            assert (m.value, m.cost, m.meta['test_top1']) == (r['valid'][k], r['seconds'][k], r['test'][k])
            assert (m.meta['params'], m.meta['macs']) == (r['params'], r['macs'])
        assert mean(r['config'], 0).value == pytest.approx(np.mean(r['valid']))
        assert mean(r['config'], 0).cost == pytest.approx(np.mean(r['seconds']))
    # off-grid: the nearest grid value per dimension (ties to the smaller)
    assert ev({'w1': 16, 'w2': 16}, 0).meta['grid_config'] == {'w1': 12, 'w2': 8}     # two ties
    assert ev({'w1': 15, 'w2': 17}, 0).meta['grid_config'] == {'w1': 12, 'w2': 24}
    assert ev({'w1': 17, 'w2': 33}, 0).meta['grid_config'] == {'w1': 20, 'w2': 40}
    mn = TabularEvaluator(t, mode='mean', objective='mnas')
    i = t.row({'w1': 12, 'w2': 24})
    assert mn({'w1': 12, 'w2': 24}, 0).value == pytest.approx(t.mean[i] * (t.macs[i] / np.median(t.macs)) ** -0.07)


def test_smoothing_spline_is_rbfinterpolator():
    rng = np.random.default_rng(0)
    X, T = rng.random((25, 3)), rng.random((100, 3)); y = np.cos(X @ [2., -1., .5]) + 0.05 * rng.standard_normal(25)
    for lam in (1e-4, 1e-2, 1.):
        ours = PolyharmonicSpline(smoothing=lam).fit(X, y)(T)
        np.testing.assert_allclose(ours, RBFInterpolator(X, y, kernel='cubic', degree=1, smoothing=lam)(T), atol=1e-8)
    np.testing.assert_allclose(PolyharmonicSpline(smoothing=0.).fit(X, y)(T), PolyharmonicSpline().fit(X, y)(T), atol=1e-12)
    np.testing.assert_allclose(PolyharmonicSpline(smoothing=0.).fit(X, y)(X), y, atol=1e-9)   # interpolates
    loo = PolyharmonicSpline(smoothing='loo').fit(X, y)
    np.testing.assert_allclose(loo(T), RBFInterpolator(X, y, kernel='cubic', degree=1, smoothing=loo.lam)(T), atol=1e-8)


def _hand_table():
    rows = [{'config': {'a': a, 'b': b}, 'params': 1, 'macs': 2, 'valid': [v - .02, v + .02], 'test': [v, v], 'seconds': [1., 3.]}
            for (a, b), v in zip([(0, 0), (0, 1), (1, 0), (1, 1)], [.5, .7, .6, .9])]
    return Table({'schema': SCHEMA, 'name': 'hand', 'grid': {'a': [0, 1], 'b': [0, 1]}, 'seeds': [0, 1], 'rows': rows})


def test_regret_curve_by_hand():
    t = _hand_table()
    recs = [{'config': {'a': 0, 'b': 0}, 'value': .52, 'status': 'ok', 'cost': 1.},
            {'config': {'a': 1, 'b': 1}, 'value': .2, 'status': 'failed', 'cost': 2.},
            {'config': {'a': 1, 'b': 0}, 'value': .62, 'status': 'ok', 'cost': 3.},
            {'config': {'a': 0, 'b': 1}, 'value': .68, 'status': 'ok', 'cost': 1.},
            {'config': {'a': 1, 'b': 1}, 'value': .88, 'status': 'ok', 'cost': 3.}]
    reg, cost = regret_curve(t, recs)
    np.testing.assert_allclose(reg, [.4, .4, .3, .2, 0.]); np.testing.assert_allclose(cost, [1, 3, 6, 7, 10])
    np.testing.assert_allclose(regret_at(np.array([0., 2.9, 3., 6.5, 9.99, 10.]), reg, cost), [np.inf, .4, .4, .3, .2, 0.])
    assert (evals_to_within(reg, .2), evals_to_within(reg, 0.), evals_to_within(reg[:4], .1)) == (4., 5., math.inf)
    # through run_search, mean mode: regret never negative and ends at 0 once the whole grid is seen
    res = run_search(RandomSearch(t.space, seed=1), TabularEvaluator(t, mode='mean'), 20, progress=False)
    r, _ = regret_curve(t, res.records)
    assert (r >= 0).all() and r[-1] == 0.


def test_regularized_evolution_seeded_and_on_grid():
    t = load_table('cnn4d-digits')
    runs = [run_search(RegularizedEvolution(t.space, seed=3), TabularEvaluator(t), 25, seed=3, progress=False) for _ in range(2)]
    assert [r['config'] for r in runs[0].records] == [r['config'] for r in runs[1].records]
    assert all(t.space.validate(r['config']) for r in runs[0].records)


def test_bench_search_quick(tmp_path):
    env = {**os.environ, 'PYTHONPATH': str(ROOT), 'MPLBACKEND': 'Agg', 'OMP_NUM_THREADS': '1'}
    out = subprocess.run([sys.executable, str(ROOT/'benchmarks'/'bench_search.py'), '--quick', '--out', str(tmp_path/'B.md'),
                          '--figures', str(tmp_path), '--json', str(tmp_path/'s.json')], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    res = json.loads((tmp_path/'s.json').read_text())
    assert res['seeds'] == 2 and set(res['noisy']) == {'cnn2d-digits, accuracy', 'cnn2d-digits, mnas'}
    for name, r in res['noisy']['cnn2d-digits, mnas'].items():
        assert len(r['median_regret']) == 12 and all(x >= 0 for x in r['median_regret']), name
    text = (tmp_path/'B.md').read_text()
    assert 'bench:search-tabular' in text and 'Spline + EI against TPE and GP' in text and 'Coverage of the final posterior' in text
    assert (tmp_path/'search_regret.png').stat().st_size > 10_000 and (tmp_path/'search_posterior.png').stat().st_size > 10_000
    assert {'spline + EI', 'spline + UCB'} <= set(res['noisy']['cnn2d-digits, mnas'])
    assert set(res['ei_vs']) == {'cnn2d-digits, accuracy', 'cnn2d-digits, mnas'} and len(res['coverage90']['noisy']) == 2 * 2 * 2
    assert all(0 <= c <= 1 for c in res['coverage90']['noisy'])
