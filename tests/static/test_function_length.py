"""No function over 60 lines outside tests and benchmarks: a longer one mixes what a reader should
meet one at a time (the project's style). A new one fails here, and so does a listed one that got longer."""

from __future__ import annotations

import ast
from pathlib import Path

from passerelle import PROJECT_ROOT

MAX_LINES = 60
CHECKED = ("passerelle", "services", "system")

#: Known offenders (path, function) → their length when listed (none left since the gateway's split
#: by resource, issue 19 item 2).
KNOWN: dict[tuple[str, str], int] = {}


def long_functions(root: Path = PROJECT_ROOT) -> dict[tuple[str, str], int]:
    """Every function (methods and nested ones included) longer than ``MAX_LINES``, decorators
    excluded, by (path, name)."""
    found = {}
    for folder in CHECKED:
        for path in sorted((root / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    length = node.end_lineno - node.lineno + 1
                    if length > MAX_LINES:
                        found[(path.relative_to(root).as_posix(), node.name)] = length
    return found


def test_no_new_function_is_over_60_lines():
    found = long_functions()
    worse = {k: n for k, n in found.items() if n > KNOWN.get(k, MAX_LINES)}
    assert not worse, f"functions over {MAX_LINES} lines (split them): {worse}"
    print(f"functions over {MAX_LINES} lines, to split: {found}")


def test_the_check_finds_a_long_function(tmp_path):
    (tmp_path / "passerelle").mkdir()
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_LINES))
    (tmp_path / "passerelle" / "long.py").write_text(f"def long():\n{body}\n\ndef short():\n    return 1\n")
    for folder in CHECKED[1:]:
        (tmp_path / folder).mkdir()
    assert long_functions(tmp_path) == {("passerelle/long.py", "long"): MAX_LINES + 1}
