"""Installing turnproof adds one top-level name, `turnproof`, and never shadows a user's packages."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _downstream(tmp_path):
    proj = tmp_path / "proj"
    (proj / "model").mkdir(parents=True)
    (proj / "model" / "__init__.py").write_text("MINE = True\n")
    return proj


CHECK = ("import turnproof.api, turnproof.model.designs, model; "
         "assert getattr(model, 'MINE', False), model.__file__; "
         "assert turnproof.model.designs.__name__ == 'turnproof.model.designs'")


def test_downstream_model_package_is_not_shadowed_in_a_checkout(tmp_path):
    proj = _downstream(tmp_path)
    env = dict(os.environ, PYTHONPATH=ROOT)
    r = subprocess.run([sys.executable, "-c", CHECK], cwd=proj, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([sys.executable, "-m", "turnproof", "designs"], cwd=proj, env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0 and "codex-0.77-chat" in r.stdout, r.stderr


@pytest.mark.slow
def test_wheel_installs_only_turnproof_at_top_level(tmp_path):
    out = tmp_path / "wheel"
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                        "-w", str(out), ROOT], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    (whl,) = out.glob("turnproof-*.whl")
    tops = {n.split("/")[0] for n in zipfile.ZipFile(whl).namelist()}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"turnproof"}, tops
    names = zipfile.ZipFile(whl).namelist()
    for pkg in ("model", "proofs", "reference"):
        assert f"turnproof/{pkg}/__init__.py" in names
    assert "turnproof/model/expected.toml" in names  # `turnproof verify` reads it
    assert "turnproof/py.typed" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), names  # PEP 639
    meta = zipfile.ZipFile(whl).read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: Apache-2.0" in meta

    # installed into a venv that sees this interpreter's packages (z3, networkx) but not the checkout
    env_dir = tmp_path / "venv"
    venv.create(env_dir, system_site_packages=True, with_pip=False)
    py = str(env_dir / "bin" / "python")
    r = subprocess.run([sys.executable, "-m", "pip", "--python", py, "install", "-q", "--no-deps", str(whl)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    proj = _downstream(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run([py, "-c", CHECK + "; import turnproof; assert 'site-packages' in turnproof.__file__"],
                       cwd=proj, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
