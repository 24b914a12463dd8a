"""The official ElevenLabs Python SDK's conversation with its own PyAudio
audio interface, as a user of the SDK would run it, driven by the benchmark
over stdin: a line `interrupt` calls the interface's interrupt(), `stop`
ends the session. Prints `ready` once the conversation has started.

    sdk_client.py BASE_URL [CHUNK_MS]

CHUNK_MS sets the microphone chunk (the interface's frames per buffer at
16 kHz); without it the SDK keeps its own 250 ms.
"""

import sys

from elevenlabs.client import ElevenLabs
from elevenlabs.conversational_ai.conversation import Conversation
from elevenlabs.conversational_ai.default_audio_interface import DefaultAudioInterface


def main(base_url, chunk_ms=None):
    audio = DefaultAudioInterface()
    if chunk_ms is not None:
        audio.INPUT_FRAMES_PER_BUFFER = 16 * chunk_ms
    conversation = Conversation(
        ElevenLabs(api_key="unused", base_url=base_url), "agent_benchmark",
        requires_auth=False, audio_interface=audio)
    conversation.start_session()
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() == "interrupt":
            audio.interrupt()
        elif line.strip() == "stop":
            break
    conversation.end_session()
    conversation.wait_for_session_end()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else None)
