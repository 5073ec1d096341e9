"""One data-parallel training, unchanged but for being launched by torchrun, for tests/test_ddp.py.
usage: torchrun --standalone --nproc_per_node=N tests/_ddp_job.py OUT (or one torchrun per node: --nnodes, --rdzv_endpoint)
Trains a BatchNorm-free MLP on 1280 digits images (nothing to pad), nasbook's small CNN (BatchNorm) and the MLP on
all 1293, for 3 epochs each at global batch 64; the first trainer saves a checkpoint after epoch 2. Rank 0 writes OUT/history.json."""
import json, sys
from pathlib import Path
import torch, torch.nn as nn
from nasbook.core import set_seed
from nasbook.data import get_dataset, TensorLoader
from nasbook.train import Trainer, small_cnn, dist_env

N_EXACT = 1280   # of the 1293 digits training images

def mlp(): return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))

def run(build, seed=5, epochs=3, save_at=None, ck=None, resume=None, n=None, **kw):
    """The recipe the test runs in one process too: seeded model, loaders at global batch 64, SGD + cosine.
    `n`: train on the first n training images only (an even n, not 2 more than a multiple of 64, leaves DistributedSampler
    nothing to pad and every rank the same tail, so 2 ranks must repeat one process up to float rounding)."""
    torch.set_num_threads(1); set_seed(seed)
    trl, val, _ = get_dataset('digits').loaders(batch_size=64, seed=seed)
    if n: trl = TensorLoader(trl.x[:n], trl.y[:n], 64, shuffle=True, seed=seed)
    t = Trainer(build(), trl, val, epochs=epochs, lr=0.05, progress=False, **kw)
    if resume: t.load(resume)
    if save_at: t.fit(save_at); t.save(ck)
    return t.fit()

if __name__ == '__main__':
    out = Path(sys.argv[1]); env = dist_env()
    a = run(mlp, save_at=2, ck=out/'mlp-epoch2.pt', n=N_EXACT)
    a.save(out/f"saved-by-rank{env['rank']}.pt")     # every rank calls save; only rank 0 writes
    b = run(small_cnn)
    c = run(mlp)
    if a.is_main:
        (out/'history.json').write_text(json.dumps({'world_size': env['world_size'], 'mlp': a.history, 'cnn': b.history, 'mlp_full': c.history,
                                                    'ddp': type(a.wrapped_model).__name__, 'loader': type(a.train_dl).__name__}))
