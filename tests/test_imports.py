"""`import assistant` and the CLI's start-up stay cheap: heavy libraries load inside the commands that use them."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import REPO, subprocess_env

HEAVY = ("torch", "chromadb", "gradio", "llama_index", "sentence_transformers", "transformers", "onnxruntime",
         "scipy", "fastapi", "tantivy")

PROBE = """
import json, sys
heavy = set(sys.argv[1].split(","))
def loaded():
    return sorted({m.split(".")[0] for m in sys.modules} & heavy)
steps = {}
import assistant
steps["import assistant"] = loaded()
import assistant.cli
steps["import assistant.cli"] = loaded()
assistant.cli.build_parser()  # what every `dispatch-qa ...` does before running a command
steps["build_parser()"] = loaded()
print(json.dumps(steps))
"""


def test_importing_the_package_and_the_cli_loads_no_heavy_library():
    proc = subprocess.run([sys.executable, "-c", PROBE, ",".join(HEAVY)], capture_output=True, text=True,
                          cwd=REPO, env=subprocess_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr
    steps = json.loads(proc.stdout)
    assert steps == {"import assistant": [], "import assistant.cli": [], "build_parser()": []}


def _imports_by_module() -> dict[str, set[str]]:
    """Every project module -> the project modules it imports, at the top or inside a function."""
    import ast

    files = {".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__"): p
             for room in ("assistant", "index", "ui") for p in (REPO / room).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
        graph[module] = {n for n in names if n in files and n != module}
    return graph


KNOWN_CIRCLES: set[frozenset[str]] = set()  # none left; a new one fails the test below


def test_no_module_imports_one_that_imports_it_back():
    graph = _imports_by_module()
    reach: dict[str, set[str]] = {}
    for start in graph:
        seen, todo = set(), list(graph[start])
        while todo:
            module = todo.pop()
            if module not in seen:
                seen.add(module)
                todo.extend(graph[module])
        reach[start] = seen
    # A circle, however long: the modules that each reach the other.
    circles = {frozenset({a} | {b for b in reach[a] if a in reach[b]}) for a in graph if a in reach[a]}
    assert circles <= KNOWN_CIRCLES, sorted(sorted(c) for c in circles - KNOWN_CIRCLES)


def test_imports_flow_ui_to_assistant_to_index():
    for module, deps in _imports_by_module().items():
        if module.startswith("index"):
            assert all(d.startswith("index") for d in deps), (module, deps)
        if module.startswith("assistant"):
            # `serve` is the one door back: Gradio loads only for that command.
            assert all(not d.startswith("ui") for d in deps) or module == "assistant.cli", (module, deps)
