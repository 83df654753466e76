#!/usr/bin/env python3
# The module-cycle check CI runs (python3 .ci/modcycles.py src): 0 cycles is the rule.
"""Import cycles between the modules of a Rust crate (one file = one module), read from `crate::`,
`super::` and child-module paths; a child naming its own parent does not count.
usage: python3 modcycles.py [SRC_DIR]   Prints each cycle (its files); exit 1 if there is any."""
import os, re, sys

src = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "src")
mods = {}  # module path tuple -> file
for root, _, files in os.walk(src):
    for f in files:
        if not f.endswith(".rs"):
            continue
        p = os.path.join(root, f)
        rel = os.path.relpath(p, src)[:-3].split(os.sep)
        if rel[0] == "bin":
            continue
        if rel[-1] in ("mod", "lib", "main"):
            rel = rel[:-1]
        mods[tuple(rel)] = p

def resolve(path):
    """Longest module prefix of a path tuple that is a file."""
    for k in range(len(path), -1, -1):
        if tuple(path[:k]) in mods:
            return tuple(path[:k])
    return None

def strip_tests(text):
    # drop `#[cfg(test)] mod tests { ... }` bodies: test-only imports are not architecture
    out, i = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{", text):
        if m.start() < i:
            continue
        out.append(text[i:m.start()])
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0); j += 1
        i = j
    out.append(text[i:])
    return "".join(out)

edges = {m: set() for m in mods}
for m, p in mods.items():
    text = strip_tests(open(p, encoding="utf-8").read())
    text = re.sub(r"//[^\n]*", "", text)
    here = list(m) if not p.endswith(("mod.rs", "lib.rs")) else list(m)
    # module that `super` refers to: parent of this module
    for g in re.finditer(r"\b(crate|super)((?:::\w+)+)", text):
        base = [] if g.group(1) == "crate" else list(m[:-1])
        parts = base + [x for x in g.group(2).split("::") if x]
        t = resolve(parts)
        if t is not None and t != m and t != ():
            edges[m].add(t)
    # children declared here (`mod x;`), used by relative paths `x::...` or `self::x::...`
    kids = set(re.findall(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", text, re.M))
    for g in re.finditer(r"(?<![\w:])(?:self::)?(\w+)((?:::\w+)+)", text):
        if g.group(1) in kids:
            t = resolve(list(m) + [g.group(1)] + [x for x in g.group(2).split("::") if x])
            if t is not None and t != m:
                edges[m].add(t)
    for g in re.finditer(r"\buse\s+(crate|super)::\{([^;]*)\};", text, re.S):
        base = [] if g.group(1) == "crate" else list(m[:-1])
        for item in re.split(r"[,{}\s]+", g.group(2)):
            if item and item not in ("self",):
                t = resolve(base + [x for x in item.split("::") if x])
                if t is not None and t != m and t != ():
                    edges[m].add(t)

# A child naming its own parent module (the facade that declares it) is how Rust modules share
# their parent's types; only edges between modules that do not contain each other count.
for m in edges:
    edges[m] = {t for t in edges[m] if m[:len(t)] != t}

# Tarjan
index, low, stack, on, sccs, n = {}, {}, [], set(), [], [0]
sys.setrecursionlimit(10000)
def visit(v):
    index[v] = low[v] = n[0]; n[0] += 1; stack.append(v); on.add(v)
    for w in edges[v]:
        if w not in index:
            visit(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop(); on.discard(w); comp.append(w)
            if w == v: break
        if len(comp) > 1:
            sccs.append(comp)
for v in mods:
    if v not in index:
        visit(v)
for c in sccs:
    print("cycle:", ", ".join(sorted(os.path.relpath(mods[x], os.path.dirname(src)) for x in c)))
print(f"{len(sccs)} import cycle(s) among {len(mods)} modules")
sys.exit(1 if sccs else 0)
