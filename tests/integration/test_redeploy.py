"""Deployment through the request and again by hand: tasks run in order, failures stay the deployment's own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from helpers import add_account, add_standalone_cert, unique

from certify_tui.lifecycle import Core
from certify_tui.lifecycle.certificates import CertificateSpec
from certify_tui.model import TaskConfig


def test_tasks_run_after_issuance_and_again_on_redeploy(data_dir: Path, pebble, tmp_path: Path) -> None:
    core = Core.open(str(data_dir))
    try:
        add_account(core, pebble)
        name = unique("d")
        add_standalone_cert(core, pebble, name, [f"{name}.example.test"])
        out_auto, out_manual = tmp_path / "auto", tmp_path / "manual"
        spec = core.certificate_spec(name)
        spec.tasks = [
            TaskConfig("export", {"path": str(out_auto), "formats": "pem"}),
            TaskConfig("export", {"path": str(out_manual), "formats": "combined", "trigger": "manual"}),
        ]
        core.update_certificate(name, spec)
        assert isinstance(spec, CertificateSpec)
        plan = core.preview(name)
        assert len(plan.tasks) == 2 and "(on manual)" in plan.tasks[1]
        result = core.request(name)
        assert result.deployed and (out_auto / "fullchain.pem").read_bytes()
        assert not out_manual.exists()  # manual tasks wait for a deployment by hand
        assert core.deploy(name) is None
        assert (out_manual / f"{name}.pem").exists()
        # A failing task is the deployment's failure: the certificate stays valid, nothing is reordered.
        spec = core.certificate_spec(name)
        spec.tasks = [TaskConfig("command", {"command": "/bin/false"})]
        core.update_certificate(name, spec)
        error = core.deploy(name)
        assert error and "exit" in error.lower()
        view = core.certificate_view(core.get_certificate(name))
        assert view["status"] == "valid" and view["deploy_status"] == "failed" and view["versions"] == 1
    finally:
        core.close()
    cli = subprocess.run([sys.executable, "-m", "certify_tui", "--data-dir", str(data_dir), "cert", "deploy", name],
                         capture_output=True, text=True, timeout=60)
    assert cli.returncode == 1 and cli.stderr.startswith("certify-tui: error: deployment failed")
