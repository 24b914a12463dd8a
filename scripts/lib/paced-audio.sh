# Real-time paced sound devices without a sound card: a private PulseAudio
# with two null sinks, reached through ALSA's pulse plugin. "speaker" is the
# agent's voice (record it from speaker.monitor); "mic" is the user's
# microphone: whatever is played into it arrives at mic.monitor.
# Source this file, then call start_paced_audio DIR; stop_paced_audio ends it.

start_paced_audio() {
    local dir=$1
    mkdir -p "$dir/pulse/runtime" "$dir/pulse/home"
    cat > "$dir/pulse/default.pa" <<PA
load-module module-native-protocol-unix auth-anonymous=1 socket=$dir/pulse/runtime/native
load-module module-null-sink sink_name=speaker rate=16000 channels=1 sink_properties=device.description=voiceagent-speaker
load-module module-null-sink sink_name=mic rate=16000 channels=1 sink_properties=device.description=voiceagent-mic
PA
    # Without shared memory: on this project's machine PulseAudio 16's memfd
    # path crashed its null sink after minutes with several clients.
    export PULSE_SERVER="unix:$dir/pulse/runtime/native"
    HOME="$dir/pulse/home" XDG_RUNTIME_DIR="$dir/pulse/runtime" \
        pulseaudio -n -F "$dir/pulse/default.pa" --daemonize=no --exit-idle-time=-1 --disallow-exit --disable-shm=yes \
        >"$dir/pulse/pulseaudio.log" 2>&1 &
    PACED_AUDIO_PID=$!
    for _ in $(seq 100); do
        pactl info >/dev/null 2>&1 && break
        sleep 0.1
    done
    pactl info >/dev/null 2>&1 || { echo "PulseAudio did not start; see $dir/pulse/pulseaudio.log" >&2; return 1; }
    cat > "$dir/asound.conf" <<ALSA
pcm.voiceagent_speaker {
    type pulse
    device speaker
}
pcm.voiceagent_mic {
    type pulse
    device mic.monitor
}
ALSA
    export ALSA_CONFIG_PATH="/usr/share/alsa/alsa.conf:$dir/asound.conf"
    # A null sink with no stream asking for low latency renders two seconds
    # ahead and does not rewind when a stream arrives, so a stream that
    # connects then is heard about two seconds late. The pulse plugin
    # connects a new stream on every prepare (also after each underrun):
    # a recording of speaker.monitor, as the benchmark keeps, holds the
    # sink's latency low the way a real sound card's sink is rewound.
    # Warm up both ways for the first stream.
    head -c 3200 /dev/zero | pacat --device=mic --format=s16le --rate=16000 --channels=1 >/dev/null 2>&1 || true
    timeout 1 parec --device=speaker.monitor --format=s16le --rate=16000 --channels=1 >/dev/null 2>&1 || true
}

stop_paced_audio() {
    [ -n "${PACED_AUDIO_PID:-}" ] && kill "$PACED_AUDIO_PID" 2>/dev/null && wait "$PACED_AUDIO_PID" 2>/dev/null
    PACED_AUDIO_PID=
}
