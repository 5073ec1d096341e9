"""Real data: Fashion-MNIST from Debian's package, read with torchvision, trained on for real."""
import torch
from conftest import require_fashion
from nasbook.core import set_seed
from nasbook.data import get_dataset
from nasbook.train import Trainer, small_cnn

def test_fashion_mnist_loads_and_trains():
    require_fashion()
    b = get_dataset('fashion-mnist')
    assert (len(b.train) + len(b.valid), len(b.test), b.input_shape, b.num_classes) == (60000, 10000, (1, 28, 28), 10)
    assert b.classes[0] == 'T-shirt/top' and abs(b.train.tensors[0].mean().item()) < 1e-3
    p = b.proxy(classes=[0, 1, 7, 9], fraction=0.05, seed=1)
    assert p.num_classes == 4 and 1000 < len(p.train) < 1300
    set_seed(0); torch.set_num_threads(1)
    trl, val, tel = get_dataset('fashion-mnist', fraction=0.1).loaders(64)
    tr = Trainer(small_cnn((1, 28, 28), 10, (16, 32)), trl, val, epochs=2, progress=False).fit()
    acc = tr.evaluate(tel)['top1']
    assert acc > 0.65, acc   # 2 epochs on 10% of the data; chance is 0.10
