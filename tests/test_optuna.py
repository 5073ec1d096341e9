"""nasbook.optuna: SplineSampler behaves as an Optuna sampler and as Algorithm 1; export_optuna writes every kind of
search journal as an Optuna study, idempotently and read-only; optuna-dashboard shows the exported study in Chromium."""
import json, math, shutil, socket, subprocess, sys, time, urllib.request
from pathlib import Path
import pytest, torch
import optuna
from optuna.distributions import FloatDistribution, IntDistribution, CategoricalDistribution
from optuna.trial import TrialState

from nasbook.core import ConfigError
from nasbook.execute import FunctionEvaluator
from nasbook.optuna import SplineSampler, spline_space, export_optuna, read_journal, flat_params, add_export_optuna_parser
from nasbook.search import RandomSearch, run_search
from nasbook.spline_search import SplineSearch
from nasbook.tabular import TabularEvaluator

torch.set_num_threads(1)
optuna.logging.set_verbosity(optuna.logging.WARNING)
DATA = Path(__file__).parent / 'data'
BIN = Path(sys.executable).parent

def f(c): return -(c['x'] - .3) ** 2 - (math.log10(c['lr']) + 1.5) ** 2 - (c['k'] - 17) ** 2 / 200 - 0.2 * (c['op'] == 'b')
def suggest(t):
    return {'x': t.suggest_float('x', -1., 2.), 'lr': t.suggest_float('lr', 1e-3, 1., log=True), 'k': t.suggest_int('k', 1, 40),
            'op': t.suggest_categorical('op', ['a', 'b'])}

@pytest.mark.parametrize('direction', ['maximize', 'minimize'])
def test_proposals_equal_spline_search_after_the_first_independent_trial(direction):
    "No search_space: trial 0 is the independent sampler's, then every proposal is SplineSearch's (told trial 0 first)."
    sign = 1 if direction == 'maximize' else -1
    st = optuna.create_study(direction=direction, sampler=SplineSampler(seed=5))
    st.optimize(lambda t: sign * f(suggest(t)), n_trials=14)
    space = {'x': FloatDistribution(-1., 2.), 'lr': FloatDistribution(1e-3, 1., log=True), 'k': IntDistribution(1, 40),
             'op': CategoricalDistribution(['a', 'b'])}
    s = SplineSearch(spline_space(dict(sorted(space.items())))[0], seed=5)   # Optuna infers a space in name order
    from nasbook.execute import Measurement
    c0 = st.trials[0].params; s.tell(c0, Measurement(f(c0)))
    asked = []
    for _ in range(13):
        c = s.ask(); asked.append(c); s.tell(c, Measurement(f(c)))
    assert [t.params for t in st.trials[1:]] == asked

def test_seeded_study_repeats_and_seeds_differ():
    runs = []
    for seed in (0, 0, 1):
        st = optuna.create_study(direction='maximize', sampler=SplineSampler(seed=seed)); st.optimize(lambda t: f(suggest(t)), n_trials=12)
        runs.append([t.params for t in st.trials])
    assert runs[0] == runs[1] and runs[0] != runs[2]

class CountingRandom(optuna.samplers.RandomSampler):
    "Optuna's RandomSampler that remembers which parameters it was asked for."
    def __init__(self, seed): super().__init__(seed=seed); self.asked = []
    def sample_independent(self, study, trial, name, dist):
        self.asked.append((trial.number, name)); return super().sample_independent(study, trial, name, dist)

def test_what_the_spline_cannot_model_goes_to_the_independent_sampler():
    ind = CountingRandom(0)
    st = optuna.create_study(sampler=SplineSampler(seed=0, independent_sampler=ind))
    st.optimize(lambda t: t.suggest_float('x', 0, 1) ** 2 + t.suggest_float('q', 0, 1, step=0.1) + len(t.suggest_categorical('s', ['a', 'bb'])), n_trials=8)
    later = {n for k, n in ind.asked if k > 0}
    assert later == {'q'}, ind.asked                      # from trial 1 on only the stepped float is independent
    assert {n for k, n in ind.asked if k == 0} == {'x', 'q', 's'}
    assert all(abs(t.params['q'] * 10 - round(t.params['q'] * 10)) < 1e-9 for t in st.trials)

def test_enqueued_failed_pruned_and_parallel_trials():
    def obj(t):
        c = suggest(t)
        if t.number == 4: raise RuntimeError('training crashed')
        if t.number == 5: raise optuna.TrialPruned()
        if t.number == 6: return float('nan')
        return f(c)
    st = optuna.create_study(direction='maximize', sampler=SplineSampler(seed=0))
    st.enqueue_trial({'x': 0.3, 'lr': 10 ** -1.5, 'k': 17, 'op': 'a'})
    st.optimize(obj, n_trials=20, catch=(RuntimeError,))
    assert st.trials[0].params == {'x': 0.3, 'lr': 10 ** -1.5, 'k': 17, 'op': 'a'} and st.best_trial.number == 0
    assert [st.trials[i].state for i in (4, 5, 6)] == [TrialState.FAIL, TrialState.PRUNED, TrialState.FAIL]
    assert len({json.dumps(t.params, sort_keys=True) for t in st.trials}) == 20       # nothing proposed twice
    par = optuna.create_study(direction='maximize', sampler=SplineSampler(seed=0))
    par.optimize(lambda t: f(suggest(t)), n_trials=16, n_jobs=3)
    assert len(par.trials) == 16 and all(t.state == TrialState.COMPLETE for t in par.trials) and par.best_value > -0.5

def test_bad_sampler_arguments():
    for kw, msg in [({'seed': -1}, 'seed'), ({'acquisition': 'bogus'}, 'acquisition'), ({'eps': -1.}, 'eps'), ({'search_space': {'x': 1}}, 'search_space')]:
        with pytest.raises(ConfigError, match=msg): SplineSampler(**kw)

# -- export --------------------------------------------------------------------------------------------------

def _journals(tmp):
    "One journal of each kind nasbook writes: random, spline, RL over a choice space, NAS-RL architectures, a transfer grid."
    from nasbook.rl import NASRLSpace, TokenMatch, make_strategy, RLSearch, ChoiceSpace
    tab = TabularEvaluator('cnn2d-digits', mode='seed')
    run_search(RandomSearch(tab.table.space, seed=1), tab, 6, journal=tmp/'random'/'journal.jsonl', progress=False)
    run_search(SplineSearch(tab.table.space, seed=1), tab, 8, journal=tmp/'spline'/'journal.jsonl', progress=False)
    run_search(RLSearch(ChoiceSpace(dict(tab.table.grid)), seed=1, method='reinforce', batch=2), tab, 6, journal=tmp/'rl'/'journal.jsonl', progress=False)
    sp = NASRLSpace(3)
    run_search(make_strategy('reinforce', sp, 0, batch=2), TokenMatch(sp), 4, journal=tmp/'nasrl'/'journal.jsonl', progress=False)
    (tmp/'grid').mkdir(); shutil.copy(DATA/'transfer_grid_journal.jsonl', tmp/'grid'/'journal.jsonl')
    return ['random', 'spline', 'rl', 'nasrl', 'grid']

def test_export_every_kind_of_journal(tmp_path):
    url = f"sqlite:///{tmp_path/'optuna.db'}"
    for kind in _journals(tmp_path):
        before = (tmp_path/kind/'journal.jsonl').read_bytes()
        st = export_optuna(tmp_path/kind, url)
        _, meta, recs = read_journal(tmp_path/kind)
        assert st.study_name == f"nasbook:{kind}" and st.user_attrs['nasbook_meta'] == meta
        assert [t.params for t in st.trials] == [flat_params(r['config']) for r in recs], kind
        assert [t.value for t in st.trials] == [r['value'] if r['status'] == 'ok' else None for r in recs]
        assert [t.state for t in st.trials] == [TrialState.COMPLETE if r['status'] == 'ok' else TrialState.FAIL for r in recs]
        assert [(t.user_attrs['nasbook_trial'], t.user_attrs['cost'], t.user_attrs['meta'], t.user_attrs['config']) for t in st.trials] == \
               [(r['trial'], r['cost'], r['meta'], r['config']) for r in recs]
        again = export_optuna(tmp_path/kind, url)
        assert len(again.trials) == len(recs) and (tmp_path/kind/'journal.jsonl').read_bytes() == before
    assert len(optuna.get_all_study_summaries(url)) == 5
    st = optuna.load_study(study_name='nasbook:random', storage=url)
    assert st.trials[0].distributions['w1'] == IntDistribution(4, 60, step=8)
    assert optuna.load_study(study_name='nasbook:rl', storage=url).trials[0].distributions['w1'] == CategoricalDistribution([4, 12, 20, 28, 36, 44, 52, 60])

def test_export_adds_only_new_trials_of_a_resumed_search(tmp_path):
    tab = TabularEvaluator('cnn2d-digits', mode='seed')
    j = tmp_path/'rs'/'journal.jsonl'
    run_search(RandomSearch(tab.table.space, seed=2), tab, 3, journal=j, progress=False)
    log = tmp_path/'optuna.log'                                       # a JournalFileStorage
    assert len(export_optuna(tmp_path/'rs', str(log)).trials) == 3
    run_search(RandomSearch(tab.table.space, seed=2), tab, 5, journal=j, progress=False)
    st = export_optuna(tmp_path/'rs', str(log))
    assert [t.user_attrs['nasbook_trial'] for t in st.trials] == [0, 1, 2, 3, 4]

def test_export_errors_are_one_line_and_name_the_culprit(tmp_path):
    (tmp_path/'empty').mkdir()
    for args, name in [((tmp_path/'empty', f"sqlite:///{tmp_path/'o.db'}"), str(tmp_path/'empty')),
                       ((DATA/'transfer_grid_journal.jsonl', 'nosuchdb://host/x'), 'nosuchdb://host/x'),
                       ((DATA/'transfer_grid_journal.jsonl', 'sqlite:////no/such/folder/o.db'), 'sqlite:////no/such/folder/o.db')]:
        with pytest.raises(ConfigError) as e: export_optuna(*args)
        assert name in str(e.value) and '\n' not in str(e.value), str(e.value)

def test_command_function(tmp_path, capsys):
    import argparse
    p = argparse.ArgumentParser(); add_export_optuna_parser(p.add_subparsers(dest='command'))
    a = p.parse_args(['export-optuna', str(DATA/'transfer_grid_journal.jsonl'), '--storage', f"sqlite:///{tmp_path/'o.db'}", '--study-name', 'grid'])
    st = a.func(a)
    assert st.study_name == 'grid' and "3 trials" in capsys.readouterr().out

# -- optuna-dashboard in headless Chromium ------------------------------------------------------------------

def _free_port():
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


def test_dashboard_lists_every_trial_and_the_best_value(tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'tools'))
    from check_site import find_chromium, MISSING
    exe = find_chromium()
    if not exe: pytest.fail(MISSING)
    dash = shutil.which('optuna-dashboard', path=str(BIN)) or shutil.which('optuna-dashboard')
    assert dash, "optuna-dashboard is not installed: pip install nasbook[optuna]"
    tab = TabularEvaluator('cnn2d-digits', mode='seed')
    run_search(RandomSearch(tab.table.space, seed=4), tab, 7, journal=tmp_path/'rs'/'journal.jsonl', progress=False)
    url = f"sqlite:///{tmp_path/'optuna.db'}"
    st = export_optuna(tmp_path/'rs', url)
    port = _free_port()
    srv = subprocess.Popen([dash, url, '--host', '127.0.0.1', '--port', str(port), '--quiet'], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try: urllib.request.urlopen(f"{base}/api/studies", timeout=2).read(); break
            except OSError: assert srv.poll() is None, srv.stderr.read().decode()[-2000:]; time.sleep(0.3)
        sid = st._study_id
        dom = lambda page: subprocess.run([exe, '--headless', '--no-sandbox', '--disable-gpu', '--dump-dom', '--virtual-time-budget=8000',
                                           f"{base}/dashboard/studies/{sid}{page}"], capture_output=True, text=True, timeout=120).stdout
        study_page, trials_page = dom(''), dom('/trials')
        assert f"Best Trial (number={st.best_trial.number})" in study_page and repr(st.best_value) in study_page
        for t in st.trials: assert f"Trial {t.number}<" in trials_page or f"Trial {t.number} " in trials_page, t.number
        assert f"{len(st.trials)} Trials" in trials_page.replace('<!-- -->', '')
    finally:
        srv.terminate(); srv.wait(timeout=20)
    assert srv.returncode is not None
