"""The real torchvision-backed loaders, exercised on files made here: an ImageNet-style folder of PNGs,
and MNIST's raw IDX layout (Fashion-MNIST's files have MNIST's exact format)."""
import gzip, shutil
from pathlib import Path
import numpy as np
import pytest
from PIL import Image
from conftest import require_fashion
from nasbook.data import get_dataset, FASHION_FILES, find_fashion_source, data_root
from nasbook.core import DataError

def test_imagefolder(tmp_path):
    rng = np.random.default_rng(0)
    for split, n in (('train', 6), ('val', 2)):
        for cls in ('cat', 'dog', 'emu'):
            d = tmp_path/split/cls; d.mkdir(parents=True)
            for i in range(n): Image.fromarray(rng.integers(0, 255, (40, 30, 3), dtype=np.uint8)).save(d/f"{i}.png")
    b = get_dataset('imagefolder', root=tmp_path, image_size=32, valid_frac=0.34)
    assert b.num_classes == 3 and b.classes == ['cat', 'dog', 'emu'] and b.input_shape == (3, 32, 32)
    assert (len(b.train), len(b.valid), len(b.test)) == (12, 6, 6)
    x, y = next(iter(b.loaders(4)[0])); assert tuple(x.shape) == (4, 3, 32, 32)
    p = b.proxy(classes=[0, 2]); assert p.num_classes == 2 and len(p.train) == 8 and set(int(p.train[i][1]) for i in range(8)) == {0, 1}

def test_mnist_layout_reads_idx_files(tmp_path):
    require_fashion()
    src = find_fashion_source(data_root())
    raw = tmp_path/'MNIST'/'raw'; raw.mkdir(parents=True)
    for f in FASHION_FILES:
        if (src/f).exists(): shutil.copyfile(src/f, raw/f)
        else:
            with gzip.open(src/(f + '.gz')) as i, open(raw/f, 'wb') as o: shutil.copyfileobj(i, o)
    b = get_dataset('mnist', root=tmp_path)
    assert (len(b.train) + len(b.valid), len(b.test), b.input_shape) == (60000, 10000, (1, 28, 28))
    with pytest.raises(DataError, match='mnist is not in'): get_dataset('mnist', root=tmp_path/'empty')
