"""Fail when modules of the hub import each other in a circle (at any depth, in any function).

import-linter's contracts forbid the known circles' edges; this finds any other: the strongly
connected components of grimp's module graph (type-checking imports left out, as they never
run). Hand-written Tarjan because grimp offers chains, not cycles, and one small function beats
adding networkx to the dev tools. Exit 1 and one line per circle when there is one.

    python scripts/import_cycles.py [package ...]   (default: the hub's five packages)
"""

from __future__ import annotations

import sys

import grimp

PACKAGES = ("hub", "adapters", "consent", "referral", "insurance")


def import_circles(*packages: str) -> list[list[str]]:
    """Each group of modules that import one another, directly or through the others."""
    graph = grimp.build_graph(*packages, exclude_type_checking_imports=True)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            module, imported = work[-1]
            step = next(imported, None)
            if step is not None:
                if step not in index:
                    index[step] = low[step] = len(index)
                    stack.append(step)
                    on_stack.add(step)
                    work.append((step, iter(sorted(graph.find_modules_directly_imported_by(step)))))
                elif step in on_stack:
                    low[module] = min(low[module], index[step])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[module])
            if low[module] == index[module]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == module:
                        break
                if len(group) > 1:
                    circles.append(sorted(group))
    return circles


def main(argv: list[str]) -> int:
    circles = import_circles(*(argv or PACKAGES))
    for circle in circles:
        print("import circle: " + " <-> ".join(circle), file=sys.stderr)
    return 1 if circles else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
