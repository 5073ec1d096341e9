"""Six kinds of fault found by trying nasbook on inputs modelled on real users' bug reports (issue 9).
Each test is the reported input with the right value; the notebooks hold the other places of each kind."""
import gzip, json, os, shutil, warnings
from pathlib import Path
import numpy as np
import pytest
import torch
import torch.nn as nn
from PIL import Image

from conftest import require_fashion
from nasbook.core import Journal, JournalError, ConfigError, DataError, NasbookError, atomic_write, read_json, torch_load
from nasbook.data import get_dataset, FASHION_FILES, DEBIAN_FASHION


# 1. a journal whose last record lost its newline -------------------------------------------------
def _three(path):
    j = Journal(path, meta={'space': 's'})
    for t in range(3): j.append({'trial': t, 'config': {'w': t}, 'value': 0.5 + t / 10, 'status': 'ok'})

def test_journal_without_final_newline_is_made_whole(tmp_path):
    p = tmp_path / 'j.jsonl'; _three(p)
    p.write_bytes(p.read_bytes()[:-1])
    j = Journal(p, meta={'space': 's'})
    assert len(j) == 3 and j.torn is None
    j.append({'trial': 3, 'config': {'w': 3}, 'value': 0.9, 'status': 'ok'})
    again = Journal(p, meta={'space': 's'})
    assert [r['trial'] for r in again] == [0, 1, 2, 3]
    assert p.read_bytes().endswith(b'\n') and len(p.read_text().splitlines()) == 5   # meta + 4

def test_meta_line_without_newline(tmp_path):
    p = tmp_path / 'j.jsonl'; Journal(p, meta={'space': 's'})
    p.write_bytes(p.read_bytes()[:-1])
    j = Journal(p, meta={'space': 's'}); j.append({'trial': 0, 'config': {}, 'value': 1., 'status': 'ok'})
    assert len(Journal(p, meta={'space': 's'})) == 1

def test_rewritten_files_are_old_or_new(tmp_path):
    "A failing write (disk full, an unpicklable object) leaves the previous file whole."
    f = tmp_path / 'summary.json'; atomic_write(f, json.dumps({'v': 1}))
    class Boom:
        def __reduce__(self): raise RuntimeError('no')
    from nasbook.core import atomic_torch_save
    with pytest.raises(RuntimeError): atomic_torch_save({'x': Boom()}, tmp_path / 'c.pt')
    assert not (tmp_path / 'c.pt').exists()
    assert read_json(f) == {'v': 1}
    assert [p.name for p in tmp_path.iterdir()] == ['summary.json']

def test_trainer_and_config_saves_are_atomic(tmp_path):
    from nasbook.train import Trainer, small_cnn
    tr = Trainer(small_cnn(), [], epochs=1, progress=False)
    tr.save(tmp_path / 'ck.pt'); good = (tmp_path / 'ck.pt').read_bytes()
    (tmp_path / 'ck.pt').write_bytes(good[: len(good) // 3])   # a copy cut short
    with pytest.raises(NasbookError, match='ck.pt cannot be read'): Trainer(small_cnn(), [], epochs=1, progress=False).load(tmp_path / 'ck.pt')


# 2. image folders ---------------------------------------------------------------------------------
def _img(p, rng):
    p.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(p)

@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    for split, n in (('train', 4), ('val', 2)):
        for c in ('cat', 'dog'):
            for i in range(n): _img(tmp_path / split / c / f'{i}.png', rng)
    return tmp_path, rng

def test_empty_hidden_folder_is_not_a_class(folder):
    root, _ = folder
    (root / 'train' / '.ipynb_checkpoints').mkdir()
    b = get_dataset('imagefolder', root=root, image_size=8, valid_frac=0.25)
    assert b.classes == ['cat', 'dog'] and b.num_classes == 2

def test_hidden_folder_with_an_image_does_not_shift_labels(folder):
    root, rng = folder
    _img(root / 'train' / '.ipynb_checkpoints' / 'x-checkpoint.png', rng)
    _img(root / 'val' / '.ipynb_checkpoints' / 'y-checkpoint.png', rng)
    b = get_dataset('imagefolder', root=root, image_size=8, valid_frac=0.25)
    assert b.classes == ['cat', 'dog']
    labels = sorted(b.test[i][1] for i in range(len(b.test)))
    assert labels == [0, 0, 1, 1]   # val's cat is 0 and dog is 1, as in train
    assert all('.ipynb_checkpoints' not in p for p, _ in b.train.dataset.samples)

def test_val_is_labelled_by_class_name(folder):
    root, _ = folder
    shutil.rmtree(root / 'val' / 'cat')
    b = get_dataset('imagefolder', root=root, image_size=8, valid_frac=0.25)
    assert [b.test[i][1] for i in range(len(b.test))] == [1, 1]   # dog stays 1 though val has only one class

def test_unknown_or_empty_class_is_a_data_error(folder):
    root, rng = folder
    _img(root / 'val' / 'emu' / '0.png', rng)
    with pytest.raises(DataError, match=r"val has class folders the training split lacks: \['emu'\]"):
        get_dataset('imagefolder', root=root, image_size=8)
    shutil.rmtree(root / 'val' / 'emu'); (root / 'train' / 'fox').mkdir()
    with pytest.raises(DataError, match='holds no images'): get_dataset('imagefolder', root=root, image_size=8)

def test_corrupt_image_names_the_file(folder):
    root, _ = folder
    (root / 'train' / 'cat' / '0.png').write_bytes(b'\x89PNG\r\n\x1a\n' + b'\0' * 20)
    b = get_dataset('imagefolder', root=root, image_size=8, valid_frac=0.25)
    with pytest.raises(DataError, match=r'cat/0.png cannot be read'):
        for i in range(len(b.train)): b.train[i]
        for i in range(len(b.valid)): b.valid[i]


# 3. a trailing batch of one through BatchNorm in train mode ---------------------------------------
def test_linear_regions_with_trailing_single_sample():
    from nasbook.proxies import linear_regions
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 2))
    n = linear_regions(net, torch.randn(50, 3), batch_size=7)
    assert 1 <= n <= 50

def test_train_evaluator_batch_of_one_is_ok():
    from nasbook.execute import TrainEvaluator
    from nasbook.resnets import build_resnet_widths
    ev = TrainEvaluator(build_resnet_widths, 'digits', data_kw={'classes': 2}, batch_size=43, epochs=1)
    assert len(get_dataset('digits', classes=2).train) % 43 == 1   # the reported case: the last batch holds one
    m = ev({'c1': 4, 'g1': 4, 'g2': 4, 'g3': 4, 'g4': 4}, seed=0)
    assert m.status == 'ok' and 0 <= m.value <= 1


# 4. raw library errors instead of ours ------------------------------------------------------------
def _fashion_raw(into):
    "The four uncompressed Fashion-MNIST files, copied into `into` (from Debian's package or $NASBOOK_FASHION_MNIST)."
    src = Path(os.environ.get('NASBOOK_FASHION_MNIST', DEBIAN_FASHION)); into.mkdir(parents=True, exist_ok=True)
    for f in FASHION_FILES:
        if (src / f).exists(): shutil.copyfile(src / f, into / f)
        else:
            with gzip.open(src / (f + '.gz')) as i, open(into / f, 'wb') as o: shutil.copyfileobj(i, o)

def test_truncated_fashion_gz_names_the_file(tmp_path, monkeypatch):
    require_fashion()
    src = tmp_path / 'src'; _fashion_raw(tmp_path / 'plain')
    src.mkdir()
    for f in FASHION_FILES:
        with open(tmp_path / 'plain' / f, 'rb') as i, gzip.open(src / (f + '.gz'), 'wb', compresslevel=1) as o: shutil.copyfileobj(i, o)
    g = src / 'train-images-idx3-ubyte.gz'; g.write_bytes(g.read_bytes()[:100_000])
    monkeypatch.setenv('NASBOOK_FASHION_MNIST', str(src))
    with pytest.raises(DataError, match=r'train-images-idx3-ubyte.gz is truncated or corrupt'):
        get_dataset('fashion-mnist', root=tmp_path / 'root')
    assert not list((tmp_path / 'root').rglob('*.part'))      # no half file left behind

def test_truncated_idx_in_place_names_the_file(tmp_path, monkeypatch):
    require_fashion()
    raw = tmp_path / 'root' / 'FashionMNIST' / 'raw'; _fashion_raw(raw)
    (raw / 't10k-labels-idx1-ubyte').write_bytes((raw / 't10k-labels-idx1-ubyte').read_bytes()[:5000])
    with pytest.raises(DataError, match=r't10k-labels-idx1-ubyte is truncated or corrupt: 5,000 bytes'):
        get_dataset('fashion-mnist', root=tmp_path / 'root')

def test_bad_json_and_checkpoints_name_the_file(tmp_path):
    (tmp_path / 'cfg.json').write_text('{"lr": 0.1,')
    from nasbook.core import Config
    import dataclasses
    @dataclasses.dataclass
    class C(Config): lr: float = 0.1
    with pytest.raises(NasbookError, match=r'cfg.json is not valid JSON'): C.load(tmp_path / 'cfg.json')
    (tmp_path / 'x.pt').write_bytes(b'PK\x03\x04garbage')
    with pytest.raises(NasbookError, match=r'x.pt cannot be read'): torch_load(tmp_path / 'x.pt')

def test_fold_bn_untraceable_is_a_config_error():
    from nasbook.algebra import fold_bn
    class Branchy(nn.Module):
        def __init__(self): super().__init__(); self.l = nn.Linear(2, 2)
        def forward(self, x): return self.l(x) if x.sum() > 0 else x
    with pytest.raises(ConfigError, match='fold_bn cannot trace Branchy'): fold_bn(Branchy())


# 5. the spline far from the origin ----------------------------------------------------------------
@pytest.mark.parametrize('shift', [1e3, 1e6, 1e8])
def test_spline_is_translation_invariant(shift):
    from nasbook.spline import PolyharmonicSpline
    rng = np.random.default_rng(3)
    X = rng.random((12, 2)); y = np.cos(3 * X[:, 0]) + X[:, 1] ** 2; T = rng.random((40, 2))
    base = PolyharmonicSpline().fit(X, y)
    moved = PolyharmonicSpline().fit(X + shift, y)
    np.testing.assert_allclose(moved(T + shift), base(T), atol=1e-6)


# 6. a checkpoint loaded into a different schedule -------------------------------------------------
def test_checkpoint_refuses_another_schedule(tmp_path):
    from nasbook.train import Trainer, small_cnn
    from nasbook.core import set_seed
    dg = get_dataset('digits'); set_seed(0); trl, val, _ = dg.loaders(64)
    t = Trainer(small_cnn(), trl, val, epochs=4, lr=0.1, progress=False).fit(); t.save(tmp_path / 'ck.pt')
    with pytest.raises(ConfigError, match=r'epochs=4 there, 8 here'):
        Trainer(small_cnn(), trl, val, epochs=8, lr=0.1, progress=False).load(tmp_path / 'ck.pt')
    with pytest.raises(ConfigError, match=r"kind='cosine' there, 'poly' here"):
        Trainer(small_cnn(), trl, val, epochs=4, schedule='poly', progress=False).load(tmp_path / 'ck.pt')
    t8 = Trainer(small_cnn(), trl, val, epochs=8, lr=0.1, progress=False).load(tmp_path / 'ck.pt', schedule='new')
    assert t8.epoch == 4
    t8.fit(5)
    assert t8.history[-1]['lr'] < 0.1 and abs(t8.history[-1]['lr'] - t8.opt.param_groups[0]['lr']) < 1e-12
