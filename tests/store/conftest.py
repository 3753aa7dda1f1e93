"""Until the root conftest loads the plugin, the store tests load it themselves."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conftest_store import account, store, store_url  # noqa: F401
