"""Helpers of the shale-inspect tests: run a command in-process and prove it changed
nothing under the data directory (bytes, sizes, mtimes and the set of names)."""

import hashlib
import json
import os

from tools.inspect.cli import main


def snapshot(root: str) -> dict:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        out[dirpath] = sorted(dirnames + filenames)
        for name in filenames:
            path = os.path.join(dirpath, name)
            st = os.stat(path)
            with open(path, "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()
            out[path] = (digest, st.st_size, st.st_mtime_ns)
    return out


def inspect(capsys, data_dir: str, *args: str) -> tuple[int, str, str]:
    """Run `shale-inspect DATA_DIR ARGS...` in-process; assert it changed nothing."""
    before = snapshot(data_dir)
    code = main([data_dir, *args])
    out, err = capsys.readouterr()
    assert snapshot(data_dir) == before, f"shale-inspect {' '.join(args)} changed {data_dir}"
    return code, out, err


def inspect_json(capsys, data_dir: str, *args: str, expect_code: int = 0) -> dict:
    code, out, err = inspect(capsys, data_dir, *args, "--json")
    assert code == expect_code, out + err
    return json.loads(out)
