"""The Debian package installed and booted for real: a minimal Debian 12 in
systemd-nspawn, the .deb installed inside with dpkg, then what an admin and
a user do with it. The agent simulator runs on the host's loopback, which
the container shares; the sound devices are a private PulseAudio's null
sinks on the host, whose socket is bound into the container.

Needs root, debootstrap and systemd-nspawn (scripts/install-dependencies),
the package (scripts/build-deb) and the simulator (swift build). The image
is cached in /var/cache/voiceagentd-tests between runs on one machine.

The image has no CA store and no package lists: the package's dependencies
that it lacks come as local .deb files (downloaded on the host once), so
`apt-get install` shows the package pulls what it needs.
Everything a user does is done as `alice`, a member of the voiceagent group,
not as root.
"""

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IMAGE_PACKAGES = [
    "systemd", "systemd-sysv", "dbus", "procps", "man-db",
    "libasound2", "libasound2-plugins", "libsystemd0",
]
CACHE = Path("/var/cache/voiceagentd-tests")
# What the package needs beyond the minimal image: the CA store and what it
# depends on (the image's libssl3 is recent enough for openssl), and the
# echo canceller's libraries.
DEPENDENCY_DEBS = ["ca-certificates", "openssl", "libspeexdsp1", "libwebrtc-audio-processing1"]
MEMBER = "alice"
PULSE_IN_CONTAINER = "/run/voiceagent-pulse"
SPEECH_THEN_SILENCE = (
    "import array, math, sys\n"
    "tone = array.array('h', (int(math.sin(i * 0.2) * 12000) for i in range(12800)))\n"
    "sys.stdout.buffer.write(tone.tobytes() + bytes(32000))\n"
)


def wait_for(what, condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def cannot_boot(reason):
    message = f"BOOT TEST NOT RUN: {reason}"
    print("\n" + "!" * 72 + f"\n{message}\n" + "!" * 72, file=sys.stderr)
    pytest.skip(message)


def nspawn(image, *arguments):
    # The host runs no systemd: no machine registration, no scope of our own.
    return ["systemd-nspawn", "-D", str(image), "--quiet", "--register=no", "--keep-unit", *arguments]


def cached_image():
    """A minimal Debian 12 with systemd, built once per package list."""
    key = hashlib.sha256(" ".join(IMAGE_PACKAGES).encode()).hexdigest()[:12]
    image = CACHE / f"bookworm-{key}"
    if image.is_dir():
        return image
    CACHE.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(dir=CACHE, prefix="building-"))
    building.chmod(0o755)  # the image's /: mkdtemp made it root's alone
    result = subprocess.run(
        ["debootstrap", "--variant=minbase", "--include=" + ",".join(IMAGE_PACKAGES),
         "bookworm", str(building), "http://deb.debian.org/debian"],
        capture_output=True, text=True)
    if result.returncode != 0:
        shutil.rmtree(building, ignore_errors=True)
        raise AssertionError("debootstrap failed:\n" + result.stdout[-3000:] + result.stderr[-3000:])
    forget_package_lists(building)
    building.rename(image)
    return image


def forget_package_lists(root):
    """Without package lists (and the caches built from them) nothing can
    be downloaded inside: every dependency must be installed already or
    given to apt as a file."""
    for stale in [*(root / "var/lib/apt/lists").glob("*_Packages"), *(root / "var/cache/apt").glob("*.bin")]:
        stale.unlink()


def dependency_debs():
    """The .deb files of DEPENDENCY_DEBS, downloaded once from Debian."""
    folder = CACHE / "debs"
    if not all(list(folder.glob(f"{name}_*.deb")) for name in DEPENDENCY_DEBS):
        folder.mkdir(parents=True, exist_ok=True)
        download = lambda: subprocess.run(["apt-get", "download", *DEPENDENCY_DEBS], cwd=folder, capture_output=True, text=True)
        if download().returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], check=True)
            result = download()
            assert result.returncode == 0, result.stderr
    return sorted(deb for name in DEPENDENCY_DEBS for deb in folder.glob(f"{name}_*.deb"))


def built_package():
    packages = sorted((ROOT / "build" / "debian").glob("voiceagentd_*.deb"))
    assert packages, "no build/debian/voiceagentd_*.deb: run scripts/build-deb first"
    return packages[-1]


def simulator_binary():
    path = Path(subprocess.run(["swift", "build", "--show-bin-path"], cwd=ROOT, capture_output=True,
                               text=True, check=True).stdout.strip()) / "voiceagent-simulator"
    assert path.exists(), f"{path} is missing: run swift build first"
    return path


class Container:
    """A booted container and the way into it."""

    def __init__(self, root, work):
        self.root = root
        self.log = open(work / "nspawn.log", "w")
        self.process = subprocess.Popen(
            # A real init starts with CAP_SYS_RESOURCE and raises a unit's
            # LimitRTPRIO= past its own limit; a container's lacks it, so
            # give its init the unit's real-time limit to hand down.
            nspawn(root, "--boot", "--console=passive", "--rlimit=RTPRIO=10",
                   f"--bind-ro={work}/pulse/pulse/runtime:{PULSE_IN_CONTAINER}"),
            stdout=self.log, stderr=subprocess.STDOUT)
        self.leader = wait_for("the container's init", self.init_pid)
        wait_for("systemd's bus", lambda: "Failed to connect" not in self.run("systemctl is-system-running").stderr)
        state = self.run("systemctl is-system-running --wait")
        assert state.stdout.strip() in ("running", "degraded"), state.stdout + state.stderr

    def init_pid(self):
        if self.process.poll() is not None:
            raise AssertionError(f"systemd-nspawn exited with {self.process.returncode}; see {self.log.name}")
        # nspawn's child becomes the container's systemd once it has set up.
        for child in Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split():
            if Path(f"/proc/{child}/comm").read_text().strip() == "systemd":
                return int(child)
        return None

    def run(self, command, user=None, timeout=60):
        """Runs a shell command inside, as root or as `user`."""
        if user:
            command = f"runuser -u {user} -- sh -c {json.dumps(command)}"
        return subprocess.run(
            ["nsenter", "-t", str(self.leader), "-a", "env", "-i",
             "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "sh", "-c", command],
            capture_output=True, text=True, timeout=timeout)

    def check(self, command, user=None):
        result = self.run(command, user)
        assert result.returncode == 0, f"{command} exited {result.returncode}:\n{result.stdout}{result.stderr}"
        return result.stdout

    def property(self, unit, name):
        return self.check(f"systemctl show --value -p {name} {unit}").strip()

    def shut_down(self):
        self.process.send_signal(signal.SIGTERM)  # nspawn asks init to power off
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


@pytest.fixture(scope="module")
def booted():
    if os.geteuid() != 0:
        cannot_boot("systemd-nspawn needs root")
    for tool in ("debootstrap", "systemd-nspawn", "nsenter", "pulseaudio"):
        if shutil.which(tool) is None:
            cannot_boot(f"{tool} is not installed (scripts/install-dependencies installs it)")
    package = built_package()
    simulator_path = simulator_binary()
    image = cached_image()
    probe = subprocess.run(nspawn(image, "/bin/true"), capture_output=True, text=True)
    if probe.returncode != 0:
        cannot_boot(f"this machine cannot run systemd-nspawn: {probe.stderr.strip()}")

    work = Path(tempfile.mkdtemp(prefix="voiceagentd-boot-"))
    root = work / "root"
    subprocess.run(["cp", "-a", "--reflink=auto", str(image), str(root)], check=True)
    forget_package_lists(root)
    assert not (root / "etc/ssl/certs/ca-certificates.crt").exists(), "the image must start without a CA store"
    shutil.copy(package, root / "root" / package.name)
    (root / "root" / "debs").mkdir()
    for deb in dependency_debs():
        shutil.copy(deb, root / "root" / "debs" / deb.name)
    (root / "etc" / "asound.conf").write_text(
        f'pcm.voiceagent_speaker {{ type pulse; server "unix:{PULSE_IN_CONTAINER}/native"; device speaker }}\n'
        f'pcm.voiceagent_mic {{ type pulse; server "unix:{PULSE_IN_CONTAINER}/native"; device mic.monitor }}\n')

    pulse = subprocess.Popen(
        ["bash", "-c", 'source scripts/lib/paced-audio.sh && start_paced_audio "$1" && echo ready && wait', "_",
         str(work / "pulse")],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert pulse.stdout.readline().strip() == "ready", "PulseAudio did not start"
    simulator_log = open(work / "simulator.log", "w+")
    simulator = subprocess.Popen(
        [str(simulator_path), "--port", "0", "--scenario", "conversation", "--delivery", "paced"],
        stdout=simulator_log, stderr=subprocess.STDOUT)
    base_url = wait_for("the simulator", lambda: re.search(
        r"listening on (\S+)", (work / "simulator.log").read_text()))[1]

    container = None
    try:
        container = Container(root, work)
        container.package = f"/root/{package.name}"
        container.base_url = base_url
        container.pulse_server = f"unix:{work}/pulse/pulse/runtime/native"
        yield container
    finally:
        if container:
            container.shut_down()
        simulator.terminate()
        simulator.wait()
        os.killpg(pulse.pid, signal.SIGTERM)
        pulse.wait()
        shutil.rmtree(work, ignore_errors=True)


def install(container):
    """apt with the package and the local .debs of what it needs. With no
    package lists apt knows of nothing it could download: what the package
    depends on must be among the files, and apt must pick it up."""
    output = container.check(f"apt-get install -y {container.package} /root/debs/*.deb")
    assert "Setting up voiceagentd" in output, output
    container.check(f"id {MEMBER} >/dev/null 2>&1 || useradd --no-create-home {MEMBER}")
    container.check(f"usermod --append --groups voiceagent {MEMBER}")
    configure(container)


def configure(container, *extra):
    container.check(
        "cat > /etc/voiceagentd/voiceagentd.conf <<EOF\n"
        f"API_BASE_URL={container.base_url}\nAGENT_ID=agent_boot\n"
        "CAPTURE_DEVICE=voiceagent_mic\nPLAYBACK_DEVICE=voiceagent_speaker\n" + "".join(line + "\n" for line in extra) + "EOF")


def member_holds_a_conversation(container):
    """What a member of the group does: status, start, events, stop."""
    assert "State:" in container.check("voiceagentctl status", user=MEMBER)
    started = container.check("voiceagentctl start", user=MEMBER)
    conversation_id = re.search(r"started conversation (\S+)", started)[1]
    wait_for("the greeting", lambda: "agent:" in container.check("voiceagentctl events", user=MEMBER))
    assert "stopped" in container.check("voiceagentctl stop", user=MEMBER)
    return conversation_id


@pytest.fixture(scope="module")
def installed(booted):
    install(booted)
    return booted


@pytest.fixture(scope="module")
def conversation(installed):
    output = installed.check("voiceagentctl start --var place=container", user=MEMBER)
    return re.search(r"started conversation (\S+)", output)[1]


def test_the_package_brought_the_ca_store(installed):
    assert installed.run("test -s /etc/ssl/certs/ca-certificates.crt").returncode == 0


def test_units_pass_systemd_analyze_verify(installed):
    result = installed.run("systemd-analyze verify voiceagentd.service voiceagentd.socket")
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_install_creates_the_group_and_listens_without_starting_the_daemon(installed):
    assert installed.run("getent group voiceagent").returncode == 0
    assert installed.property("voiceagentd.socket", "ActiveState") == "active"
    assert installed.property("voiceagentd.socket", "UnitFileState") == "enabled"
    assert installed.property("voiceagentd.service", "ActiveState") == "inactive"
    assert installed.check("stat -c '%a %G' /run/voiceagentd/control.sock").split() == ["660", "voiceagent"]


def test_start_activates_the_daemon_through_the_socket(installed, conversation):
    assert conversation.startswith("conv_")
    assert installed.property("voiceagentd.service", "ActiveState") == "active"
    status = installed.check("systemctl status voiceagentd --no-pager")
    assert f'Status: "in conversation {conversation}"' in status


def test_a_conversation_runs_on_the_paced_devices(installed, conversation):
    speech = subprocess.run([sys.executable, "-c", SPEECH_THEN_SILENCE], capture_output=True, check=True).stdout
    subprocess.run(
        ["pacat", "--device=mic", "--format=s16le", "--rate=16000", "--channels=1"],
        input=speech, env={**os.environ, "PULSE_SERVER": installed.pulse_server}, check=True)
    wait_for("the agent's answer to the speech", lambda: "I heard you say" in installed.check("voiceagentctl events"))
    audio = lambda: json.loads(installed.check("voiceagentctl status --json"))["audio"]
    wait_for("a second of the agent's voice played", lambda: audio()["frames_played"] >= 16000)
    assert audio()["frames_captured"] >= 16000


def test_the_audio_threads_run_in_real_time_under_the_unit_or_say_why_not(installed, conversation):
    assert installed.property("voiceagentd.service", "LimitRTPRIO") == "10"
    pid = installed.property("voiceagentd.service", "MainPID")
    audio = lambda: json.loads(installed.check("voiceagentctl status --json"))["audio"]
    wait_for("the greeting played", lambda: audio()["frames_played"] > 0)
    # The container's init can hand down only the limit it has: without
    # CAP_SYS_RESOURCE on the host (this project's VM) that is 0.
    if "Max realtime priority     10" in installed.check("cat /proc/1/limits"):
        assert audio().get("realtime_priority") == 10
        policies = installed.check(f"sh -c 'for t in /proc/{pid}/task/*; do grep -q ^audio- $t/comm && chrt -p ${{t##*/}}; done'")
        assert policies.count("SCHED_FIFO") == 2 and policies.count("priority: 10") == 2, policies
        assert "audio_realtime_refused" not in installed.check("voiceagentctl events")
    else:
        assert "realtime_priority" not in audio()
        refused = installed.check("journalctl -u voiceagentd -o cat --no-pager --grep audio_realtime_refused")
        assert "SCHED_FIFO priority 10 is not permitted (RLIMIT_RTPRIO is 0): raise LimitRTPRIO= in the unit" in refused, refused


def test_interrupt_and_stop(installed, conversation):
    installed.check("voiceagentctl say 'Tell me a long story'", user=MEMBER)
    installed.check("voiceagentctl interrupt", user=MEMBER)
    assert "stopped" in installed.check("voiceagentctl stop", user=MEMBER)
    assert "ended" in installed.check("voiceagentctl events --json | tail -n 1", user=MEMBER)


def test_a_member_keeps_control_after_a_restart_and_a_reload(installed, conversation):
    installed.check("systemctl restart voiceagentd.service")
    member_holds_a_conversation(installed)
    reload = installed.run("systemctl reload voiceagentd.service")
    assert reload.returncode == 0, reload.stderr
    wait_for("the reload in the journal", lambda: "configuration reloaded" in installed.check("journalctl -u voiceagentd -o cat --no-pager"))
    member_holds_a_conversation(installed)
    # The socket's directory is the socket unit's, not moved to /run/private.
    assert installed.run("test -L /run/voiceagentd").returncode != 0
    assert installed.run("test -e /run/private/voiceagentd").returncode != 0
    assert installed.check("stat -c '%a %G' /run/voiceagentd/control.sock").split() == ["660", "voiceagent"]


def test_the_journal_holds_the_conversation(installed, conversation):
    lines = installed.check(f"journalctl -u voiceagentd VOICEAGENT_CONVERSATION_ID={conversation} -o json --no-pager")
    entries = [json.loads(line) for line in lines.splitlines()]
    events = [entry["VOICEAGENT_EVENT"] for entry in entries]
    assert {"connected", "user_transcript", "agent_response", "interruption", "ended"} <= set(events), events
    assert all(entry["SYSLOG_IDENTIFIER"] == "voiceagentd" and entry["_SYSTEMD_UNIT"] == "voiceagentd.service" for entry in entries)
    sequence = [int(entry["VOICEAGENT_SEQ"]) for entry in entries]
    assert sequence == sorted(sequence)


def test_metrics_are_served_under_the_hardened_unit(installed):
    configure(installed, "METRICS_LISTEN=127.0.0.1:9464")
    installed.check("systemctl restart voiceagentd.service")
    member_holds_a_conversation(installed)
    scrape = "bash -c 'exec 3<>/dev/tcp/127.0.0.1/9464 && printf \"GET /metrics HTTP/1.0\\r\\n\\r\\n\" >&3 && cat <&3'"
    wait_for("the conversation in the metrics", lambda: "voiceagent_conversations_accepted_total 1" in installed.run(scrape).stdout)
    assert "voiceagent_control_requests_total{command=\"start\"} 1" in installed.run(scrape).stdout
    configure(installed)
    installed.check("systemctl restart voiceagentd.service")


def test_always_on_starts_a_conversation_by_itself_and_stop_pauses_it(installed):
    configure(installed, "ALWAYS_ON=yes", "ALWAYS_ON_PAUSE_MS=500")
    installed.check("systemctl restart voiceagentd.service")
    status = lambda: json.loads(installed.check("voiceagentctl status --json", user=MEMBER))
    wait_for("a conversation nobody started", lambda: status()["state"] == "active")
    assert status()["always_on"] == "on"
    assert "stopped" in installed.check("voiceagentctl stop", user=MEMBER)
    assert status()["always_on"] == "paused" and status()["state"] == "idle"
    configure(installed)
    installed.check("systemctl restart voiceagentd.service")


def test_transcripts_stay_out_of_the_journal_when_asked(installed):
    configure(installed, "LOG_TRANSCRIPTS=no")
    installed.check("systemctl restart voiceagentd.service")
    started = installed.check("voiceagentctl start", user=MEMBER)
    conversation = re.search(r"started conversation (\S+)", started)[1]
    greeting = lambda: installed.check("voiceagentctl events", user=MEMBER)
    wait_for("the greeting, without its words", lambda: "transcript=withheld" in greeting())
    assert "agent:" not in greeting()
    assert "stopped" in installed.check("voiceagentctl stop", user=MEMBER)
    lines = installed.check(f"journalctl -u voiceagentd VOICEAGENT_CONVERSATION_ID={conversation} -o json --no-pager")
    responses = [json.loads(line) for line in lines.splitlines() if '"VOICEAGENT_EVENT":"agent_response"' in line.replace(" ", "")]
    assert responses, lines
    assert all("VOICEAGENT_TEXT" not in entry and entry["VOICEAGENT_TRANSCRIPT"] == "withheld" for entry in responses)
    configure(installed)
    installed.check("systemctl restart voiceagentd.service")


def test_a_user_outside_the_group_is_refused(installed):
    installed.check("id outsider >/dev/null 2>&1 || useradd --no-create-home outsider")
    refused = installed.run("voiceagentctl status", user="outsider")
    assert refused.returncode == 77, refused.stdout + refused.stderr
    assert "permission denied" in refused.stderr


def test_the_api_key_file_is_optional_and_never_shown(installed):
    installed.check("rm -f /etc/voiceagentd/api-key && systemctl restart voiceagentd.service")
    assert installed.property("voiceagentd.service", "ActiveState") == "active"
    setup = json.loads(installed.check("voiceagentctl status --json", user=MEMBER))["setup"]
    assert setup == {"agent_id": "agent_boot", "auth": "public", "api_key_loaded": False}
    installed.check("install -m 0600 /dev/null /etc/voiceagentd/api-key && printf 'sk_boot_secret' > /etc/voiceagentd/api-key")
    installed.check("systemctl restart voiceagentd.service")
    status = installed.check("voiceagentctl status --json", user=MEMBER)
    assert json.loads(status)["setup"]["api_key_loaded"] is True
    assert "sk_boot_secret" not in status
    assert "sk_boot_secret" not in installed.check("journalctl -u voiceagentd -o cat --no-pager")
    installed.check("rm /etc/voiceagentd/api-key && systemctl restart voiceagentd.service")


def test_a_typo_in_the_configuration_is_one_clear_failure(installed):
    configure(installed, "PERIOD_MS=0")
    installed.check("systemctl restart voiceagentd.service")
    refused = installed.run("voiceagentctl start", user=MEMBER)
    assert refused.returncode == 78, refused.stdout + refused.stderr
    assert "PERIOD_MS in the file): '0' is not a whole number from 5 to 100" in refused.stderr
    assert "systemctl reload voiceagentd" in refused.stderr
    for _ in range(5):
        assert installed.run("voiceagentctl status", user=MEMBER).returncode == 78
    assert installed.property("voiceagentd.service", "ActiveState") == "active"
    assert installed.property("voiceagentd.service", "NRestarts") == "0"
    assert installed.property("voiceagentd.socket", "ActiveState") == "active"
    configure(installed)
    installed.check("systemctl reload voiceagentd.service")
    wait_for("the fixed configuration", lambda: installed.run("voiceagentctl status", user=MEMBER).returncode == 0)
    member_holds_a_conversation(installed)


def test_an_upgrade_restarts_the_running_daemon(installed):
    before = installed.property("voiceagentd.service", "MainPID")
    assert before != "0"
    installed.check(f"dpkg -i {installed.package}")
    after = installed.property("voiceagentd.service", "MainPID")
    assert after not in ("0", before)
    assert installed.property("voiceagentd.service", "ActiveState") == "active"


def test_systemctl_stop_is_clean(installed):
    installed.check("systemctl stop voiceagentd.service")
    assert installed.property("voiceagentd.service", "Result") == "success"
    assert installed.property("voiceagentd.service", "ExecMainStatus") == "0"


def test_purge_removes_configuration_and_socket(installed):
    installed.check("dpkg --purge voiceagentd")
    assert installed.run("test -e /etc/voiceagentd").returncode != 0
    assert installed.run("test -e /run/voiceagentd/control.sock").returncode != 0
    assert installed.run("test -e /run/private/voiceagentd").returncode != 0
    assert installed.property("voiceagentd.socket", "LoadState") == "not-found"


def test_reinstalling_after_a_purge_works(installed):
    install(installed)
    member_holds_a_conversation(installed)
