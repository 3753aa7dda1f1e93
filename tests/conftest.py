from __future__ import annotations

import sys
from pathlib import Path

import pytest

# Tests import shared helpers by module name (serverproc, conftest_store, sts_helpers ...): with
# --import-mode=importlib (so that two folders may hold test files of the same name) the tests'
# folders are put on the path here.
_TESTS = Path(__file__).parent
sys.path.insert(0, str(_TESTS))
for _folder in sorted(p for p in _TESTS.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
    sys.path.append(str(_folder))

pytest_plugins = ["conftest_store"]

from serverproc import Server, drop_schema, pg_available, start_server  # noqa: E402 (after sys.path)

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Server:
    """A real ``ironkeep serve`` per store backend, shared by the session's tests."""
    backend = request.param
    if backend == "postgresql" and not pg_available():
        pytest.fail("PostgreSQL at 127.0.0.1:5432 is not reachable; the store must be tested on it")
    srv, schema = start_server(tmp_path_factory.mktemp(f"ironkeep-{backend}"), backend)
    yield srv
    srv.stop()
    if schema:
        drop_schema(schema)


@pytest.fixture()
def iam(server: Server):
    return server.client("iam")
