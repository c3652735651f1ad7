"""`import assistant` and the CLI's start-up stay cheap: heavy libraries load inside the commands that use them."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import REPO, subprocess_env

HEAVY = ("torch", "chromadb", "gradio", "llama_index", "sentence_transformers", "transformers", "onnxruntime",
         "scipy", "fastapi")

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
