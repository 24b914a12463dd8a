"""The systemd units, checked by systemd's own tools."""

import subprocess
from pathlib import Path

UNITS = Path(__file__).resolve().parents[2] / "packaging" / "systemd"


def test_service_exposure_is_at_most_two():
    # --threshold counts in tenths of the printed exposure level.
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--threshold=20", str(UNITS / "voiceagentd.service")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    exposure = next(line for line in result.stdout.splitlines() if "Overall exposure level" in line)
    assert float(exposure.split(":")[1].split()[0]) <= 2.0


def test_socket_is_group_only_and_removed_on_stop():
    socket = (UNITS / "voiceagentd.socket").read_text()
    assert "ListenStream=/run/voiceagentd/control.sock" in socket
    assert "SocketMode=0660" in socket
    assert "SocketGroup=voiceagent" in socket
    assert "RemoveOnStop=yes" in socket
