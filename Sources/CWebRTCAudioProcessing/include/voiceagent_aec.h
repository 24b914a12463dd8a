#ifndef VOICEAGENTD_AEC_H
#define VOICEAGENTD_AEC_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// WebRTC's acoustic echo canceller (libwebrtc-audio-processing, AEC with
/// the extended filter), in 10 ms frames of 16-bit mono samples.
typedef struct voiceagent_aec voiceagent_aec;

/// NULL unless the rate is 8000, 16000, 32000 or 48000 Hz.
voiceagent_aec *voiceagent_aec_create(int sample_rate);
void voiceagent_aec_destroy(voiceagent_aec *aec);

/// What the speaker played over the next 10 ms. 0, or WebRTC's error.
int voiceagent_aec_played(voiceagent_aec *aec, const int16_t *frame);

/// The microphone over the same 10 ms, its echo removed in place;
/// `delay_ms` is how long before the microphone heard it the speaker
/// played it, beyond what `played` already accounts for. 0, or WebRTC's error.
int voiceagent_aec_captured(voiceagent_aec *aec, int16_t *frame, int delay_ms);

#ifdef __cplusplus
}
#endif

#endif
