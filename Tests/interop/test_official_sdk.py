"""The official ElevenLabs Python SDK holds conversations with the simulator.

If the SDK, written against the real service, connects, answers pings,
plays the agent's reply, answers tool calls and hears interruptions here,
the simulator speaks the real protocol.
"""

import array
import math
import threading
import time

import pytest
from elevenlabs.client import ElevenLabs
from elevenlabs.conversational_ai.conversation import (
    AudioInterface,
    ClientTools,
    Conversation,
    ConversationInitiationData,
)

SAMPLE_RATE = 16000
CHUNK_FRAMES = 4000  # the SDK's own 250 ms buffers


def tone(seconds, amplitude=12000):
    return array.array("h", (int(math.sin(i * 0.2) * amplitude) for i in range(int(seconds * SAMPLE_RATE)))).tobytes()


def silence(seconds):
    return bytes(int(seconds * SAMPLE_RATE) * 2)


class FileAudioInterface(AudioInterface):
    """A microphone that plays a byte string and a speaker that keeps bytes."""

    def __init__(self, microphone: bytes):
        self.microphone = microphone
        self.played = bytearray()
        self.interruptions = 0
        self.lock = threading.Lock()
        self.stopped = threading.Event()

    def start(self, input_callback):
        def capture():
            step = CHUNK_FRAMES * 2
            offset = 0
            while not self.stopped.is_set():
                chunk = self.microphone[offset : offset + step]
                offset += step
                input_callback(chunk if len(chunk) == step else silence(CHUNK_FRAMES / SAMPLE_RATE))
                self.stopped.wait(CHUNK_FRAMES / SAMPLE_RATE)

        threading.Thread(target=capture, daemon=True).start()

    def stop(self):
        self.stopped.set()

    def output(self, audio):
        with self.lock:
            self.played.extend(audio)

    def interrupt(self):
        with self.lock:
            self.interruptions += 1


def conversation(simulator, audio, api_key="unused", requires_auth=False, **kwargs):
    client = ElevenLabs(api_key=api_key, base_url=simulator.base_url)
    return Conversation(client, "agent_sdk", requires_auth=requires_auth, audio_interface=audio, **kwargs)


def test_sdk_connects_pongs_hears_the_reply_and_answers_a_tool_call(start_simulator):
    simulator = start_simulator("--scenario", "tool-call", "--ping-interval-milliseconds", "200", "--reply-seconds", "0.5")
    audio = FileAudioInterface(silence(0.5) + tone(0.6) + silence(1.0))
    responses, transcripts = [], []
    tools = ClientTools()
    tools.register("get_weather", lambda parameters: f"sunny in {parameters['city']}")
    session = conversation(
        simulator,
        audio,
        client_tools=tools,
        config=ConversationInitiationData(dynamic_variables={"customer": "Ada"}),
        callback_agent_response=responses.append,
        callback_user_transcript=transcripts.append,
    )
    session.start_session()
    try:
        simulator.wait_for("the tool result", lambda: simulator.messages("client_tool_result"))
        simulator.wait_for("the agent to speak the tool's answer", lambda: any("sunny in Paris" in r for r in responses))
        simulator.wait_for("two pongs", lambda: len(simulator.messages("pong")) >= 2)
        simulator.wait_for("the user's turn to be answered", lambda: any(r.startswith("I heard") for r in responses))
    finally:
        session.end_session()
        session.wait_for_session_end()

    initiation = simulator.messages()[0]
    assert initiation["type"] == "conversation_initiation_client_data"
    assert initiation["message"]["dynamic_variables"] == {"customer": "Ada"}

    result = simulator.messages("client_tool_result")[0]["message"]
    assert result["result"] == "sunny in Paris"
    assert result["is_error"] is False
    assert result["tool_call_id"].startswith("call_")

    assert all(isinstance(p["message"]["event_id"], int) for p in simulator.messages("pong"))
    assert transcripts and "seconds of speech" in transcripts[0]
    assert len(audio.played) > SAMPLE_RATE  # at least half a second of agent speech
    assert max(array.array("h", bytes(audio.played))) > 4000


def test_sdk_follows_a_server_interruption(start_simulator):
    simulator = start_simulator("--scenario", "interrupt", "--reply-seconds", "1")
    audio = FileAudioInterface(b"")
    responses = []
    session = conversation(simulator, audio, callback_agent_response=responses.append)
    session.start_session()
    try:
        simulator.wait_for("the follow-up reply", lambda: "Sorry, go ahead." in responses)
        deadline = time.monotonic() + 5
        while audio.interruptions == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        session.end_session()
        session.wait_for_session_end()
    assert audio.interruptions >= 1


def test_sdk_uses_the_signed_url_endpoint(start_simulator):
    simulator = start_simulator("--api-key", "sk_sdk_test")
    audio = FileAudioInterface(b"")
    responses = []
    session = conversation(simulator, audio, api_key="sk_sdk_test", requires_auth=True, callback_agent_response=responses.append)
    session.start_session()
    try:
        simulator.wait_for("the greeting", lambda: responses)
    finally:
        session.end_session()
        session.wait_for_session_end()
    assert simulator.messages()[0]["type"] == "conversation_initiation_client_data"


def test_sdk_is_refused_with_a_wrong_key(start_simulator):
    simulator = start_simulator("--api-key", "sk_sdk_test")
    session = conversation(simulator, FileAudioInterface(b""), api_key="sk_wrong", requires_auth=True)
    with pytest.raises(Exception) as refused:
        session.start_session()
    assert "401" in str(refused.value)
