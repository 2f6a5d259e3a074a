"""``python -m benchmarks``: run the benchmark, write BENCHMARKS.md and benchmarks/chart.png."""

import importlib.util
import sys

missing = [name for name in ("matplotlib", "psutil") if importlib.util.find_spec(name) is None]
if missing:
    sys.exit(f"python -m benchmarks needs {' and '.join(missing)}: pip install -e '.[bench]'")

from benchmarks.run import main  # noqa: E402

sys.exit(main())
