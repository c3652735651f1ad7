"""Dispatch QA, query side: settings, retrieval, cited answers and the CLI.

Importing this package is cheap: heavy libraries load inside the functions that use them.
"""

__version__ = "0.1.0"
