import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_api_coverage_file_is_current_and_every_registered_operation_is_tested():
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "api_coverage.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
