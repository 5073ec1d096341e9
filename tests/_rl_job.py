"""An RL search run as its own process, for the kill-and-resume test.
usage: python _rl_job.py JOURNAL BUDGET BATCH SLEEP METHOD"""
import json, sys
from nasbook.search import run_search
from nasbook.rl import NASRLSpace, RLSearch, TokenMatch

def search(journal, budget, batch, sleep, method) -> dict:
    space = NASRLSpace(3)
    st = RLSearch(space, seed=11, method=method, batch=4, lr=0.01, entropy_weight=1e-3)
    res = run_search(st, TokenMatch(space, seed=2, delay=sleep), budget, journal=journal, batch_size=batch, seed=11, progress=False)
    return {'best_config': res.best_config, 'best_value': res.best_value, 'evaluated': res.evaluated, 'baseline': st.baseline,
            'updates': st.updates, 'weights': float(sum(p.detach().double().abs().sum() for p in st.controller.parameters()))}

if __name__ == '__main__':
    journal, budget, batch, sleep, method = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
    print(json.dumps(search(journal, budget, batch, sleep, method)))
