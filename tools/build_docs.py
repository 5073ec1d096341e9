"""Build the docs site without Quarto: nbdev's processors, then Sphinx with MyST-NB and the book theme.

`nbdev_docs` needs Quarto, which cannot be installed offline (and nbdev's `nbdev_proc_nbs` tries to
download it). This script runs what nbdev runs before Quarto: its processors write the notebooks to
`_proc/` with nbdev's directives applied, `show_doc` rendered and backticked names linked (doclinks).
What Quarto would do next, done here, before Sphinx reads the notebooks:

- the front-matter cell nbdev makes from the title cell (`# Title` + `> subtitle`) becomes the page's
  heading and lead paragraph, and its `description` the page's `<meta name="description">`;
- Quarto's cell options: `#| include: false` drops the cell, `#| echo: false` hides the code,
  `#| output: false` hides the output, `#| output: asis` turns the outputs into Markdown cells;
- `show_doc` output: the source link (with Quarto's `{target=...}` attributes) becomes a plain link
  floated right, and the signature becomes highlighted HTML (`.nbdev-signature`) whose doclinks are
  links (Quarto would print them as Markdown inside the code block);
- links to `*.ipynb` and backticked notebook names (`11_spline`, `nas_notebooks/spidernet`) point at
  the page; after the build, doclinks to the published site (settings.ini `doc_host` + `doc_baseurl`)
  are made relative so the site works offline and from any folder.

Why Sphinx with MyST-NB and sphinx-book-theme: MyST-NB reads the processed notebooks with their
outputs and never executes them, parses Markdown cells and `show_doc` output as MyST (dollar math,
tables, raw HTML), and the book theme gives the sidebar from a toctree, previous/next links and
Sphinx's JavaScript search index, all of which work from `file://`; sphinx-mathjax-offline ships
MathJax 3 inside a PyPI package. (mkdocs-jupyter renders with nbconvert, whose MathJax is a CDN link.)

The reading order comes from `_quarto.yml` (website.sidebar.contents: the home page, then one section
per glob, files in name order as Quarto lists them), so a new notebook appears without a list to edit.
Sphinx (config in tools/sphinx/) then renders every page with the sidebar, previous/next links,
full-text search and MathJax shipped in the build (sphinx-mathjax-offline). When Chromium is
installed, the built site is opened in headless Chromium, checked (tools/check_site.py) and
screenshots of the home page and a walkthrough are kept in `<out>/_screenshots/`.
It fails when a notebook cannot be processed or holds an error output. It also writes README.md
from nbs/index.ipynb.

    python tools/build_docs.py [--out _docs] [--no-readme] [--no-check]
"""
import argparse, configparser, html, json, os, posixpath, re, shutil, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONF_DIR = ROOT / 'tools' / 'sphinx'


def settings(root: Path = ROOT) -> dict:
    cp = configparser.ConfigParser(interpolation=None); cp.read(root / 'settings.ini')
    return dict(cp['DEFAULT'])


def process(root: Path) -> Path:
    "nbdev's own processors: `_proc/` holds the notebooks as nbdev hands them to Quarto."
    from nbdev.quarto import refresh_quarto_yml
    from nbdev.serve import proc_nbs
    import nbdev.doclinks
    refresh_quarto_yml()
    nbdev.doclinks._build_modidx()
    return proc_nbs(str(root), n_workers=2, force=True,
                    skip_file_re=r'^[_.]|^(?!.*\.(ipynb|css)$)',
                    skip_folder_re=r'^[_.]|^(nasbook|tests|benchmarks|tools|runs|build|dist)$')


# ---------------------------------------------------------------- reading order (from _quarto.yml)
def front_matter(nb) -> dict:
    "The YAML front matter nbdev put in the first raw cell of a processed notebook (or {})."
    import yaml
    for c in nb.cells[:2]:
        if c.cell_type == 'raw':
            m = re.match(r"\s*---\n(.*?)\n---\s*$", c.source, re.S)
            if m: return yaml.safe_load(m[1]) or {}
    return {}


def reading_order(root: Path = ROOT):
    """(home, sections) from `_quarto.yml`'s sidebar: home is the index notebook, sections a list of
    (title, [paths relative to root]) with each glob's files in name order, as Quarto lists a glob."""
    import yaml
    cfg = yaml.safe_load((root / '_quarto.yml').read_text())
    contents = cfg['website']['sidebar']['contents']
    home_rel = settings(root).get('readme_nb', 'nbs/index.ipynb')

    def expand(spec):
        specs = spec if isinstance(spec, list) else [spec]
        out = []
        for s in specs:
            s = s if isinstance(s, str) else (s.get('href') or s.get('file') or '')
            if not s: continue
            hits = sorted(str(p.relative_to(root)) for p in root.glob(s)) if any(ch in s for ch in '*?[') else [s]
            out += [h for h in hits if h.endswith('.ipynb') and not Path(h).name.startswith(('_', '.'))]
        return out

    sections = []
    for entry in contents:
        if isinstance(entry, dict) and 'section' in entry:
            sections.append((entry['section'], expand(entry.get('contents', []))))
        else:
            for p in expand(entry):
                # Quarto's `index.ipynb` is the home page; ours lives at settings.ini's readme_nb
                if Path(p).name == 'index.ipynb': continue
                sections.append(('', [p]))
    return home_rel, [(t, ps) for t, ps in sections if ps]


# ---------------------------------------------------------------- what Quarto would do to a notebook
SRC_LINK = re.compile(r'\[source\]\((\S+?)\)\{[^}\n]*\}')
LINK_ATTRS = re.compile(r'(\]\([^)\s]+\))\{[^}\n]*\}')
MD_LINK = re.compile(r'\[((?:`[^`]*`|[^\]])*)\]\(([^)\s]+)\)')
NB_LINK = re.compile(r'(\]\()([^)\s#:]+\.ipynb)(#[^)\s]*)?\)')
FENCE = re.compile(r'^```(\w*)\n(.*?)\n```$', re.S | re.M)
TICKED = re.compile(r'(?<![\[\w])`((?:nbs/|nas_notebooks/)?[\w.-]+?)(?:\.ipynb)?`(?!\]\()')


def plain(md: str) -> str:
    "Markdown text as plain text (for <meta name=description>): no backticks, emphasis or line breaks."
    return ' '.join(re.sub(r'[`*]', '', md).split())


def directives(src: str):
    "Quarto/nbdev cell options (`#| key: value`, `#| flag`) at the top of a code cell, and the rest."
    opts, lines = {}, src.splitlines()
    i = 0
    while i < len(lines) and (lines[i].startswith('#|') or (opts and not lines[i].strip())):
        body = lines[i][2:].strip()
        if body:
            k, _, v = body.partition(':')
            opts[k.strip()] = v.strip().lower() if _ else True
        i += 1
    return opts, '\n'.join(lines[i:]).strip('\n')


def signature_html(lang: str, code: str) -> str:
    "A code block whose Markdown links become real links inside Pygments' highlighting."
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import get_lexer_by_name
    links = {}
    def stash(m):
        key = f"NBDEVLINK{len(links)}X"; links[key] = (m[1].strip('`'), m[2]); return key
    plain = MD_LINK.sub(stash, code)
    body = highlight(plain, get_lexer_by_name(lang or 'python'), HtmlFormatter(nowrap=True))
    for key, (text, url) in links.items():
        body = body.replace(key, f'<a class="reference external" href="{html.escape(url)}">{html.escape(text)}</a>')
    body = '\n'.join(l if l.strip() else '<span></span>' for l in body.rstrip('\n').split('\n'))
    return (f'<div class="highlight-{lang or "python"} notranslate nbdev-signature"><div class="highlight">'
            f'<pre>{body}</pre></div></div>')


class Site:
    "Maps source notebooks to page names, and rewrites a notebook the way Quarto would render it."
    def __init__(self, root: Path, proc: Path, home: str, sections):
        self.root, self.proc, self.home = root, proc, home
        self.sections = sections
        self.page = {home: 'index'}          # source path -> docname (no suffix)
        for _, paths in sections:
            for p in paths:
                fm = front_matter(_read(proc / p)) if (proc / p).exists() else {}
                stem = Path(fm.get('output-file') or Path(p).name).stem
                self.page[p] = posixpath.join(posixpath.dirname(p), stem)
        pages = list(self.page.values())
        clash = sorted({d for d in pages if pages.count(d) > 1})
        if clash: raise ValueError(f"two notebooks would become the same page: {clash} (rename one, or set its output-file)")
        by_folder = {}
        for p in self.page:
            by_folder.setdefault(posixpath.dirname(p), {})[Path(p).stem] = p
        self.by_folder = by_folder

    def rel(self, src: str, target_doc: str, suffix='.ipynb') -> str:
        here = posixpath.dirname(self.page[src])
        return posixpath.relpath(target_doc, here or '.') + suffix

    def link_notebooks(self, md: str, src: str) -> str:
        folder = posixpath.dirname(src)
        def nb_link(m):
            target = posixpath.normpath(posixpath.join(folder, m[2]))
            if target not in self.page: return m[0]
            return f"{m[1]}{self.rel(src, self.page[target])}{m[3] or ''})"
        md = NB_LINK.sub(nb_link, md)
        def ticked(m):
            name = m[1]
            if '/' in name: d, stem = name.split('/', 1)
            else: d, stem = 'nbs', name
            target = self.by_folder.get(d, {}).get(stem)
            if not target or target == self.home: return m[0]
            return f"[`{m[1]}`]({self.rel(src, self.page[target])})"
        return TICKED.sub(ticked, md)

    def fix_markdown(self, md: str, src: str, doc: bool = False) -> str:
        "Quarto's Markdown as MyST reads it; `doc`: a `show_doc` output, whose code blocks are signatures."

        md = SRC_LINK.sub(lambda m: f'<a class="nbdev-source reference external" href="{html.escape(m[1])}" '
                                    f'target="_blank" rel="noopener">source</a>', md)
        md = LINK_ATTRS.sub(r'\1', md)
        md = re.sub(r'^---\s*$', '<hr class="nbdev-rule">', md, flags=re.M)
        md = FENCE.sub(lambda m: signature_html(m[1], m[2]) if doc or MD_LINK.search(m[2]) else m[0], md)
        return self.link_notebooks(md, src)

    def convert(self, src: str):
        import nbformat
        nb = _read(self.proc / src)
        fm = front_matter(nb)
        title, desc = fm.get('title') or Path(src).stem, fm.get('description') or ''
        cells = []
        md = lambda text: nbformat.v4.new_markdown_cell(text)
        head = f"# {title}\n"
        if desc: head += f"\n{{.nbdev-description}}\n{desc}\n"
        cells.append(md(head))
        for c in nb.cells:
            if c.cell_type == 'raw' and c.source.lstrip().startswith('---'): continue
            if c.cell_type == 'markdown':
                if c.source.strip().startswith('<!-- WARNING: THIS FILE WAS AUTOGENERATED'): continue
                cells.append(md(self.fix_markdown(c.source, src))); continue
            if c.cell_type != 'code': continue
            opts, code = directives(c.source)
            if opts.get('include') == 'false' or opts.get('hide') is True: continue
            echo = opts.get('echo') != 'false'
            if opts.get('output') == 'asis':
                if echo and code: cells.append(nbformat.v4.new_code_cell(code))
                for o in c.get('outputs', []):
                    data = o.get('data', {})
                    text = data.get('text/markdown') or data.get('text/html') or o.get('text') or ''
                    text = ''.join(text) if isinstance(text, list) else text
                    if text.strip(): cells.append(md(self.fix_markdown(text, src, doc='show_doc' in code)))
                continue
            outs = [] if opts.get('output') == 'false' else list(c.get('outputs', []))
            for o in outs:
                if 'text/markdown' in o.get('data', {}):
                    o['data']['text/markdown'] = self.fix_markdown(''.join(o['data']['text/markdown']), src)
            if not echo and not outs: continue
            if not code and not outs: continue
            cell = nbformat.v4.new_code_cell(code, outputs=outs, execution_count=c.get('execution_count'))
            if not echo: cell.metadata['tags'] = ['remove-input']
            cells.append(cell)
        nb.cells = cells
        meta = {k: v for k, v in nb.metadata.items() if k in ('kernelspec', 'language_info')}
        meta.setdefault('kernelspec', {'display_name': 'Python 3', 'language': 'python', 'name': 'python3'})
        if desc: meta['myst'] = {'html_meta': {'description': plain(desc)}}
        nb.metadata = meta
        if src == self.home: nb.cells.append(md(self.toctrees()))
        return nb, title

    def toctrees(self) -> str:
        out = []
        for title, paths in self.sections:
            cap = f":caption: {title}\n" if title else ''
            out.append("```{toctree}\n:hidden:\n" + cap + "\n" + '\n'.join(self.page[p] for p in paths) + "\n```")
        return '\n\n'.join(out)


def _read(p: Path):
    import nbformat
    return nbformat.read(p, as_version=4)


def errors_in(nb) -> list:
    return [f"{o.get('ename')}: {o.get('evalue')}" for c in nb.cells if c.cell_type == 'code'
            for o in c.get('outputs', []) if o.get('output_type') == 'error']


def stage(site: Site, dst: Path):
    "Write every converted notebook where Sphinx reads it; return the page list and problems."
    import nbformat
    shutil.rmtree(dst, ignore_errors=True); dst.mkdir(parents=True)
    pages, problems = [], []
    for section, paths in [('Home', [site.home])] + site.sections:
        for src in paths:
            if not (site.proc / src).exists(): problems.append(f"{src}: not processed"); continue
            errs = errors_in(_read(site.root / src))
            if errs: problems.append(f"{src}: error outputs: {errs}")
            nb, title = site.convert(src)
            out = dst / (site.page[src] + '.ipynb'); out.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, out)
            pages.append({'section': section or 'Home', 'source': src, 'page': site.page[src] + '.html', 'title': title})
    return pages, problems


def sphinx_build(src: Path, out: Path, doctrees: Path, jobs: int = 2) -> int:
    from sphinx.cmd.build import build_main
    return build_main(['-b', 'html', '-q', '-j', str(jobs), '-c', str(CONF_DIR), '-d', str(doctrees), str(src), str(out)])


# ---------------------------------------------------------------- after Sphinx: doclinks made relative
def _ids(path: Path) -> set:
    return set(re.findall(r'\bid="([^"]+)"', path.read_text(encoding='utf-8')))


def localise_links(out: Path, base: str):
    """Rewrite links to the published site (`base`, e.g. https://nasbook.github.io/nasbook/) into
    relative links; a fragment nbdev made (`searchspace.sample`) is mapped onto the id Sphinx gave the
    heading (`searchspace-sample`), else onto its class's (`Game.__call__` has no heading of its own).
    Returns ({page: number of doclinks made relative}, [fragments that fell back], [links to missing pages])."""
    from docutils.nodes import make_id
    base = base.rstrip('/') + '/'
    pat = re.compile(r'(class="reference external" )?href="' + re.escape(base) + r'([^"#]*)(#[^"]*)?"')
    ids, count, approx, missing = {}, {}, [], []
    for page in sorted(out.rglob('*.html')):
        rel = page.relative_to(out).as_posix()
        rel_dir = posixpath.dirname(rel)
        text = page.read_text(encoding='utf-8')
        def fix(m):
            target = m[2] or 'index.html'
            if not (out / target).exists(): missing.append(f"{rel} -> {base}{m[2]}"); return m[0]
            if target not in ids: ids[target] = _ids(out / target)
            frag = (m[3] or '#')[1:]
            cands = [frag, make_id(frag)]
            parts = frag.split('.')
            cands += [make_id('.'.join(parts[:i])) for i in range(len(parts) - 1, 0, -1)]
            hit = next((c for c in cands if c and c in ids[target]), '')
            if frag and hit not in cands[:2]: approx.append(f"{target}#{frag} -> #{hit}")
            count[rel] = count.get(rel, 0) + 1
            href = posixpath.relpath(target, rel_dir or '.') + (f'#{hit}' if hit else '')
            return ('class="reference internal" ' if m[1] else '') + f'href="{html.escape(href)}"'
        new = pat.sub(fix, text)
        if new != text: page.write_text(new, encoding='utf-8')
    return count, sorted(set(approx)), missing


def write_readme(proc: Path, root: Path = ROOT):
    import nbformat
    from nbconvert import MarkdownExporter
    nb = nbformat.read(proc / 'nbs' / 'index.ipynb', as_version=4)
    body, res = MarkdownExporter().from_notebook_node(nb, resources={'output_files_dir': 'README_files'})
    # nbdev turns the title cell into Quarto front matter; a README wants a heading and the subtitle back
    m = re.match(r"\s*---\n(.*?)\n---\n", body, re.S)
    if m:
        import yaml
        fm = yaml.safe_load(m[1]) or {}
        body = f"# {fm.get('title', 'nasbook')}\n\n> {fm.get('description', '')}\n" + body[m.end():]
    body = body.replace('<!-- WARNING: THIS FILE WAS AUTOGENERATED! DO NOT EDIT! -->\n', '')
    files = res.get('outputs', {})
    if files:
        d = root / 'README_files'; shutil.rmtree(d, ignore_errors=True); d.mkdir()
        for name, data in files.items(): (root / name).write_bytes(data)
    (root / 'README.md').write_text('<!-- generated from nbs/index.ipynb by tools/build_docs.py; edit the notebook -->\n\n'
                                    + body, encoding='utf-8')


def build(out: Path, readme: bool = True, jobs: int = 2):
    "Process, stage, build and localise; returns (pages, problems)."
    os.chdir(ROOT)
    proc = process(ROOT)
    home, sections = reading_order(ROOT)
    site = Site(ROOT, proc, home, sections)
    src = proc / '_sphinx'
    pages, problems = stage(site, src)
    # Sphinx builds inside _proc/ (MyST-NB writes its `jupyter_execute/` beside the build folder), then
    # the site moves to `out`
    html_dir = proc / '_html'
    shutil.rmtree(html_dir, ignore_errors=True)
    rc = sphinx_build(src, html_dir, proc / '_doctrees', jobs)
    if rc: problems.append(f"sphinx-build exited with {rc}")
    shutil.rmtree(out, ignore_errors=True); out.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(html_dir), str(out))
    s = settings(ROOT)
    count, approx, missing = localise_links(out, s['doc_host'].rstrip('/') + '/' + s.get('doc_baseurl', '').strip('/'))
    problems += [f"doclink to a page that does not exist: {m}" for m in missing]
    for p in pages: p['doclinks'] = count.get(p['page'], 0)
    print(f"{sum(count.values())} doclinks made relative; {len(approx)} point at the nearest heading: "
          + ', '.join(approx))
    (out / 'pages.json').write_text(json.dumps(pages, indent=1))
    if readme and (proc / 'nbs' / 'index.ipynb').exists(): write_readme(proc)
    return pages, problems


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', default=str(ROOT / '_docs'))
    ap.add_argument('--no-readme', action='store_true')
    ap.add_argument('--no-check', action='store_true', help="don't open the site in headless Chromium")
    a = ap.parse_args(argv)
    out = Path(a.out).resolve()
    pages, problems = build(out, readme=not a.no_readme)
    print(f"{len(pages)} pages in {out} (open {out / 'index.html'})")
    if not a.no_check:
        sys.path.insert(0, str(ROOT / 'tools'))
        import check_site
        if check_site.find_chromium():
            report = check_site.check(out, pages, screenshots=out / '_screenshots')
            problems += report['problems']
            print(f"checked {len(report['pages'])} pages in headless Chromium; screenshots in {out / '_screenshots'}")
        else:
            print("not checked in a browser: " + check_site.MISSING)
    if problems:
        print('docs build found problems:\n  ' + '\n  '.join(problems)); return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
