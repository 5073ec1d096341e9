"""Open the built docs site in headless Chromium and read every page as a reader's browser renders it.

One Chromium process, driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`: no port,
no extra Python package), with name resolution switched off so that the site must work offline.
For each page (`pages.json` written by tools/build_docs.py) it waits for the load event and for
MathJax to finish, then collects what the page shows: the visible text outside code, the code blocks'
text (and apart from it the `show_doc` signatures and source links), every image and whether it
loaded, every link, every element id, the sidebar's links, the previous/next links and the math elements with and without MathJax's output. `problems()` turns those
facts into the list of what is wrong; tests/test_docs.py asserts on the same facts.

    python tools/check_site.py _docs [--screenshots _docs/_screenshots]
"""
import base64, json, os, re, select, shutil, subprocess, sys, tempfile, time
from pathlib import Path
from urllib.parse import unquote, urlsplit

MISSING = ("headless Chromium is not installed: install Debian's `chromium` package "
           "(as root: `apt-get update && apt-get install -y chromium`; .ci/run and `make test` do this when run as root)")


def find_chromium():
    for name in ('chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'):
        exe = shutil.which(name)
        if exe: return exe
    return None


class Chromium:
    "A headless Chromium driven over the DevTools protocol on fds 3/4 (messages are JSON ended by NUL)."
    def __init__(self, exe=None, width=1280, height=1000, offline=True):
        exe = exe or find_chromium()
        if not exe: raise FileNotFoundError(MISSING)
        self.profile = tempfile.mkdtemp(prefix='nasbook-chromium-')
        to_r, self._to_w = os.pipe()          # we write, Chromium reads on fd 3
        self._from_r, from_w = os.pipe()      # Chromium writes on fd 4, we read
        args = [exe, '--headless', '--no-sandbox', '--disable-gpu', '--remote-debugging-pipe',
                f'--user-data-dir={self.profile}', f'--window-size={width},{height}', '--hide-scrollbars',
                '--no-first-run', '--no-default-browser-check', '--disable-extensions', '--mute-audio',
                '--disable-background-networking', '--disable-component-update', '--disable-sync',
                '--allow-file-access-from-files', 'about:blank']
        if offline: args.insert(-1, '--host-resolver-rules=MAP * ~NOTFOUND')
        # bash puts our pipe ends on fds 3 and 4, where Chromium expects them (dash takes one-digit fds only)
        self.proc = subprocess.Popen(["/bin/bash", "-c", f'exec "$@" 3<&{to_r} 4>&{from_w}', 'chromium'] + args,
                                     pass_fds=(to_r, from_w), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_r); os.close(from_w)
        self._buf, self._id, self.events = b'', 0, []
        self.requests, self.failed = [], []     # what the page asked for, and what failed to load
        self.width, self.height = width, height
        target = self.send('Target.createTarget', url='about:blank')['targetId']
        self.session = self.send('Target.attachToTarget', targetId=target, flatten=True)['sessionId']
        self.send('Page.enable', session=True)
        self.send('Network.enable', session=True)
        self.send('Emulation.setDeviceMetricsOverride', session=True, width=width, height=height,
                  deviceScaleFactor=1, mobile=False)

    def _read(self, timeout):
        deadline = time.monotonic() + timeout
        while b'\0' not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_r], [], [], left)[0]:
                raise TimeoutError('Chromium did not answer in time')
            chunk = os.read(self._from_r, 1 << 20)
            if not chunk: raise RuntimeError('Chromium closed the DevTools pipe (did it crash?)')
            self._buf += chunk
        msg, self._buf = self._buf.split(b'\0', 1)
        m = json.loads(msg)
        meth = m.get('method', '')
        if meth == 'Network.requestWillBeSent':
            self.requests.append(m['params']['request']['url'])
        elif meth == 'Network.loadingFailed' and not m['params'].get('canceled'):
            self.failed.append(m['params'].get('errorText', ''))
        return m

    def send(self, method, session=False, timeout=60, **params):
        self._id += 1
        msg = {'id': self._id, 'method': method, 'params': params}
        if session: msg['sessionId'] = self.session
        os.write(self._to_w, json.dumps(msg).encode() + b'\0')
        while True:
            m = self._read(timeout)
            if m.get('id') == self._id:
                if 'error' in m: raise RuntimeError(f"{method}: {m['error']}")
                return m.get('result', {})
            self.events.append(m)

    def wait_event(self, method, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            for i, m in enumerate(self.events):
                if m.get('method') == method: del self.events[:i + 1]; return m
            self.events.clear()
            self.events.append(self._read(max(deadline - time.monotonic(), 0.01)))

    def open(self, url, timeout=60):
        self.events.clear(); self.requests.clear(); self.failed.clear()
        res = self.send('Page.navigate', session=True, url=url)
        if res.get('errorText'): raise RuntimeError(f"{url}: {res['errorText']}")
        self.wait_event('Page.loadEventFired', timeout)

    def evaluate(self, js, timeout=60):
        r = self.send('Runtime.evaluate', session=True, timeout=timeout, expression=js, awaitPromise=True,
                      returnByValue=True)
        if 'exceptionDetails' in r: raise RuntimeError(f"script failed: {r['exceptionDetails']}")
        return r['result'].get('value')

    def screenshot(self, path, height=None, scroll_to=None):
        "A PNG of the viewport (`height` tall), optionally scrolled so the element `scroll_to` is in view."
        h = height or self.height
        self.send('Emulation.setDeviceMetricsOverride', session=True, width=self.width, height=h,
                  deviceScaleFactor=1, mobile=False)
        try:
            if scroll_to:
                self.evaluate(f"(async () => {{ const e = document.querySelector({json.dumps(scroll_to)});"
                              " if (e) e.scrollIntoView({block: 'center'});"
                              " await new Promise(r => setTimeout(r, 200)); })()")
            data = self.send('Page.captureScreenshot', session=True, format='png')['data']
        finally:
            self.send('Emulation.setDeviceMetricsOverride', session=True, width=self.width, height=self.height,
                      deviceScaleFactor=1, mobile=False)
        Path(path).parent.mkdir(parents=True, exist_ok=True); Path(path).write_bytes(base64.b64decode(data))

    def close(self):
        try: self.send('Browser.close', timeout=10)
        except Exception: pass
        try: self.proc.wait(10)
        except subprocess.TimeoutExpired: self.proc.kill(); self.proc.wait()
        for fd in (self._to_w, self._from_r):
            try: os.close(fd)
            except OSError: pass
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self): return self
    def __exit__(self, *exc): self.close()


# What a page shows. Text outside <pre>/<code> and the code blocks' text are read separately, so that
# prose and code can be checked for different things.
FACTS_JS = r"""(async () => {
  if (document.readyState !== 'complete') await new Promise(r => addEventListener('load', r));
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  const main = document.querySelector('main') || document.body;
  const prose = main.cloneNode(true);
  prose.querySelectorAll('pre, code, script, style, mjx-assistive-mml').forEach(e => e.remove());
  document.body.appendChild(prose); prose.style.position = 'absolute'; prose.style.left = '-99999px';
  const proseText = prose.innerText; prose.remove();
  const math = [...main.querySelectorAll('.math')];
  const sidebar = document.querySelector('.bd-sidebar-primary');
  return {
    title: document.title,
    h1: (main.querySelector('h1') || {}).innerText || '',
    description: (document.querySelector('meta[name="description"]') || {}).content || '',
    text: main.innerText,
    prose: proseText,
    code: [...main.querySelectorAll('pre')].filter(e => !e.closest('.nbdev-signature')).map(e => e.innerText),
    signatures: [...main.querySelectorAll('.nbdev-signature pre')].map(e => e.innerText),
    sources: [...main.querySelectorAll('a.nbdev-source')].map(a => a.href),
    images: [...document.images].map(i => ({src: i.currentSrc || i.src, loaded: i.complete && i.naturalWidth > 0})),
    links: [...document.querySelectorAll('a[href]')].map(a => a.href),
    ids: [...document.querySelectorAll('[id]')].map(e => e.id),
    sidebar: sidebar ? [...sidebar.querySelectorAll('nav a[href]')].map(a => a.href) : [],
    sidebarSections: sidebar ? [...sidebar.querySelectorAll('p.caption')].map(e => e.innerText.trim()) : [],
    sidebarShown: !!sidebar && sidebar.getBoundingClientRect().width > 150,
    prev: (document.querySelector('.prev-next-area a.left-prev') || {}).href || null,
    next: (document.querySelector('.prev-next-area a.right-next') || {}).href || null,
    math: math.length,
    mathTypeset: math.filter(e => e.querySelector('mjx-container')).length,
    search: !!document.querySelector('form[action$="search.html"], .search-button, input[name="q"]'),
    styled: getComputedStyle(document.body).fontFamily.length > 0 && document.styleSheets.length > 2,
  };
})()"""

SEARCH_JS = r"""(async () => {
  // Sphinx's search lists its hits one by one and then writes "Search finished, found N pages ..."
  for (let i = 0; i < 400; i++) {
    const status = (document.querySelector('#search-results .search-summary, .search-summary') || {}).innerText || '';
    if (/Search finished|did not match/.test(status))
      return [...document.querySelectorAll('#search-results li a, ul.search li a')].map(a => a.href);
    await new Promise(r => setTimeout(r, 50));
  }
  return [];
})()"""

def page_url(site: Path, page: str) -> str:
    return (site / page).resolve().as_uri()


def read_site(site, pages, screenshots=None, search_word='supernet', browser=None):
    """Open every page; returns {'pages': {page: facts}, 'search': [hrefs], 'shots': [paths]}."""
    site = Path(site).resolve()
    out = {'pages': {}, 'search': [], 'shots': []}
    own = browser is None
    b = browser or Chromium()
    try:
        for p in pages:
            b.open(page_url(site, p['page']))
            f = b.evaluate(FACTS_JS)
            # offline: every resource is a file of the site (or inline data), and every one loaded
            f['outside'] = sorted({u for u in b.requests if not u.startswith(('file:', 'data:', 'about:', 'blob:'))})
            f['failed'] = list(b.failed)
            out['pages'][p['page']] = f
        if (site / 'search.html').exists():
            b.open(page_url(site, 'search.html') + f'?q={search_word}')
            out['search'] = b.evaluate(SEARCH_JS)
        if screenshots:
            walk = [p for p in pages if p['source'].startswith('nas_notebooks/')]
            walk = next((p for p in walk if 'spidernet' in p['source']), walk[0] if walk else None)
            shots = [('home.png', pages[0], None), ('walkthrough.png', walk, None),
                     ('walkthrough-figure.png', walk, 'main .cell_output img')]
            for name, p, scroll in shots:
                if p is None: continue
                b.open(page_url(site, p['page'])); b.evaluate(FACTS_JS)
                b.screenshot(Path(screenshots) / name, height=1400, scroll_to=scroll)
                out['shots'].append(str(Path(screenshots) / name))
    finally:
        if own: b.close()
    return out


def link_target(site: Path, href: str):
    "(path, fragment) of a link into the site, or None for one that leaves it."
    u = urlsplit(href)
    if u.scheme != 'file': return None
    return Path(unquote(u.path)), unquote(u.fragment)


FRONT_MATTER = ('output-file:', 'title:', "description: '")


def problems(site, pages, facts) -> list:
    "Everything a reader would find wrong, from the facts `read_site` collected (empty when all is well)."
    site = Path(site).resolve()
    bad = []
    by_path = {(site / p['page']).resolve(): p['page'] for p in pages}
    want_sidebar = {(site / p['page']).resolve() for p in pages}
    order = [p['page'] for p in pages]
    for i, p in enumerate(pages):
        f = facts['pages'][p['page']]; name = p['page']
        if f['h1'].strip() != p['title']: bad.append(f"{name}: heading {f['h1']!r}, front matter title {p['title']!r}")
        for line in f['prose'].splitlines():
            if line.strip().startswith(FRONT_MATTER) or line.strip() == '---' or 'output-file:' in line: bad.append(f"{name}: front matter shows: {line!r}")
        if '{target=' in f['text']: bad.append(f"{name}: Quarto attributes show ({{target=...}})")
        if '#|' in f['prose'] or any(l.lstrip().startswith('#|') for c in f['code'] for l in c.splitlines()):
            bad.append(f"{name}: a `#|` directive shows")
        if re.search(r'(In|Out)\s*\[\d*\]:', f['prose']): bad.append(f"{name}: notebook prompts show")
        if '$$' in f['prose'] or '\\(' in f['prose'] or '\\[' in f['prose']: bad.append(f"{name}: raw TeX shows")
        if f['mathTypeset'] != f['math']: bad.append(f"{name}: {f['math'] - f['mathTypeset']} of {f['math']} formulas not typeset")
        bad += [f"{name}: image did not load: {im['src'][:120]}" for im in f['images'] if not im['loaded']]
        for href in f['links']:
            t = link_target(site, href)
            if t is None:
                if 'nasbook.github.io' in href: bad.append(f"{name}: link to the published site, not this one: {href}")
                continue
            path, frag = t
            if not path.exists(): bad.append(f"{name}: broken link {href}"); continue
            target = by_path.get(path.resolve())
            if frag and target and frag not in facts['pages'][target]['ids']:
                bad.append(f"{name}: link to a missing anchor {href}")
        side = {link_target(site, h)[0].resolve() for h in f['sidebar'] if link_target(site, h)}
        if not f['sidebarShown']: bad.append(f"{name}: no sidebar shown")
        if want_sidebar - side: bad.append(f"{name}: sidebar misses {sorted(str(s.relative_to(site)) for s in want_sidebar - side)}")
        nxt = order[i + 1] if i + 1 < len(order) else None
        got = by_path.get(link_target(site, f['next'])[0].resolve()) if f['next'] else None
        if got != nxt: bad.append(f"{name}: next link goes to {got}, reading order says {nxt}")
        prv = order[i - 1] if i else None
        got = by_path.get(link_target(site, f['prev'])[0].resolve()) if f['prev'] else None
        if i and got != prv: bad.append(f"{name}: previous link goes to {got}, reading order says {prv}")
        if not f['search']: bad.append(f"{name}: no search box")
        if f['outside']: bad.append(f"{name}: asks the network for {f['outside'][:3]}")
        if f['failed']: bad.append(f"{name}: resources failed to load: {f['failed'][:3]}")
    if not facts['search']: bad.append("search found nothing")
    return bad


def check(site, pages, screenshots=None):
    facts = read_site(site, pages, screenshots)
    return {'pages': facts['pages'], 'problems': problems(site, pages, facts), 'shots': facts['shots']}


def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('site'); ap.add_argument('--screenshots')
    a = ap.parse_args(argv)
    if not find_chromium(): print(MISSING); return 2
    pages = json.loads((Path(a.site) / 'pages.json').read_text())
    r = check(a.site, pages, a.screenshots)
    print(f"{len(r['pages'])} pages read in headless Chromium; {len(r['problems'])} problems")
    for p in r['problems']: print('  ' + p)
    return 1 if r['problems'] else 0


if __name__ == '__main__':
    sys.exit(main())
