"""A tiny transfer study run as its own process, for the kill-and-resume test.
usage: python _transfer_job.py OUT"""
import json, sys, torch
from nasbook.transfer import run_study, TransferProtocol, SearchScale

KW = dict(methods=['random', 'nasib'], sources=['digits-classes5', 'digits-frac50'], seeds=1,
          target={'dataset': 'digits', 'train': 400, 'test': 200},
          protocol=TransferProtocol(C=4, epochs=1), scale=SearchScale(seconds=1, nasib_layers=3, nasib_m=2, scale=4), progress=False)

if __name__ == '__main__':
    torch.set_num_threads(1)
    res = run_study(sys.argv[1], **KW)
    print(json.dumps({'evaluated': res.evaluated, 'cells': len(res.records)}))
