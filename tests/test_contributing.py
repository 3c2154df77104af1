"""The plugin tutorial in CONTRIBUTING.md works: build it from the page and run its tests."""

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"<!-- file: (?P<name>[\w./-]+) -->\n```\w*\n(?P<code>.*?)```", re.DOTALL)


def tutorial_files() -> dict[str, str]:
    files: dict[str, str] = {}
    for match in BLOCK.finditer((ROOT / "CONTRIBUTING.md").read_text()):
        files[match["name"]] = files.get(match["name"], "") + match["code"] + "\n"
    return files


def test_tutorial_plugin_installs_lists_and_passes_its_tests(tmp_path):
    files = tutorial_files()
    assert {"pyproject.toml", "reelay_pixelfarm.py", "tests/test_pixelfarm.py"} <= set(files)
    for name, code in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(code)
    # The one entry-point line names the plugin instance.
    entry_points = tomllib.loads(files["pyproject.toml"])["project"]["entry-points"]["reelay"]
    assert entry_points == {"pixelfarm": "reelay_pixelfarm:plugin"}
    # What `pip install -e` leaves behind, as far as discovery goes: a
    # dist-info with that entry point, and the module on the path.
    dist_info = tmp_path / "reelay_pixelfarm-0.1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: reelay-pixelfarm\nVersion: 0.1.0\n")
    (dist_info / "entry_points.txt").write_text(f"[reelay]\npixelfarm = {entry_points['pixelfarm']}\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    listed = subprocess.run(
        [sys.executable, "-m", "reelay.cli", "plugins"], env=env, capture_output=True, text=True, timeout=60
    )
    assert listed.returncode == 0, listed.stderr
    assert "reelay-pixelfarm 0.1.0" in listed.stdout and "model farm-1" in listed.stdout
    assert "duration: seconds > duration" in listed.stdout
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path / "tests")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
    assert "VendorPlugin" in files["reelay_pixelfarm.py"] and "@hookimpl" not in files["reelay_pixelfarm.py"]
