#!/usr/bin/env python3
"""Import cycles between the files of each workspace crate.

A file imports another when it names an item of the other's module (`crate::a::b::…`,
`super::…`, `self::…`, in a `use` or inline). A module file naming its own submodules (a
facade's `pub use`, a `mod` declaration) is not an import. Prints every cycle (a strongly
connected set of files) and exits 1 if there is one; GPU kernel files can be skipped with
--skip-gpu. Usage: .ci/import_cycles.py [--skip-gpu]
"""
import re, sys, pathlib

GPU = re.compile(r'(cuda|cublas|fused_attention|layer_norm|bias_gelu|embedding|gemm\.rs|switch\.rs)')

def module_of(src, path):
    rel = path.relative_to(src).with_suffix('')
    parts = list(rel.parts)
    if parts[-1] in ('lib', 'main', 'mod'):
        parts = parts[:-1]
    return tuple(parts)

def strip_comments(text):
    text = re.sub(r'//[^\n]*', '', text)
    return re.sub(r'/\*.*?\*/', '', text, flags=re.S)

def paths_in(text):
    """Every `a::b::{c, d::e}` path in `use` items, flattened, plus inline `crate::…` paths."""
    out = []
    def expand(prefix, body):
        depth, start, items = 0, 0, []
        for i, ch in enumerate(body):
            if ch == '{': depth += 1
            elif ch == '}': depth -= 1
            elif ch == ',' and depth == 0:
                items.append(body[start:i]); start = i + 1
        items.append(body[start:])
        for item in items:
            item = item.strip()
            if not item: continue
            m = re.match(r'^([\w:]*?)::\{(.*)\}$', item, re.S)
            if m: expand(prefix + m.group(1).split('::'), m.group(2))
            elif item.startswith('{') and item.endswith('}'): expand(prefix, item[1:-1])
            else: out.append(prefix + re.split(r'\s+as\s+', item)[0].strip().split('::'))
    for m in re.finditer(r'\buse\s+([^;]+);', text):
        expand([], m.group(1).replace('\n', ' '))
    for m in re.finditer(r'(?<![\w:])((?:crate|super|self)(?:::\w+)+)', text):
        out.append(m.group(1).split('::'))
    return out

def crate_cycles(src, skip_gpu):
    files = {module_of(src, p): p for p in src.rglob('*.rs')}
    edges = {m: set() for m in files}
    for mod, path in files.items():
        text = strip_comments(path.read_text())
        for p in paths_in(text):
            if p[0] == 'crate': target = list(p[1:])
            elif p[0] in ('super', 'self'):
                base = list(mod)
                while p and p[0] in ('super', 'self'):
                    if p[0] == 'super': base = base[:-1]
                    p = p[1:]
                target = base + list(p)
            else: continue
            # the longest existing module prefix of the path
            for n in range(len(target), -1, -1):
                t = tuple(target[:n])
                if t in files: break
            if t == mod or t[:len(mod)] == mod:  # itself or its own submodules
                continue
            edges[mod].add(t)
    # Tarjan's strongly connected components
    index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)
    def visit(v):
        index[v] = low[v] = counter[0]; counter[0] += 1; stack.append(v); on.add(v)
        for w in edges[v]:
            if w not in index: visit(w); low[v] = min(low[v], low[w])
            elif w in on: low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v: break
            if len(comp) > 1: sccs.append(comp)
    for v in files:
        if v not in index: visit(v)
    out = []
    for comp in sccs:
        names = sorted(str(files[m].relative_to(src.parent.parent.parent)) for m in comp)
        if skip_gpu and any(GPU.search(n.rsplit('/', 1)[-1]) for n in names):
            continue
        out.append(names)
    return out

root = pathlib.Path(__file__).resolve().parent.parent
skip = '--skip-gpu' in sys.argv
found = []
for src in sorted(root.glob('crates/*/src')):
    found += crate_cycles(src, skip)
for names in found:
    print('cycle:', ' <-> '.join(names))
sys.exit(1 if found else 0)
