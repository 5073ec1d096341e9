"""NASTransfer (nasbook.transfer): proxy recipes, genotypes rebuilt at another input size and class count,
rank correlations against scipy, a study grid killed with SIGKILL and resumed, and bad input."""
import json, signal, subprocess, sys, time
from pathlib import Path
import numpy as np, pytest, torch
from scipy import stats
from nasbook.core import ConfigError, Journal
from nasbook.data import get_dataset
from nasbook.transfer import (make_proxy, proxy_report, class_counts, subsample, load_source, parse_source, TransferNet, from_nasnet,
                              from_nasib, from_cells, rank_agreement, rank_table, bootstrap_tau, source_target_taus, study_grid,
                              search_cell, run_study, METHODS, TransferProtocol, SearchScale)
from conftest import require_fashion

HERE = Path(__file__).parent

@pytest.fixture(scope='module')
def digits(): return get_dataset('digits')

def test_proxy_recipes_sizes_and_balance(digits):
    n, per = len(digits.train), class_counts(digits.train)
    cl = make_proxy(digits, 'classes', classes=[1, 3, 5, 7, 9])
    assert cl.num_classes == 5 and cl.classes == ['1', '3', '5', '7', '9']
    assert len(cl.train) == per[[1, 3, 5, 7, 9]].sum()                       # every image of the kept classes
    assert set(cl.test.tensors[1].tolist()) == set(range(5))
    fr = make_proxy(digits, 'fraction', fraction=0.5, seed=1)
    assert fr.num_classes == 10 and abs(len(fr.train) - n / 2) <= 10          # same total count as 5 of 10 classes
    assert np.all(np.abs(class_counts(fr.train) - per / 2) <= 1)             # balanced: half of each class
    lt = make_proxy(digits, 'longtail', imbalance=10.)
    c = class_counts(lt.train)
    assert np.all(np.diff(c) <= 0) and abs(c[0] / c[-1] - 10) < 1.5           # decreasing, ratio ~ rho
    assert proxy_report(lt)['imbalance'] == pytest.approx(c.max() / c.min(), rel=1e-3)
    rs = make_proxy(digits, 'resolution', size=4)
    assert rs.input_shape == (1, 4, 4) and rs.train.tensors[0].shape[1:] == (1, 4, 4) and len(rs.train) == n
    # seeded: same seed, same images; another seed, other images
    same = make_proxy(digits, 'fraction', fraction=0.5, seed=1)
    assert torch.equal(same.train.tensors[0], fr.train.tensors[0])
    assert not torch.equal(make_proxy(digits, 'fraction', fraction=0.5, seed=2).train.tensors[0], fr.train.tensors[0])

def test_fashion_sources_of_the_walkthrough():
    require_fashion()
    fm = subsample(get_dataset('fashion-mnist'), train=1000, test=500)
    assert len(fm.train) == 1000 and len(fm.test) == 500 and np.ptp(class_counts(fm.train)) <= 1
    a, b = load_source('fmnist-classes5', fm), load_source('fmnist-frac50', fm)
    assert (a.num_classes, b.num_classes) == (5, 10) and abs(len(a.train) - len(b.train)) <= 10
    assert load_source('digits', fm).input_shape == (1, 8, 8)

def _forward_backward(spec, shape, k):
    net = TransferNet(spec, shape, k, C=4)
    out = net(torch.randn(3, *shape)); out.sum().backward()
    assert out.shape == (3, k) and all(p.grad is not None for p in net.classifier.parameters())

@pytest.mark.parametrize('shape,k', [((1, 28, 28), 10), ((3, 32, 32), 100), ((1, 8, 8), 5)])
def test_genotypes_rebuilt_at_another_size_and_class_count(shape, k):
    from nasbook.nasnet import NASNET_A, NASNetSpace
    from nasbook.nasib import NasibConfig, random_genotype
    from nasbook.cells import bonsai_model
    from nasbook.spider import spider_model
    g = bonsai_model((1, 8, 8), 10, scale=4, sections=['N', 'R', 'R'], nodes=2, depth=2, grow=False)
    for _ in range(3): g.grow()
    specs = [from_nasnet(NASNET_A), from_nasnet(NASNetSpace(B=3).sample(np.random.default_rng(0))),
             from_nasib(random_genotype(NasibConfig(m=3, layers=6, C=4), (1, 8, 8), 10, seed=1)),
             from_cells(g.genotype(), 'in0'), from_cells(spider_model((1, 8, 8), 10, scale=4).genotype(), 'last')]
    for s in specs: _forward_backward(s, shape, k)

def test_found_cell_transfers(digits):
    "A real (2-second) search on digits gives a spec that trains at Fashion-MNIST's size."
    small = subsample(digits, train=300, test=100)
    f = search_cell('nasnet', small, seed=0, scale=SearchScale(seconds=1, blocks=2), protocol=TransferProtocol(C=4, epochs=1))
    assert f['evaluations'] >= 2 and 0 <= f['search_top1'] <= 1
    _forward_backward(f['spec'], (1, 28, 28), 10)

def test_rank_correlations_against_scipy():
    a, b = [0.9, 0.8, 0.7, 0.6, 0.5], [0.6, 0.9, 0.7, 0.8, 0.5]
    r = rank_agreement(a, b)
    assert r['tau'] == pytest.approx(stats.kendalltau(a, b).statistic) and r['rho_p'] == pytest.approx(stats.spearmanr(a, b).pvalue)
    # by hand: ranks of b are 4,1,3,2,5 -> discordant pairs (1,2),(1,3),(1,4),(3,4): tau = (6 - 4)/10, rho = 1 - 6*14/120
    assert r['tau'] == pytest.approx(0.2) and r['rho'] == pytest.approx(0.3)
    assert rank_agreement([1, 2, 2, 3], [1, 2, 3, 4])['tau'] == pytest.approx(stats.kendalltau([1, 2, 2, 3], [1, 2, 3, 4]).statistic)  # ties: tau-b
    import pandas as pd
    df = pd.DataFrame([{'method': m, 'source': 's', 'seed': k, 'source_top1': sa + 0.01 * k, 'target_top1': ta - 0.01 * k}
                       for k in range(4) for m, sa, ta in (('a', .9, .5), ('b', .8, .6), ('c', .7, .7))])
    t = rank_table(df, 's')
    assert list(t.index) == ['c', 'b', 'a'] and list(t.source_rank) == [3, 2, 1]
    tt = source_target_taus(df, n_boot=100)
    assert tt.loc['s', 'tau'] == pytest.approx(-1.) and tt.loc['s', 'tau_lo'] == tt.loc['s', 'tau_hi'] == pytest.approx(-1.)
    noisy = df.assign(target_top1=df.target_top1 + np.random.default_rng(0).normal(0, .2, len(df)))
    lo, hi = bootstrap_tau(noisy, 's', n=300)
    assert lo < hi and lo <= rank_agreement(*rank_table(noisy, 's')[['source_top1', 'target_top1']].to_numpy().T)['tau'] <= hi

def _records(j): return Journal(j).records if Path(j).exists() else []

def test_study_grid_resumes_after_sigkill(tmp_path):
    out = tmp_path/'study'; j = out/'journal.jsonl'
    p = subprocess.Popen([sys.executable, str(HERE/'_transfer_job.py'), str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    t0 = time.time()
    while len(_records(j)) < 1:
        assert p.poll() is None, f"job ended before it was killed: {p.stderr.read().decode()}"
        assert time.time() - t0 < 300, 'job too slow'
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL); p.wait()
    before = _records(j)
    assert 1 <= len(before) < 4, 'the kill came too late to test anything'
    again = subprocess.run([sys.executable, str(HERE/'_transfer_job.py'), str(out)], capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    res = json.loads(again.stdout.strip().splitlines()[-1])
    assert res == {'evaluated': 4 - len(before), 'cells': 4}                 # finished cells were not retrained
    recs = _records(j)
    assert recs[:len(before)] == before                                        # nor rewritten
    assert sorted(r['trial'] for r in recs) == [0, 1, 2, 3]
    assert [(r['config']['method'], r['config']['source']) for r in recs] == \
           [('random', 'digits-classes5'), ('nasib', 'digits-classes5'), ('random', 'digits-frac50'), ('nasib', 'digits-frac50')]
    assert all(r['status'] == 'ok' and 0 <= r['meta']['source_top1'] <= 1 for r in recs)

def test_seeded_study_is_reproducible(tmp_path):
    "With counted budgets (evaluations, epochs) a study gives the same numbers run to run, in two folders."
    kw = dict(methods=['random', 'nasib', 'spider'], sources=['digits-frac50'], seeds=1, target={'dataset': 'digits', 'train': 300, 'test': 150},
              protocol=TransferProtocol(C=4, epochs=1), scale=SearchScale(evaluations=2, nasib_layers=3, nasib_m=2, scale=4, spider_cycles=1),
              progress=False)
    a, b = run_study(tmp_path/'a', **kw), run_study(tmp_path/'b', **kw)
    key = lambda r: (r['config'], r['value'], r['meta']['source_top1'], r['meta']['spec'], r['meta']['genotype'])
    assert [key(r) for r in a.records] == [key(r) for r in b.records] and a.evaluated == b.evaluated == 3
    assert [r['meta']['evaluations'] for r in a.records][:2] == [2, 2]       # 2 cells evaluated by random, 2 NASIB epochs

def test_bad_input(digits):
    with pytest.raises(ConfigError, match=r"method='darts' is not allowed"): study_grid(['random', 'darts'], ['digits'], 1)
    with pytest.raises(ConfigError, match=r"source 'fmnist-sharp2' is unknown"): study_grid(['random'], ['fmnist-sharp2'], 1)
    with pytest.raises(ConfigError, match=r"proxy='blur' is not allowed"): make_proxy(digits, 'blur')
    for f in (0, 0., -0.1, 1.01, float('nan')):
        with pytest.raises(ConfigError, match=r"fraction=.* must be in \(0, 1\]"): make_proxy(digits, 'fraction', fraction=f)
    with pytest.raises(ConfigError, match=r"fraction 0 % must be in \(0, 100\]|source 'fmnist-frac0' is unknown"): parse_source('fmnist-frac0')
    with pytest.raises(ConfigError, match=r"classes \[10\] are not in the dataset: digits has classes 0..9"): make_proxy(digits, 'classes', classes=[0, 10])
    with pytest.raises(ConfigError, match=r"classes=11 is not in the dataset"): make_proxy(digits, 'classes', classes=11)
    with pytest.raises(ConfigError, match=r"size=8 must be an int in \[2, 7\]"): make_proxy(digits, 'resolution', size=8)
    with pytest.raises(ConfigError, match=r"imbalance=0.5 must be"): make_proxy(digits, 'longtail', imbalance=0.5)
    with pytest.raises(ConfigError, match=r"seeds=0 is too small"): study_grid(['random'], ['digits'], 0)

def test_cli_transfer_process_executor_and_report(tmp_path, nasbook_cmd):
    out = tmp_path/'t'
    args = [nasbook_cmd, 'transfer', '--methods', 'random,nasib', '--sources', 'digits', '--seeds', '1', '--target', 'digits',
            '--target-train', '300', '--target-test', '200', '--budget', '1', '--epochs', '1', '--channels', '4',
            '--executor', 'process', '--workers', '2', '--parallel', '2', '--quiet', '--out', str(out)]
    r = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert 'source digits: methods ranked by target top-1' in r.stdout and (out/'transfer.png').stat().st_size > 5000
    assert sorted(x['config']['method'] for x in _records(out/'journal.jsonl')) == ['nasib', 'random']
    rep = subprocess.run([nasbook_cmd, 'transfer', '--report', str(out)], capture_output=True, text=True, timeout=300)
    assert rep.returncode == 0 and rep.stdout.split('journal:')[0] == r.stdout.split('journal:')[0]
    bad = subprocess.run([nasbook_cmd, 'transfer', '--methods', 'random,darts', '--out', str(out)], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "method='darts' is not allowed" in bad.stderr

def test_width_transfer_search_and_bad_input(digits, tmp_path):
    "Spline NAS over TransferNet's stage widths: the support design first, then a spline proposal; the widths found rebuild the network;"
    " a width-study journal of one budget does not resume another; every wrong argument is named."
    from nasbook.core import JournalError
    from nasbook.transfer import retrain, WIDTHS
    from nasbook.widths import width_space, search_widths, run_width_study, width_report
    cell = {'order': ['a'], 'edges': {'in1->a': ['sep_conv_3x3'], 'in0->a': ['skip_connect']}, 'out': ['a']}
    spec = {'normal': cell, 'reduce': cell}
    small = subsample(digits, train=200, test=100)
    sp = width_space(2, 5)
    assert sp.names == list(WIDTHS) and [(d.low, d.high) for d in sp.dims] == [(2, 5), (4, 10), (8, 20)]
    sw = search_widths(spec, small, TransferProtocol(epochs=1), evaluations=10, space=sp, seed=1, journal=tmp_path / 's.jsonl')
    lo, hi = [2, 4, 8], [5, 10, 20]
    assert [t[:3] for t in sw['trials'][:2]] == [hi, lo] and len(sw['trials']) == 10
    assert [t[4] for t in sw['trials'][:9]] == ['design'] * 9 and sw['trials'][9][4].startswith('spline') and sw['trials'][9][5] is not None
    again = search_widths(spec, small, TransferProtocol(epochs=1), evaluations=10, space=sp, seed=1, journal=tmp_path / 's.jsonl')
    assert [t[:5] for t in again['trials']] == [t[:5] for t in sw['trials']] and again['widths'] == sw['widths']   # resumed, labelled alike
    r = retrain(spec, small, TransferProtocol(epochs=1), seed=0, widths=sw['widths'])
    assert r['widths'] == sw['widths'] and r['params'] == sum(p.numel() for p in TransferNet(spec, (1, 8, 8), 10, widths=sw['widths']).parameters())
    assert retrain(spec, small, TransferProtocol(C=3, epochs=1), seed=0)['widths'] == [3, 6, 12]
    kw = dict(wheres=['fixed'], seeds=1, target={'dataset': 'digits', 'train': 200, 'test': 100}, protocol=TransferProtocol(C=3, epochs=1),
              evaluations=10, space=sp, progress=False)
    res = run_width_study(tmp_path / 'w', spec, **kw)
    assert res.records[0]['meta']['widths'] == [3, 6, 12] and width_report(res.records)['taus'] is None   # no 'target' cell: no τ
    with pytest.raises(JournalError):                                    # another evaluation budget is another study
        run_width_study(tmp_path / 'w', spec, **{**kw, 'evaluations': 11})
    for call, msg in [(lambda: width_space(1, 6), 'lo'), (lambda: width_space(4, 5), 'hi'),
                      (lambda: TransferNet(spec, widths=[4, 8, 16, 32]), 'widths must be the 3 stage widths'),
                      (lambda: TransferNet(spec, widths=(4, 8, 1.5)), 'widths C3'),
                      (lambda: search_widths(spec, small, evaluations=9), r'evaluations must be an int >= 10'),
                      (lambda: search_widths(spec, small, epochs=0), 'epochs'),
                      (lambda: search_widths({'normal': cell}, small), "'normal' and 'reduce'"),
                      (lambda: run_width_study(tmp_path, spec, wheres=['fmnist-frac150']), 'fraction 150 %'),
                      (lambda: run_width_study(tmp_path, spec, wheres=['target', 'target']), 'wheres repeats'),
                      (lambda: run_width_study(tmp_path, spec, seeds=0), 'seeds'),
                      (lambda: run_width_study(tmp_path, spec, epochs=0), 'epochs'),
                      (lambda: run_width_study(tmp_path, spec, evaluations=5), 'evaluations must be an int >= 10'),
                      (lambda: run_width_study(tmp_path, spec, protocol=TransferProtocol(params=4000)), 'protocol.params=4000')]:
        with pytest.raises(ConfigError, match=msg): call()

def test_width_report_pairs_width_vectors():
    "τ pairs a source's and the target's accuracies by width vector (any order, repeats averaged), over the support points by default."
    from nasbook.widths import width_report
    pts = [[4, 8, 16], [8, 16, 32], [12, 24, 48], [4, 16, 48], [12, 8, 16], [8, 8, 48]]
    rec = lambda where, trials: {'status': 'ok', 'config': {'where': where, 'seed': 0},
                                 'meta': {'widths': [8, 16, 32], 'params_target': 1000, 'search_top1': 0.5, 'target_top1': 0.5,
                                          'search_seconds': 1., 'trials': trials}}
    src = [[*c, a, 'design', None] for c, a in zip(pts, [.1, .2, .3, .4, .5, .6])]
    tgt = [[*c, a, 'design', None] for c, a in reversed(list(zip(pts, [.1, .2, .3, .4, .5, .6])))]     # same order of accuracy, other order of trials
    tgt += [[*pts[0], .05, 'design', None], [9, 9, 9, .99, 'spline', .9]]                           # a repeat (mean .075, still lowest) and a proposal
    t = width_report([rec('digits', src), rec('target', tgt)])['taus']
    assert t.loc[0, 'widths'] == 6 and t.loc[0, 'tau'] == pytest.approx(1.)
    rev = [[*c, 1 - a, 'design', None] for c, a in zip(pts, [.1, .2, .3, .4, .5, .6])]
    assert width_report([rec('digits', rev), rec('target', tgt)])['taus'].loc[0, 'tau'] == pytest.approx(-1.)
    assert width_report([rec('digits', src[:4]), rec('target', tgt)])['taus'] is None                 # fewer than 5 shared vectors

def test_cli_transfer_widths_and_report(tmp_path, nasbook_cmd):
    "`nasbook transfer --widths`: the width study from the command line (a cell from a JSON file), resumed, redrawn, and its bad input."
    cell = {'order': ['a'], 'edges': {'in1->a': ['sep_conv_3x3'], 'in0->a': ['skip_connect']}, 'out': ['a']}
    (tmp_path/'cell.json').write_text(json.dumps({'spec': {'normal': cell, 'reduce': cell}}))
    out = tmp_path/'w'
    args = [nasbook_cmd, 'transfer', '--widths', '--cell', str(tmp_path/'cell.json'), '--sources', 'digits', '--target', 'digits',
            '--target-train', '200', '--target-test', '100', '--seeds', '1', '--evaluations', '10', '--search-epochs', '1',
            '--channels', '3', '--epochs', '1', '--width-range', '2,5', '--quiet', '--out', str(out)]
    r = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    recs = _records(out/'journal.jsonl')
    assert sorted(x['config']['where'] for x in recs) == ['digits', 'fixed', 'target'] and (out/'widths.png').stat().st_size > 5000
    assert [x['meta']['widths'] for x in recs if x['config']['where'] == 'fixed'] == [[3, 6, 12]]
    assert 'widths found (C1/C2/C3)' in r.stdout and len(_records(out/'searches'/'digits-seed0.jsonl')) == 10
    again = subprocess.run(args, capture_output=True, text=True, timeout=600)     # resumed: nothing trained, the same report
    assert again.returncode == 0 and again.stdout == r.stdout and len(_records(out/'journal.jsonl')) == 3
    rep = subprocess.run([nasbook_cmd, 'transfer', '--report', str(out)], capture_output=True, text=True, timeout=300)
    assert rep.returncode == 0 and rep.stdout == r.stdout
    for extra, msg in [(['--cell', str(tmp_path/'nope.json')], 'no such file'), (['--width-range', '4,5'], 'HI >= LO + 3'),
                       (['--evaluations', '5'], 'evaluations must be an int >= 10')]:
        bad = subprocess.run(args[:-1] + [str(tmp_path/'bad')] + extra, capture_output=True, text=True, timeout=300)
        assert bad.returncode == 2 and msg in bad.stderr, (extra, bad.stderr[-300:])

def test_cell_search_resumes_from_its_own_folder(digits, tmp_path):
    "Inside a grid cell the search keeps a journal (black-box) or checkpoints (one-shot): run again on the same folder, it evaluates nothing new."
    small = subsample(digits, train=200, test=100)
    sc, pr = SearchScale(evaluations=3, blocks=2, scale=4, bonsai_epochs=2, nasib_layers=3), TransferProtocol(C=3, epochs=1)
    a = search_cell('random', small, seed=0, scale=sc, protocol=pr, out_dir=tmp_path/'r')
    recs = Journal(tmp_path/'r'/'search.jsonl').records
    assert len(recs) == 3 and a['evaluations'] == 3
    b = search_cell('random', small, seed=0, scale=sc, protocol=pr, out_dir=tmp_path/'r')
    assert b['spec'] == a['spec'] and Journal(tmp_path/'r'/'search.jsonl').records == recs     # read back, not retrained
    c = search_cell('bonsai', small, seed=0, scale=sc, protocol=pr, out_dir=tmp_path/'b')
    ck = tmp_path/'b'/'bonsai'/'checkpoint.pt'; t = ck.stat().st_mtime_ns
    d = search_cell('bonsai', small, seed=0, scale=sc, protocol=pr, out_dir=tmp_path/'b')
    assert d['spec'] == c['spec'] and d['evaluations'] == c['evaluations'] == 2 and ck.stat().st_mtime_ns == t   # no epoch trained again
