"""Shapley edge importance (nbs/32_shapley.ipynb): shap agrees with enumeration, edges are restored, bad input is named."""
import numpy as np
import pytest, torch
import torch.nn as nn

from nasbook.core import ConfigError
from nasbook.shapley import exact_shapley, shap_values, edge_importance


def weighted_game(n, seed):
    "A random weighted game with interactions of every order: a sigmoid of a random weighted sum, plus a pairwise term."
    r = np.random.default_rng(seed)
    w, A = r.normal(size=n), np.triu(r.normal(size=(n, n)), 1)
    return lambda m: float(1 / (1 + np.exp(-(w @ m))) + m @ A @ m)


def test_kernel_shap_agrees_with_exact():
    n, v = 6, weighted_game(6, seed=3)
    exact = exact_shapley(v, n)
    np.testing.assert_allclose(exact.sum(), v(np.ones(n, bool)) - v(np.zeros(n, bool)), atol=1e-12)
    np.testing.assert_allclose(shap_values(v, n, nsamples=2 ** n, method='kernel'), exact, atol=1e-6)


class Edge(nn.Module):
    def __init__(self):
        super().__init__(); self.lin = nn.Linear(4, 3); self.enabled = True
    def forward(self, x): return self.lin(x) if self.enabled else torch.zeros(len(x), 3)

class Broken(nn.Module):
    "Three parallel edges; the forward pass fails on its 3rd call, in the middle of the enumeration."
    def __init__(self):
        super().__init__(); self.edges = nn.ModuleList(Edge() for _ in range(3)); self.calls = 0
    def forward(self, x):
        self.calls += 1
        if self.calls == 3: raise RuntimeError('boom in forward')
        return sum(e(x) for e in self.edges)


@pytest.mark.parametrize('method', ['exact', 'kernel'])
def test_enabled_restored_after_error(method):
    net = Broken(); net.edges[1].enabled = False
    edges = [(f"e{i}", e) for i, e in enumerate(net.edges)]
    with pytest.raises(RuntimeError, match='boom in forward'):
        edge_importance(net, edges, torch.randn(8, 4), torch.randint(0, 3, (8,)), method=method, nsamples=7)
    assert [e.enabled for e in net.edges] == [True, False, True]
    assert net.calls == 3 and net.training


def test_bad_method_names_method():
    net = Broken()
    with pytest.raises(ConfigError, match=r"method='shapley' is not allowed; choose one of 'exact', 'kernel', 'permutation'"):
        edge_importance(net, list(enumerate(net.edges)), torch.randn(4, 4), torch.zeros(4, dtype=torch.long), method='shapley')
    with pytest.raises(ConfigError, match=r"method='exact' is not allowed; choose one of 'kernel', 'permutation'"):
        shap_values(lambda m: 0., 3, method='exact')


def test_zero_players_refused():
    for f in (exact_shapley, shap_values):
        with pytest.raises(ConfigError, match=r"n=0 is too small"): f(lambda m: 0., 0)
    with pytest.raises(ConfigError, match=r"n=17 is too large for exact Shapley values"): exact_shapley(lambda m: 0., 17)
