"""voiceagentd's metrics, scraped as Prometheus scrapes them and read with
the Prometheus project's own Python parser (prometheus_client).

The daemon holds a conversation with the simulator on real-time paced
devices (a private PulseAudio, as scripts/demo uses): pings, a client tool,
an interrupt, a stop; the scrape must show each with the names and types
Prometheus conventions give.
"""

import http.client
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import ROOT

BUILD = Path(os.environ.get("VOICEAGENTD_BUILD", ROOT / ".build" / "debug"))


@pytest.fixture
def paced_audio(tmp_path):
    """PulseAudio with null sinks behind ALSA's pulse plugin: voiceagent_mic, voiceagent_speaker."""
    script = 'source "$0/scripts/lib/paced-audio.sh" && start_paced_audio "$1" >&2 && echo "$PACED_AUDIO_PID"'
    pid = int(subprocess.run(["bash", "-c", script, str(ROOT), str(tmp_path)], check=True, capture_output=True, text=True).stdout.split()[-1])
    yield {"PULSE_SERVER": f"unix:{tmp_path}/pulse/runtime/native", "ALSA_CONFIG_PATH": f"/usr/share/alsa/alsa.conf:{tmp_path}/asound.conf"}
    os.kill(pid, 15)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Daemon:
    def __init__(self, tmp_path, environment, simulator, *arguments):
        self.socket = str(tmp_path / "control.sock")
        self.log = tmp_path / "voiceagentd.log"
        env = {**os.environ, **environment, "VOICEAGENTD_CONTROL_SOCKET": self.socket}
        env.pop("JOURNAL_STREAM", None)
        self.env = env
        tools = tmp_path / "tools.d"
        tools.mkdir()
        weather = tools / "get_weather"
        weather.write_text("#!/bin/sh\ncat >/dev/null\necho sunny\n")
        weather.chmod(0o755)
        self.process = subprocess.Popen(
            [str(BUILD / "voiceagentd"), "--api-base-url", simulator.base_url, "--agent-id", "agent_metrics",
             "--capture-device", "voiceagent_mic", "--playback-device", "voiceagent_speaker",
             "--control-socket", self.socket, "--tools-directory", str(tools), *arguments],
            env=env, stdout=subprocess.DEVNULL, stderr=self.log.open("w"))
        self.wait_for("the control socket", lambda: self.ctl("status").returncode == 0)

    def ctl(self, *arguments):
        return subprocess.run([str(BUILD / "voiceagentctl"), *arguments], env=self.env, capture_output=True, text=True)

    def wait_for(self, what, condition, timeout=15.0):
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline or self.process.poll() is not None:
                pytest.fail(f"timed out waiting for {what}; daemon log:\n{self.log.read_text()}")
            time.sleep(0.05)

    def stop(self):
        self.process.terminate()
        assert self.process.wait(timeout=15) == 0


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost")
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def scrape(connection):
    connection.request("GET", "/metrics")
    response = connection.getresponse()
    assert response.status == 200
    assert response.getheader("Content-Type").startswith("text/plain; version=0.0.4")
    families = {family.name: family for family in text_string_to_metric_families(response.read().decode())}
    connection.close()
    return families


def value(families, name, sample_name=None, **labels):
    family = families[name]
    for sample in family.samples:
        if sample.name == (sample_name or name) and all(sample.labels.get(k) == v for k, v in labels.items()):
            return sample.value
    pytest.fail(f"no sample {sample_name or name} {labels} in {family.samples}")


def test_a_conversation_shows_in_the_metrics(tmp_path, paced_audio, start_simulator):
    simulator = start_simulator("--scenario", "tool-call", "--delivery", "paced", "--ping-interval-milliseconds", "200")
    port = free_port()
    daemon = Daemon(tmp_path, paced_audio, simulator, "--metrics-listen", f"127.0.0.1:{port}")
    before = scrape(http.client.HTTPConnection("127.0.0.1", port))
    assert value(before, "voiceagent_xruns", "voiceagent_xruns_total", direction="capture") == 0, "present before anything happened"

    assert daemon.ctl("start").returncode == 0
    simulator.wait_for("the tool's answer", lambda: simulator.messages("client_tool_result"))
    simulator.wait_for("two pings answered", lambda: len(simulator.messages("pong")) >= 3)
    assert daemon.ctl("interrupt").returncode == 0
    assert daemon.ctl("stop").returncode == 0
    families = scrape(http.client.HTTPConnection("127.0.0.1", port))

    for name, family in families.items():
        assert name.startswith("voiceagent_"), name
        assert family.type in ("counter", "histogram"), (name, family.type)
    assert value(families, "voiceagent_conversations_started", "voiceagent_conversations_started_total") == 1
    assert value(families, "voiceagent_conversations_accepted", "voiceagent_conversations_accepted_total") == 1
    assert value(families, "voiceagent_conversations_ended", "voiceagent_conversations_ended_total", reason="stopped") == 1
    assert value(families, "voiceagent_conversation_duration_seconds", "voiceagent_conversation_duration_seconds_count") == 1
    assert value(families, "voiceagent_tool_calls", "voiceagent_tool_calls_total", outcome="success") == 1
    assert value(families, "voiceagent_tool_call_duration_seconds", "voiceagent_tool_call_duration_seconds_count") == 1
    assert value(families, "voiceagent_ping_latency_seconds", "voiceagent_ping_latency_seconds_count") >= 2
    for command in ("start", "interrupt", "stop"):
        assert value(families, "voiceagent_control_requests", "voiceagent_control_requests_total", command=command) == 1
    sent = value(families, "voiceagent_capture_to_wire_seconds", "voiceagent_capture_to_wire_seconds_count")
    assert sent > 10, "a chunk every 20 ms"
    within = value(families, "voiceagent_capture_to_wire_seconds", "voiceagent_capture_to_wire_seconds_bucket", le="0.05")
    assert within >= 0.9 * sent, "capture to wire well under a chunk on loopback"
    assert value(families, "voiceagent_microphone_chunks_dropped", "voiceagent_microphone_chunks_dropped_total") == 0
    assert value(families, "voiceagent_reconnects", "voiceagent_reconnects_total") == 0
    assert value(families, "voiceagent_dropped_frames", "voiceagent_dropped_frames_total", reason="device_not_ready") == 0
    daemon.stop()


def test_metrics_on_a_unix_socket_and_nothing_else_there(tmp_path, paced_audio, start_simulator):
    simulator = start_simulator()
    path = str(tmp_path / "metrics.sock")
    daemon = Daemon(tmp_path, paced_audio, simulator, "--metrics-listen", f"unix:{path}")
    daemon.wait_for("the metrics socket", lambda: os.path.exists(path))
    families = scrape(UnixHTTPConnection(path))
    assert "voiceagent_device_losses" in families
    other = UnixHTTPConnection(path)
    other.request("GET", "/")
    assert other.getresponse().status == 404
    daemon.stop()
