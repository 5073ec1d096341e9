"""Build the docs site without Quarto.

`nbdev_docs` needs Quarto, which cannot be installed offline (and nbdev's `nbdev_proc_nbs` tries to
download it). This script does what nbdev does before Quarto runs — process the notebooks with nbdev's
own processors into `_proc/` (directives removed, `show_doc` rendered, hidden cells dropped) — and
then renders each processed notebook to HTML with nbconvert into `_docs/`, with an index page whose
two sections mirror `_quarto.yml`'s sidebar (library notebooks, walkthroughs). It also writes
README.md from nbs/index.ipynb. It fails when a notebook cannot be processed or holds an error output.

    python tools/build_docs.py [--out _docs] [--no-readme]
"""
import argparse, html, json, shutil, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = [('Library', 'nbs'), ('Walkthroughs', 'nas_notebooks')]


def process(root: Path) -> Path:
    from nbdev.config import get_config
    from nbdev.quarto import refresh_quarto_yml
    from nbdev.serve import proc_nbs
    import nbdev.doclinks
    refresh_quarto_yml()
    nbdev.doclinks._build_modidx()
    return proc_nbs(str(root), n_workers=2, force=True,
                    skip_file_re=r'^[_.]|^(?!.*\.(ipynb|css)$)',
                    skip_folder_re=r'^[_.]|^(nasbook|tests|benchmarks|tools|runs|build|dist)$')


def errors_in(nb) -> list:
    return [f"{o.get('ename')}: {o.get('evalue')}" for c in nb.cells if c.cell_type == 'code'
            for o in c.get('outputs', []) if o.get('output_type') == 'error']


def title_of(nb, default):
    for c in nb.cells:
        if c.cell_type == 'markdown':
            for line in c.source.splitlines():
                if line.startswith('# '): return line[2:].strip()
    fm = nb.metadata.get('title') if hasattr(nb, 'metadata') else None
    return fm or default


def render(proc: Path, out: Path) -> list:
    import nbformat
    from nbconvert import HTMLExporter
    exp = HTMLExporter(template_name='lab')
    pages, problems = [], []
    for section, folder in SECTIONS:
        for src in sorted((ROOT / folder).glob('*.ipynb')):
            p = proc / folder / src.name
            if not p.exists(): problems.append(f"{folder}/{src.name}: not processed"); continue
            nb = nbformat.read(p, as_version=4)
            errs = errors_in(nbformat.read(src, as_version=4))
            if errs: problems.append(f"{folder}/{src.name}: error outputs: {errs}")
            body, _ = exp.from_notebook_node(nb, resources={'metadata': {'name': title_of(nb, src.stem)}})
            dst = out / folder / (src.stem + '.html')
            dst.parent.mkdir(parents=True, exist_ok=True); dst.write_text(body, encoding='utf-8')
            pages.append({'section': section, 'source': f"{folder}/{src.name}", 'page': f"{folder}/{src.stem}.html",
                          'title': title_of(nb, src.stem)})
    return pages, problems


def write_index(pages, out: Path):
    items = []
    for section, _ in SECTIONS:
        lis = ''.join(f'<li><a href="{html.escape(p["page"])}">{html.escape(p["title"])}</a> '
                      f'<code>{html.escape(p["source"])}</code></li>' for p in pages if p['section'] == section)
        items.append(f'<h2>{section}</h2><ul>{lis}</ul>')
    (out / 'index.html').write_text(
        '<!doctype html><html><head><meta charset="utf-8"><title>nasbook</title></head><body>'
        '<h1>nasbook</h1><p>Neural architecture search you can read, run and extend. '
        'Rendered from the notebooks without Quarto (tools/build_docs.py).</p>' + ''.join(items) + '</body></html>',
        encoding='utf-8')
    (out / 'pages.json').write_text(json.dumps(pages, indent=1))


def write_readme(proc: Path):
    import nbformat
    from nbconvert import MarkdownExporter
    nb = nbformat.read(proc / 'nbs' / 'index.ipynb', as_version=4)
    body, res = MarkdownExporter().from_notebook_node(nb, resources={'output_files_dir': 'README_files'})
    files = res.get('outputs', {})
    if files:
        d = ROOT / 'README_files'; shutil.rmtree(d, ignore_errors=True); d.mkdir()
        for name, data in files.items(): (ROOT / name).write_bytes(data)
    (ROOT / 'README.md').write_text('<!-- generated from nbs/index.ipynb by tools/build_docs.py; edit the notebook -->\n\n'
                                    + body, encoding='utf-8')


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', default=str(ROOT / '_docs'))
    ap.add_argument('--no-readme', action='store_true')
    a = ap.parse_args(argv)
    out = Path(a.out); shutil.rmtree(out, ignore_errors=True); out.mkdir(parents=True)
    import os; os.chdir(ROOT)
    proc = process(ROOT)
    pages, problems = render(proc, out)
    write_index(pages, out)
    if not a.no_readme and (proc / 'nbs' / 'index.ipynb').exists(): write_readme(proc)
    print(f"{len(pages)} pages in {out}")
    if problems:
        print('docs build found problems:\n  ' + '\n  '.join(problems)); return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
