"""Run every benchmark in this folder; each writes its own section of BENCHMARKS.md."""
import runpy, sys
from pathlib import Path

here = Path(__file__).parent
for script in sorted(here.glob('bench_*.py')):
    print(f"== {script.name}")
    sys.argv = [str(script)]
    runpy.run_path(str(script), run_name='__main__')
