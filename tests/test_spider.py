"""SpiderNet (nasbook.spider): the triangular mutation keeps cells acyclic and adds one node and two edges;
bad metric names are refused with a ConfigError that names `metric`; an interrupted search resumes from its
checkpoints without repeating finished cycles and ends where an uninterrupted one ends."""
import graphlib
import pytest
import torch

from nasbook.core import ConfigError
from nasbook.cells import edge_ends
from nasbook.data import get_dataset
from nasbook.spider import (MUTATION_METRICS, SpiderConfig, edge_scores, get_edge, random_mutations, spider_model,
                            spider_search, triangular_mutation)

OPS3 = ['skip_connect', 'max_pool_3x3', 'sep_conv_3x3']

def _acyclic(cell):
    "Topologically sortable, and every edge points forward in the cell's node order."
    preds = {v: {edge_ends(k)[0] for k in cell.edges if edge_ends(k)[1] == v} for v in cell.order}
    list(graphlib.TopologicalSorter(preds).static_order())         # raises graphlib.CycleError on a cycle
    return all(cell._pos(edge_ends(k)[0]) < cell._pos(edge_ends(k)[1]) for k in cell.edges)

@pytest.mark.parametrize('edge', ['c0/in0->0', 'c0/0->1', 'c1/in1->0', 'c2/0->1', 'c2/in2->0'])
def test_triangular_mutation_adds_one_node_two_edges(edge):
    m = spider_model(scale=2)
    i = int(edge[1])
    cell = m.cells[i]
    nodes, edges = list(cell.order), set(cell.edges)
    mut = triangular_mutation(m, edge)
    assert len(cell.order) == len(nodes) + 1 and set(nodes) < set(cell.order)
    assert set(cell.edges) == edges | {n.split('/', 1)[1] for n in mut.edges} and len(cell.edges) == len(edges) + 2
    u, v = edge_ends(edge.split('/', 1)[1]); w = (set(cell.order) - set(nodes)).pop()
    assert mut.edges == [f"c{i}/{u}->{w}", f"c{i}/{w}->{v}"]
    assert edge.split('/', 1)[1] in cell.edges                       # the original edge stays
    assert _acyclic(cell)
    for n in mut.edges: assert get_edge(m, n).live_ops() == m.config['ops']
    assert m.eval()(torch.randn(2, 1, 8, 8)).shape == (2, 10)

def test_many_random_mutations_stay_acyclic():
    m = spider_model(scale=2, ops=OPS3)
    random_mutations(m, 30, seed=3)
    assert sum(len(c.order) for c in m.cells) == 6 + 30
    assert sum(len(c.edges) for c in m.cells) == 9 + 60
    assert all(_acyclic(c) for c in m.cells)

@pytest.mark.parametrize('bad', ['variance-min', 'min-std', 'ntk', '', 'MIN-VARIANCE'])
def test_bad_metric_is_a_config_error_naming_metric(bad):
    with pytest.raises(ConfigError, match="metric="):
        SpiderConfig(metric=bad)
    with pytest.raises(ConfigError, match="metric"):
        spider_search(spider_model(scale=2, ops=OPS3), get_dataset('digits', fraction=0.1), metric=bad)
    with pytest.raises(ConfigError, match="metric"):
        edge_scores(spider_model(scale=2, ops=OPS3), None, bad)
    assert isinstance(ConfigError('x'), ValueError) and 'min-variance' in MUTATION_METRICS

def test_resume_two_then_three_cycles_matches_uninterrupted(tmp_path):
    data = get_dataset('digits', fraction=0.15)
    start = spider_model(scale=4, ops=OPS3)
    kw = dict(metric='min-variance', epochs_per_cycle=1, mutations_per_cycle=3, train_epochs=2, lr=0.05, seed=0)
    a, b, c = tmp_path / 'a', tmp_path / 'b', tmp_path / 'c'
    two = spider_search(start, data, cycles=2, out_dir=a, **kw)
    assert two['finished'] and two['cycles'] == 2
    killed = spider_search(start, data, cycles=3, out_dir=a, stop_after=2, **kw)  # cycle 3 + 1 final epoch, then "killed"
    assert killed['finished'] is False and killed['cycles_done'] == 3
    three = spider_search(start, data, cycles=3, out_dir=a, **kw)
    whole = spider_search(start, data, cycles=3, out_dir=b, **kw)
    assert three['log'][:2] == two['log'][:2]                               # finished cycles were not run again
    assert three['genotype'] == whole['genotype']
    assert three['test_top1'] == pytest.approx(whole['test_top1'], abs=1e-6)
    assert [h['train_loss'] for h in three['train_log']] == pytest.approx([h['train_loss'] for h in whole['train_log']], abs=1e-6)
    assert three['mutations'] == whole['mutations'] == 9
    # killed right after its first cycle, then resumed: the same as the uninterrupted two-cycle search
    assert spider_search(start, data, cycles=2, out_dir=c, stop_after=1, **kw)['cycles_done'] == 1
    rest = spider_search(start, data, cycles=2, out_dir=c, **kw)
    assert rest['genotype'] == two['genotype'] and rest['test_top1'] == pytest.approx(two['test_top1'], abs=1e-6)
    with pytest.raises(ConfigError, match='other settings'):
        spider_search(start, data, cycles=3, out_dir=a, **dict(kw, metric='max-mean'))

def test_ntk_lrc_settings_are_checked_and_reach_algorithm_5():
    "The Algorithm 5 settings of a search (issue 16): TE-NAS' preset, 3,000 crops and the thesis' dead-sample rule by default."
    cfg = SpiderConfig(metric='ntk-lrc')
    assert (cfg.ntk_preset, cfg.lrc_samples, cfg.dead_samples) == ('tenas', 3000, 'keep')
    with pytest.raises(ConfigError, match="ntk_preset='te-nas' is not allowed"): SpiderConfig(ntk_preset='te-nas')
    with pytest.raises(ConfigError, match="dead_samples='skip' is not allowed"): SpiderConfig(dead_samples='skip')
    with pytest.raises(ConfigError, match='lrc_samples=0 is too small'): SpiderConfig(lrc_samples=0)
    from nasbook.spider import ntk_lrc_select as from_spider
    from nasbook.ntk_lrc import ntk_lrc_select
    assert from_spider is ntk_lrc_select                                   # Algorithm 5 lives in ntk_lrc; spider uses it
