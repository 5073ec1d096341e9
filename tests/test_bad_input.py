"""The bad-input catalogue: each wrong input gets a clear error naming what was wrong (or a documented
recovery), and no journal record already written is lost."""
import hashlib, json, math, os, shutil, subprocess, sys
from pathlib import Path
import numpy as np
import pytest, torch

from nasbook.core import ConfigError, DataError, JournalError, Journal, check_range
from nasbook.data import get_dataset
from nasbook.execute import FunctionEvaluator, Measurement, TrainEvaluator, evaluate_safely, get_executor
from nasbook.search import Categorical, Float, Int, RandomSearch, SearchSpace, run_search
from nasbook.train import Trainer, small_cnn
from nasbook.ops import get_op

def digest(p): return hashlib.sha256(Path(p).read_bytes()).hexdigest()

def quad(c, seed): return -(c['x'] - 0.5) ** 2

SPACE = SearchSpace([Float('x', 0., 1.)], 'line')

@pytest.fixture
def journal(tmp_path):
    "A journal with 4 finished trials."
    run_search(RandomSearch(SPACE, seed=1), FunctionEvaluator(quad), 4, journal=tmp_path/'j.jsonl', seed=1, progress=False)
    return tmp_path/'j.jsonl'

# -- datasets ----------------------------------------------------------------------------------------
def test_unknown_dataset():
    with pytest.raises(ConfigError, match=r"dataset='imagenet-22k' is not allowed; choose one of 'digits'"): get_dataset('imagenet-22k')

def test_missing_data_offline_is_immediate(tmp_path, monkeypatch):
    import time
    t0 = time.time()
    with pytest.raises(DataError, match='cifar10 is not in .*download=True'): get_dataset('cifar10', root=tmp_path)
    monkeypatch.setenv('NASBOOK_FASHION_MNIST', str(tmp_path/'nowhere'))
    with pytest.raises(DataError, match='apt-get install dataset-fashion-mnist'): get_dataset('fashion-mnist', root=tmp_path)
    assert time.time() - t0 < 10, 'a missing dataset must fail at once, not hang on a download'

@pytest.mark.parametrize('kw,msg', [({'valid_frac': 0.}, 'valid_frac=0.0 is too small'), ({'valid_frac': 1.5}, 'valid_frac=1.5 is too large'),
                                    ({'classes': [1, 1]}, 'distinct class indices'), ({'classes': 11}, 'classes=11 is too large'),
                                    ({'fraction': -0.5}, 'fraction=-0.5 is too small')])
def test_bad_dataset_arguments(kw, msg):
    with pytest.raises(ConfigError, match=msg): get_dataset('digits', **kw)

# -- search spaces -------------------------------------------------------------------------------------
@pytest.mark.parametrize('make,msg', [
    (lambda: Int('c1', 150, 32), 'c1: bounds must satisfy low < high, got low=150, high=32'),
    (lambda: Float('lr', 0.1, 0.1), 'lr: bounds must satisfy low < high'),
    (lambda: Int('c1', '32', 150), 'c1.low must be int'),
    (lambda: Int('c1', 32.5, 150), 'c1.low must be int'),
    (lambda: Float('x', 0., math.nan), 'x.high must be finite'),
    (lambda: Float('x', -1., 1., log=True), 'needs low > 0'),
    (lambda: Categorical('op', []), 'op.choices must be a non-empty list'),
    (lambda: SearchSpace([]), 'at least one dimension'),
    (lambda: SearchSpace([('x', 0, 1)]), 'must be Int, Float or Categorical'),
])
def test_bad_spaces(make, msg):
    with pytest.raises(ConfigError, match=msg): make()

def test_config_outside_space():
    with pytest.raises(ConfigError, match=r'x=2.0 is outside x in \[0.0, 1.0\]'): SPACE.validate({'x': 2.})
    with pytest.raises(ConfigError, match=r"unknown \['y'\]"): SPACE.validate({'x': .5, 'y': 1})

# -- wrong types to the loop, the trainer, ops, executors ------------------------------------------------
@pytest.mark.parametrize('kw,msg', [({'budget': '4'}, 'budget must be int'), ({'budget': 0}, 'budget=0 is too small'),
                                    ({'budget': 4, 'batch_size': 2.5}, 'batch_size must be int'), ({'budget': 4, 'seed': -3}, 'seed=-3 is too small')])
def test_bad_run_search_arguments(kw, msg):
    with pytest.raises(ConfigError, match=msg): run_search(RandomSearch(SPACE), FunctionEvaluator(quad), progress=False, **kw)

def test_bad_trainer_and_ops():
    x = torch.zeros(4, 1, 8, 8); dl = [(x, torch.zeros(4, dtype=torch.long))]
    with pytest.raises(ConfigError, match='epochs must be int'): Trainer(small_cnn(), dl, epochs=1.5)
    with pytest.raises(ConfigError, match='lr=0 is too small'): Trainer(small_cnn(), dl, lr=0)
    with pytest.raises(ConfigError, match='momentum=1.5 is too large'): Trainer(small_cnn(), dl, momentum=1.5)
    with pytest.raises(ConfigError, match="device='tpu:0' is not a torch device"): Trainer(small_cnn(), dl, device='tpu:0')
    with pytest.raises(ConfigError, match=r'widths\[1\]=0 is too small'): small_cnn(widths=(8, 0))
    with pytest.raises(ConfigError, match="op 'conv_x3' is unknown"): get_op('conv_x3', 4, 4)
    with pytest.raises(ConfigError, match="executor='gpu-farm'"): get_executor('gpu-farm')
    with pytest.raises(ConfigError, match='workers=0 is too small'): get_executor('process', workers=0)

# -- NaN and inf measurements ------------------------------------------------------------------------------
def test_nan_and_inf_are_diverged_not_crashes(tmp_path):
    with pytest.raises(ConfigError, match='is not finite'): Measurement(math.inf)
    def sometimes_nan(c, seed): return math.nan if c['x'] > 0.5 else c['x']
    res = run_search(RandomSearch(SPACE, seed=0), FunctionEvaluator(sometimes_nan), 10, journal=tmp_path/'j.jsonl', progress=False)
    st = {r['status'] for r in Journal(tmp_path/'j.jsonl').records}
    assert st == {'ok', 'diverged'} and len(res.records) == 10
    assert all(r['value'] is None for r in res.records if r['status'] == 'diverged')
    assert res.best_value <= 0.5
    text = (tmp_path/'j.jsonl').read_text(); assert 'NaN' not in text and 'Infinity' not in text

def test_exceptions_become_failed_measurements(tmp_path):
    def explodes(c, seed):
        if c['x'] < 0.3: raise MemoryError('CUDA out of memory (simulated)')
        return c['x']
    res = run_search(RandomSearch(SPACE, seed=0), FunctionEvaluator(explodes), 8, journal=tmp_path/'j.jsonl', progress=False)
    failed = [r for r in res.records if r['status'] == 'failed']
    assert failed and all('out of memory' in r['meta']['error'] for r in failed)

def test_diverging_training_is_a_measurement():
    m = evaluate_safely(TrainEvaluator(epochs=1, lr=1e6), {'w1': 8, 'w2': 8}, 0)
    assert m.status == 'diverged' and m.value is None and 'loss became' in m.meta['error']

# -- journals ------------------------------------------------------------------------------------------------
def test_corrupt_line_in_the_middle_is_an_error_and_nothing_is_touched(journal):
    lines = journal.read_text().splitlines(True)
    lines.insert(2, '{"trial": 9, "config": {}, "value": 0.1, "status": "ok"\n')  # a broken line mid-file
    journal.write_text(''.join(lines)); d = digest(journal)
    with pytest.raises(JournalError, match=r'j.jsonl:3: not valid JSON'): Journal(journal)
    with pytest.raises(JournalError, match='not valid JSON'):
        run_search(RandomSearch(SPACE, seed=1), FunctionEvaluator(quad), 6, journal=journal, seed=1, progress=False)
    assert digest(journal) == d

@pytest.mark.parametrize('bad,msg', [('{"trial": 1, "config": {}, "value": NaN, "status": "ok"}', 'value must be a finite number'),
                                     ('{"trial": "1", "config": {}, "status": "ok", "value": 1}', 'trial must be int'),
                                     ('[1, 2]', 'must be a JSON object'),
                                     ('{"trial": 0, "config": {"x": 0.1}, "value": 0.1, "status": "ok"}', 'trial 0 appears twice'),
                                     ('{"trial": 7, "config": {}, "value": 1, "status": "done"}', "status='done'")])
def test_invalid_records_are_named(journal, bad, msg):
    with open(journal, 'a') as f: f.write(bad + '\n')
    d = digest(journal)
    with pytest.raises(JournalError, match=msg): Journal(journal)
    assert digest(journal) == d

def test_journal_of_another_search_is_refused(journal):
    d = digest(journal)
    with pytest.raises(JournalError, match='belongs to another search'):
        run_search(RandomSearch(SPACE, seed=2), FunctionEvaluator(quad), 6, journal=journal, seed=2, progress=False)
    assert digest(journal) == d

def test_appends_never_overwrite(journal):
    j = Journal(journal); d = digest(journal)
    with pytest.raises(JournalError, match='trial 0 is already in'): j.append({'trial': 0, 'config': {}, 'value': 1., 'status': 'ok'})
    with pytest.raises(JournalError, match="an 'ok' record needs a value"): j.append({'trial': 5, 'config': {}, 'status': 'ok'})
    assert digest(journal) == d

# -- output folders ----------------------------------------------------------------------------------------------
def test_unwritable_output_folder(tmp_path, nasbook_cmd):
    blocker = tmp_path/'a-file'; blocker.write_text('not a folder')
    with pytest.raises(JournalError, match='cannot create the journal folder'): Journal(blocker/'sub'/'j.jsonl')
    out = subprocess.run([nasbook_cmd, 'random', '--budget', '1', '--out', str(blocker/'run')], capture_output=True, text=True)
    assert out.returncode == 2 and 'cannot create the folder' in out.stderr and 'Traceback' not in out.stderr
    ro = tmp_path/'ro'; ro.mkdir(); ro.chmod(0o500)
    if os.geteuid() != 0:
        with pytest.raises(JournalError, match='not writable'): Journal(ro/'j.jsonl')
    else:   # root ignores permissions (CAP_DAC_OVERRIDE): check in a child that has given that capability up, so CI runs it too
        setpriv = shutil.which('setpriv')
        assert setpriv, 'setpriv (util-linux) is needed to test a read-only folder as root'
        code = (f"from nasbook.core import Journal, JournalError\ntry: Journal({str(ro/'j.jsonl')!r}); print('ACCEPTED')\n"
                "except JournalError as e: print('REFUSED', e)")
        env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
        r = subprocess.run([setpriv, '--bounding-set=-dac_override,-dac_read_search', sys.executable, '-c', code],
                           capture_output=True, text=True, env=env)
        assert 'REFUSED' in r.stdout and 'not writable' in r.stdout, (r.stdout, r.stderr[-2000:])
