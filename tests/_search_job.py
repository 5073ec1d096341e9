"""A search run as its own process, for the kill-and-resume tests.
usage: python _search_job.py JOURNAL BUDGET BATCH SLEEP"""
import json, sys, time
from nasbook.search import SearchSpace, Int, Float, RandomSearch, run_search
from nasbook.execute import FunctionEvaluator

def slow_objective(config, seed):
    time.sleep(SLEEP)
    return -((config['x'] - 0.37) ** 2) - ((config['n'] - 11) / 20) ** 2 + (seed % 1000) * 1e-6

SPACE = SearchSpace([Float('x', 0., 1.), Int('n', 1, 32)], 'job')
if __name__ == '__main__':
    journal, budget, batch, SLEEP = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    res = run_search(RandomSearch(SPACE, seed=7), FunctionEvaluator(slow_objective, 'slow_objective'), budget,
                     journal=journal, batch_size=batch, seed=7, progress=False)
    print(json.dumps({'best_config': res.best_config, 'best_value': res.best_value, 'evaluated': res.evaluated}))
