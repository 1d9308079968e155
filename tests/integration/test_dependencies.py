"""Every package the product imports is one it declares: the server's and the core's imports
are main dependencies (a plain `pip install .`, as the container does, has them), and only
the CLI's optional commands (tools/) may import an extra's packages."""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions, requires
from pathlib import Path

import streamer

PACKAGE = Path(streamer.__file__).parent


def _declared() -> tuple[set[str], set[str]]:
    """(main, extras) distribution names, normalized."""
    main, extras = set(), set()
    for line in requires("streamer") or []:
        name = re.split(r"[\s;<>=!~\[]", line, maxsplit=1)[0]
        (extras if "extra ==" in line else main).add(_normal(name))
    return main, extras


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"streamer", "__future__"}


def test_the_product_imports_only_what_it_declares() -> None:
    main, extras = _declared()
    dists = packages_distributions()
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        in_tools = path.relative_to(PACKAGE).parts[0] == "tools"
        for module in sorted(_imports(path)):
            names = {_normal(d) for d in dists.get(module, [module])}  # not installed: its name
            if names & main:
                continue
            if in_tools and names & extras:
                continue
            problems.append(f"{path.relative_to(PACKAGE)} imports {module} ({names or '?'})")
    assert problems == []
