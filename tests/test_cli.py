import subprocess
import sys


def test_cli_help_lists_commands():
    out = subprocess.run([sys.executable, "-m", "ironkeep", "--help"], capture_output=True, text=True, check=True)
    assert "simulate" in out.stdout
    assert "serve" in out.stdout
