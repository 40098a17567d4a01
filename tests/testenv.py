"""What the tests that run the kit as users do (notebooks, README commands, JupyterLab kernels)
give the processes they start. Importable from any test module: pytest puts ``tests/`` on
``sys.path`` (its ``conftest.py`` has no package around it)."""
from __future__ import annotations

import os
import tempfile

#: One folder of generated datasets for the tests that run the kit as users do (notebooks,
#: README commands, JupyterLab kernels), shared by both workers: generation is deterministic
#: and its files are written atomically, so each dataset is generated once per test session
#: instead of once per test. Tests of the cache itself use their own folders.
#: One folder per test run: pytest-xdist gives its workers one run id; a run without workers
#: uses its process id. (``SCD_LAB_TEST_CACHE`` names a folder to keep across runs instead.)
_RUN = os.environ.get("PYTEST_XDIST_TESTRUNUID") or str(os.getpid())
SHARED_CACHE = os.environ.get("SCD_LAB_TEST_CACHE") or os.path.join(
    tempfile.gettempdir(), f"scd_lab_test_cache_{_RUN}")
#: What a subprocess or kernel started by a test gets: one OpenMP thread, as this process.
CHILD_THREADS = os.environ.get("SCD_TEST_THREADS", "1")
