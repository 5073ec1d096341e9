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


# ---------------------------------------------------------------- issue 16: tolerance, TE-NAS preset, dead samples
from nasbook.proxies import singular_rtol, ntk_lrc_score, ntk_kernel, PRESETS, ProxySettings


def _linear_batch(kappa, n=32, d=64, seed=0):
    "n inputs whose Gram matrix X Xᵀ has condition number `kappa` (singular values spaced log-uniformly)."
    g = torch.Generator().manual_seed(seed)
    U, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    V, _ = torch.linalg.qr(torch.randn(d, n, generator=g, dtype=torch.float64))
    s = torch.logspace(0, -0.5 * math.log10(kappa), n, dtype=torch.float64)
    return (U * s) @ V.T


@pytest.mark.parametrize('target', [1e6, 1e8, 1e10])
def test_float32_threshold_keeps_large_finite_kappa(target):
    "κ of a linear model (params='weight': Θ = X Xᵀ exactly) is finite in float32 and agrees with float64 far above N·eps32."
    x64 = _linear_batch(target)
    x = x64.float()
    lin = nn.Linear(64, 1, bias=False)
    k32 = ntk_condition(lin, x, params='weight', details=True)
    k64 = ntk_condition(copy.deepcopy(lin).double(), x.double(), params='weight', details=True)
    assert k32.status == 'ok' and k32.rtol == pytest.approx((32 * torch.finfo(torch.float32).eps) ** 2)
    assert k32.kappa > 1 / (32 * torch.finfo(torch.float32).eps)                        # the old N·eps32 default called this singular
    assert k32.kappa == pytest.approx(k64.kappa, rel=1e-3)
    assert k64.kappa == pytest.approx(target, rel=0.05)                          # float32 rounding of x moves κ only a little


def test_float32_kappa_of_a_real_twin_above_old_threshold():
    "An Algorithm 5 on twin of the slim SpiderNet with κ ≈ 1e6: finite in float32 and equal to the float64 value."
    from nasbook.core import derive_seed
    from nasbook.spider import spider_model, triangular_mutation
    from nasbook.ntk_lrc import slim_model
    from nasbook.data import get_dataset
    x = get_dataset('digits').train.tensors[0][:32]
    set_seed(0); m = spider_model(scale=4)
    torch.manual_seed(0); S = slim_model(m)
    torch.manual_seed(derive_seed(0, 'mutation', 'c0/in0->0')); triangular_mutation(S, 'c0/in0->0')
    k32 = ntk_condition(S, x, params='weight', details=True)
    k64 = ntk_condition(S, x, params='weight', double=True, details=True)
    assert k32.status == k64.status == "ok" and 1 / (32 * torch.finfo(torch.float32).eps) < k32.kappa < 1e8
    assert k32.kappa == pytest.approx(k64.kappa, rel=1e-4)


@pytest.mark.parametrize('mode', ['train', 'eval'])
def test_float32_threshold_still_finds_singular_kernels(mode):
    "A duplicated sample and dead samples stay singular in float32: their λmin/λmax is orders below the threshold."
    set_seed(0)
    net = small_cnn((1, 8, 8), 10, widths=(8, 16))
    x = torch.randn(32, 1, 8, 8)
    assert ntk_condition(net, x, mode=mode, details=True).status == 'ok'
    xd = torch.cat([x[:31], x[:1]])
    with pytest.warns(ProxyWarning, match='singular'):
        c = ntk_condition(net, xd, mode=mode, details=True)
    assert c.kappa == math.inf and c.lam_min <= 1e-2 * c.rtol * c.lam_max      # two orders of margin, not a close call
    assert singular_rtol(32) == pytest.approx(1.45e-11, rel=0.01) and singular_rtol(32, torch.float64) == 32 * torch.finfo(torch.float64).eps


def test_dead_samples_reported_and_droppable():
    "Samples whose logits are the bias alone are named; two make the kernel singular; 'drop' measures the rest."
    set_seed(3)
    mlp = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 3))
    with torch.no_grad(): mlp[0].weight.mul_(5.); mlp[0].bias.fill_(-1.)   # every unit dead near the origin
    a = torch.rand(12) * 2 * math.pi
    x = 3 * torch.stack([a.cos(), a.sin()], 1)
    x[[3, 7]] = 0.01 * x[[3, 7]]
    test_dead = [i for i in range(12) if (mlp[0](x[i]) <= 0).all()]
    assert test_dead == [3, 7]                                               # the construction worked
    with pytest.warns(ProxyWarning, match=r'2 sample\(s\) of the batch are dead \(indices \[3, 7\]'):
        c = ntk_condition(mlp, x, details=True)
    assert (c.status, c.dead) == ('singular', (3, 7))
    d = ntk_condition(mlp, x, dead_samples='drop', details=True)
    assert d.status == 'ok' and d.n == 10 and d.dead == (3, 7)
    live = ntk_condition(mlp, x[[i for i in range(12) if i not in (3, 7)]], details=True)
    assert d.kappa == pytest.approx(live.kappa, rel=1e-9)
    with pytest.raises(ConfigError, match="dead_samples='skip' is not allowed"): ntk_condition(mlp, x, dead_samples='skip')


def tenas_kappa(model, x):
    "TE-NAS' recipe, written from its description: train mode, one backward of ones per sample's logits on the batched output,"
    "the gradients of parameters named 'weight' that received one, Gram by einsum, κ = λmax/λmin (eigvalsh for symeig)."
    net = copy.deepcopy(model).train()
    logit = net(x)
    if isinstance(logit, tuple): logit = logit[0]
    rows = []
    for i in range(len(x)):
        net.zero_grad()
        logit[i:i + 1].backward(torch.ones_like(logit[i:i + 1]), retain_graph=True)
        rows.append(torch.cat([W.grad.view(-1).detach().clone() for name, W in net.named_parameters() if 'weight' in name and W.grad is not None]))
    g = torch.stack(rows).double()
    ev = torch.linalg.eigvalsh(torch.einsum('nc,mc->nm', g, g))
    return (ev[-1] / ev[0]).item()


def tenas_regions(model, crops, batch=1000):
    "TE-NAS' collector, written from its description: hook nn.ReLU where the input is 4-D, batches of `batch` in train mode,"
    "sign of the concatenated features, and count Σ 1/(number of samples sharing a pattern) by the pairwise-difference product."
    net, feats, acts = copy.deepcopy(model).train(), [], []
    hooks = [m.register_forward_hook(lambda m, i, o: feats.append(o.detach()) if len(i[0].size()) == 4 else None)
             for m in net.modules() if isinstance(m, nn.ReLU)]
    with torch.no_grad():
        for a in range(0, len(crops), batch):
            feats.clear(); net(crops[a:a + batch])
            acts.append(torch.sign(torch.cat([f.view(len(f), -1) for f in feats], 1)))
    for h in hooks: h.remove()
    A = torch.cat(acts).double()
    res = A @ (1 - A).T; res = res + res.T                                       # non-zero: the two patterns differ
    same = (1 - torch.sign(res)).sum(1)
    return int(round((1. / same).sum().item()))


def test_tenas_preset_reproduces_tenas_recipe():
    from nasbook.spider import spider_model
    from nasbook.ntk_lrc import slim_model, lrc_copy, lrc_crops
    from nasbook.data import get_dataset
    X = get_dataset('digits').train.tensors[0]
    x, crops = X[:32], lrc_crops(X, 3000, seed=0)
    set_seed(0)
    S = slim_model(spider_model(scale=4))
    L = lrc_copy(S)
    state = copy.deepcopy(S.state_dict())
    sc = ntk_lrc_score(S, x, lrc_model=L, lrc_x=crops, preset='tenas')
    assert sc.status == 'ok' and not sc.dead
    assert sc.kappa == pytest.approx(tenas_kappa(S, x), rel=1e-5)
    assert sc.lrc == tenas_regions(L, crops)
    assert all(torch.equal(state[k], v) for k, v in S.state_dict().items())     # running statistics untouched
    alt = ntk_lrc_score(S, x, lrc_model=L, lrc_x=crops, preset='nasbook')         # all parameters, every ReLU, one batch
    assert alt.kappa != pytest.approx(sc.kappa, rel=1e-3) and alt.lrc != sc.lrc
    assert PRESETS['tenas'] == ProxySettings('train', 'weight', 1000, 4, False)
    with pytest.raises(ConfigError, match="preset='te-nas' is not allowed"): ntk_lrc_score(S, x, preset='te-nas')
    with pytest.raises(ConfigError, match='lrc_batch=0 is too small'): ProxySettings(lrc_batch=0)
