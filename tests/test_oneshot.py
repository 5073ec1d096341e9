"""The shared one-shot loop (nasbook.oneshot) under BonsaiNet and SpiderNet: a kill between any two writes of a
checkpoint, or in the middle of a SpiderNet cycle, resumes to the uninterrupted result."""
import os
import pytest
import torch

from nasbook.oneshot import Killed, OneShotSearch
from nasbook.data import get_dataset
from nasbook.spider import spider_model, spider_search
from nasbook.bonsai import BonsaiConfig, bonsai_search

OPS3 = ['skip_connect', 'max_pool_3x3', 'sep_conv_3x3']
KW = dict(metric='min-variance', cycles=2, epochs_per_cycle=2, mutations_per_cycle=3, train_epochs=2, lr=0.05, seed=0, progress=False)


@pytest.fixture(scope='module')
def spider_setup():
    data, start = get_dataset('digits', fraction=0.15), spider_model(scale=4, ops=OPS3)
    return data, start, spider_search(start, data, **KW)


def _same(a, b):
    assert a['genotype'] == b['genotype']
    assert a['test_top1'] == pytest.approx(b['test_top1'], abs=1e-6)
    assert [h['train_loss'] for h in a['train_log']] == pytest.approx([h['train_loss'] for h in b['train_log']], abs=1e-6)
    assert [r['mutated'] for r in a['log']] == [r['mutated'] for r in b['log']]
    assert [r.get('valid_top1') for r in a['log']] == pytest.approx([r.get('valid_top1') for r in b['log']], abs=1e-6)


def test_spider_resumes_in_the_middle_of_a_cycle(spider_setup, tmp_path):
    data, start, whole = spider_setup
    assert whole['finished'] and whole['mutations'] == 6 and len(whole['history']) == 2 * 2 + 2
    for stop in (1, 2):                             # 1: inside cycle 1 (its first epoch); then 2 more: inside cycle 2
        part = spider_search(start, data, out_dir=tmp_path, stop_after=stop, **KW)
        assert not part['finished']
    assert part['epoch'] == 3 and part['cycles_done'] == 1
    _same(spider_search(start, data, out_dir=tmp_path, **KW), whole)


def _kill_at(k):
    real, n = os.replace, [0]
    def f(*a):
        n[0] += 1
        if n[0] > k: raise Killed()
        return real(*a)
    return f


# killed at the k+1-th rename: before progress.json of epoch 1 / before progress.json after cycle 1's milestone / before cycle 2's milestone
@pytest.mark.parametrize('k', [3, 6, 9])
def test_spider_killed_between_writes_resumes_to_the_same_result(spider_setup, tmp_path, monkeypatch, k):
    data, start, whole = spider_setup
    with monkeypatch.context() as mp:
        mp.setattr(os, 'replace', _kill_at(k))
        with pytest.raises(Killed): spider_search(start, data, out_dir=tmp_path, **KW)
    assert (tmp_path / 'checkpoint.pt').exists() and not (tmp_path / 'result.json').exists()
    _same(spider_search(start, data, out_dir=tmp_path, **KW), whole)


def test_bonsai_killed_between_writes_resumes_to_the_same_result(tmp_path, monkeypatch):
    cfg = BonsaiConfig(sections=['N', 'R'], scale=4, nodes=2, depth=2, epochs=3, cycle=1, lam=1., lr=0.1, fraction=0.2,
                       memory_budget='70%', search_depth=3, max_search_epochs=2)
    whole = bonsai_search(cfg, out_dir=tmp_path / 'whole', progress=False)
    with monkeypatch.context() as mp:
        mp.setattr(os, 'replace', _kill_at(4))      # prepare (checkpoint, progress), epoch 1 (checkpoint, progress), then killed
        with pytest.raises(Killed): bonsai_search(cfg, out_dir=tmp_path / 'killed', progress=False)
    rest = bonsai_search(cfg, out_dir=tmp_path / 'killed', progress=False)
    assert rest['genotype'] == whole['genotype'] and rest['test_top1'] == pytest.approx(whole['test_top1'], abs=1e-6)
    assert [r['epoch'] for r in rest['log']] == [1, 2, 3]
    assert [r['train_loss'] for r in rest['log']] == pytest.approx([r['train_loss'] for r in whole['log']], abs=1e-6)
