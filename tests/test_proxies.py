"""Train-free proxies (nbs/31_proxies.ipynb): κ against an independent autograd loop, the singular and
non-finite cases, exact region counts of line arrangements, and bad input."""
import copy, math, warnings
import pytest, torch
import torch.nn as nn

from nasbook.core import ConfigError, set_seed
from nasbook.proxies import ProxyWarning, ntk_condition, ntk_gram, linear_regions, joint_rank, accept_mutation
from nasbook.train import small_cnn


def naive_kappa(model, x, train):
    "κ from per-sample torch.autograd.grad of the summed logits, one sample at a time, on a copy of the model."
    m = copy.deepcopy(model).train(train)
    out = m(x)
    ps = [p for p in m.parameters() if p.requires_grad]
    J = torch.stack([torch.cat([g.reshape(-1) for g in torch.autograd.grad(out[i].sum(), ps, retain_graph=True)])
                     for i in range(len(x))]).double()
    lam = torch.linalg.eigvalsh(J @ J.T)
    return (lam[-1] / lam[0]).item()


@pytest.mark.parametrize('mode', ['train', 'eval'])
def test_kappa_matches_naive_loop(mode):
    set_seed(0)
    model, x = small_cnn((1, 8, 8), 10, widths=(6, 12)), torch.randn(10, 1, 8, 8)
    state = copy.deepcopy(model.state_dict())
    kappa = ntk_condition(model, x, mode=mode)
    assert math.isfinite(kappa) and kappa >= 1
    assert kappa == pytest.approx(naive_kappa(model, x, mode == 'train'), rel=1e-4)
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())   # running statistics untouched


def test_singular_and_nonfinite():
    set_seed(1)
    mlp = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 3))
    x = torch.rand(8, 2) * 2 - 1
    live = copy.deepcopy(mlp)
    with torch.no_grad(): mlp[0].bias.fill_(-1000.)                 # every ReLU dead on every sample
    with pytest.warns(ProxyWarning, match='singular'):
        c = ntk_condition(mlp, x, details=True)
    assert c.kappa == math.inf and c.status == 'singular'
    assert torch.linalg.matrix_rank(ntk_gram(mlp, x)).item() == 1    # only the output bias is trained
    for m in (live, mlp):                                           # NaN gradients; NaN output with finite gradients
        with torch.no_grad(): m[2].weight[0, 0] = float('nan')
        with pytest.warns(ProxyWarning, match='not finite'):
            c = ntk_condition(m, x, details=True)
        assert math.isnan(c.kappa) and c.status == 'non-finite'


def test_line_arrangements_and_saturation():
    def line_net(W, b):
        lin = nn.Linear(2, len(W))
        with torch.no_grad(): lin.weight.copy_(torch.tensor(W)); lin.bias.copy_(torch.tensor(b))
        return nn.Sequential(lin, nn.ReLU(), nn.Linear(len(W), 1))
    g = torch.linspace(-1, 1, 101)
    grid = torch.stack(torch.meshgrid(g, g, indexing='xy'), -1).reshape(-1, 2)
    assert linear_regions(line_net([[1., 1.]], [0.]), grid) == 2
    assert linear_regions(line_net([[1., 0.], [0., 1.]], [0., 0.]), grid) == 4
    assert linear_regions(line_net([[1., 1.], [1., 1.]], [0., -.5]), grid) == 3
    assert linear_regions(line_net([[1., 0.], [0., 1.], [1., 1.]], [.5, .5, -.3]), grid, batch_size=777) == 7
    set_seed(2)
    wide = nn.Sequential(nn.Linear(2, 128), nn.ReLU(), nn.Linear(128, 1))
    assert linear_regions(wide, grid[::997]) <= len(grid[::997])        # never more regions than samples


def test_ranking_and_accept():
    assert joint_rank([10., 100., 1000.], [50, 30, 30]).tolist() == [2., 4.5, 5.5]
    assert accept_mutation(10., 12., 40, 40) and not accept_mutation(13., 12., 50, 40) and not accept_mutation(10., 12., 39, 40)
    assert not accept_mutation(math.inf, math.inf, 50, 40)


def test_bad_input_names_the_argument():
    mlp = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 3))
    x = torch.rand(6, 2)
    with pytest.raises(ConfigError, match=r'x must be a batch of shape \(N, \.\.\.\) with ndim >= 2'): ntk_condition(mlp, x[0])
    with pytest.raises(ConfigError, match=r'x has 1 sample\(s\); the NTK condition number needs at least 2'): ntk_condition(mlp, x[:1])
    with pytest.raises(ConfigError, match=r"mode='test' is not allowed; choose one of 'train', 'eval'"): ntk_condition(mlp, x, mode='test')
    with pytest.raises(ConfigError, match='model must be a torch.nn.Module'): ntk_condition(None, x)
    with pytest.raises(ConfigError, match='batch_size=0 is too small'): linear_regions(mlp, x, batch_size=0)
    with pytest.raises(ConfigError, match='model has no nn.ReLU modules'): linear_regions(nn.Linear(2, 3), x)
    with pytest.raises(ConfigError, match='must have one entry per candidate'): joint_rank([1., 2.], [3])
