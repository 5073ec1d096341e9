"""Write one benchmark's section of BENCHMARKS.md (between markers), leaving the other sections alone."""
import datetime, platform, re, sys
from pathlib import Path
import torch

ROOT = Path(__file__).resolve().parents[1]

def machine() -> str:
    import os
    return (f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, torch {torch.__version__}, "
            f"{torch.get_num_threads()} torch threads, {'CUDA' if torch.cuda.is_available() else 'CPU only'}")

def write_section(name: str, title: str, command: str, body: str, path: Path | None = None):
    path = path or ROOT / 'BENCHMARKS.md'
    text = path.read_text() if path.exists() else ('# Benchmarks\n\nEach section is written by the script named in it; '
                                                   'rerun the command to refresh it (`make bench` runs them all).\n')
    stamp = datetime.datetime.now().strftime('%Y-%m-%d %H:%M')
    sec = (f"<!-- bench:{name} -->\n## {title}\n\nCommand: `{command}`  \nMachine: {machine()}  \nRun: {stamp}\n\n"
           f"{body.strip()}\n<!-- /bench:{name} -->")
    pat = re.compile(rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->", re.S)
    text = pat.sub(lambda m: sec, text) if pat.search(text) else text.rstrip() + '\n\n' + sec + '\n'
    from nasbook.core import atomic_write
    atomic_write(path, text)   # a benchmark killed while writing never truncates BENCHMARKS.md
    return path
