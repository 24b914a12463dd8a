"""Starts the agent simulator for tests written against other clients."""

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def simulator_binary() -> str:
    path = os.environ.get("VOICEAGENT_SIMULATOR", str(ROOT / ".build" / "debug" / "voiceagent-simulator"))
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is not built: run swift build first, or set VOICEAGENT_SIMULATOR")
    return path


class Simulator:
    """A running voiceagent-simulator and what it recorded."""

    def __init__(self, record: Path, *args: str):
        self.record = record
        self.process = subprocess.Popen(
            [simulator_binary(), "--port", "0", "--record", str(record), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        banner = self.process.stdout.readline()
        if "listening on" not in banner:
            self.process.kill()
            pytest.fail(f"the simulator did not start: {banner!r}")
        self.base_url = banner.split("listening on ")[1].split(" ")[0]

    def messages(self, type_=None):
        lines = self.record.read_text().splitlines() if self.record.exists() else []
        records = [json.loads(line) for line in lines if line.strip()]
        return [r for r in records if type_ is None or r["type"] == type_]

    def wait_for(self, what, condition, timeout=15.0):
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}")
            time.sleep(0.02)

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture
def start_simulator(tmp_path):
    running = []

    def start(*args: str) -> Simulator:
        simulator = Simulator(tmp_path / f"record-{len(running)}.jsonl", *args)
        running.append(simulator)
        return simulator

    yield start
    for simulator in running:
        simulator.stop()
