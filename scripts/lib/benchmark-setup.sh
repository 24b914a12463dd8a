# What the benchmarks need, from the project's own files on a fresh machine.
# Source this file, then call prepare_benchmark [APT-PACKAGE...]: the
# project's dependencies and those named, PortAudio (which PyAudio, the
# official SDK's audio, builds against), the benchmarks' Python environment
# (.venv-benchmark) and the release binaries.

prepare_benchmark() {
    scripts/install-dependencies portaudio19-dev "$@" >/dev/null
    [ -x .venv-benchmark/bin/python ] || python3 -m venv .venv-benchmark
    .venv-benchmark/bin/python -m pip install -q --disable-pip-version-check -r benchmarks/requirements.txt
    build_release_binaries
}

# The binaries as the Debian package builds them; arguments go on to
# scripts/build-release (another --scratch-path).
build_release_binaries() {
    for product in voiceagentd voiceagentctl voiceagent-simulator; do
        scripts/build-release --product "$product" "$@" >/dev/null
    done
}
