#include "voiceagent_aec.h"

#include <cstring>
#include <memory>

#include <webrtc/modules/audio_processing/include/audio_processing.h>
#include <webrtc/modules/interface/module_common_types.h>

struct voiceagent_aec {
    std::unique_ptr<webrtc::AudioProcessing> processing;
    int sample_rate;
};

static void fill(webrtc::AudioFrame &frame, int sample_rate, const int16_t *samples) {
    frame.num_channels_ = 1;
    frame.sample_rate_hz_ = sample_rate;
    frame.samples_per_channel_ = sample_rate / 100;
    std::memcpy(frame.data_, samples, sizeof(int16_t) * frame.samples_per_channel_);
}

extern "C" voiceagent_aec *voiceagent_aec_create(int sample_rate) {
    if (sample_rate != 8000 && sample_rate != 16000 && sample_rate != 32000 && sample_rate != 48000) return nullptr;
    webrtc::Config config;
    // The longer filter (128 ms at 16 kHz) for rooms and USB speakerphones;
    // the devices' own delays are aligned before the canceller sees them.
    config.Set<webrtc::ExtendedFilter>(new webrtc::ExtendedFilter(true));
    std::unique_ptr<webrtc::AudioProcessing> processing(webrtc::AudioProcessing::Create(config));
    if (!processing) return nullptr;
    webrtc::EchoCancellation *echo = processing->echo_cancellation();
    // Low suppression keeps the user's voice over the agent's within 3 dB
    // (high suppression took 5.5 dB of it, for no more echo removed).
    if (echo->Enable(true) != 0 || echo->enable_drift_compensation(false) != 0 ||
        echo->set_suppression_level(webrtc::EchoCancellation::kLowSuppression) != 0) {
        return nullptr;
    }
    return new voiceagent_aec{std::move(processing), sample_rate};
}

extern "C" void voiceagent_aec_destroy(voiceagent_aec *aec) {
    delete aec;
}

extern "C" int voiceagent_aec_played(voiceagent_aec *aec, const int16_t *samples) {
    webrtc::AudioFrame frame;
    fill(frame, aec->sample_rate, samples);
    return aec->processing->ProcessReverseStream(&frame);
}

extern "C" int voiceagent_aec_captured(voiceagent_aec *aec, int16_t *samples, int delay_ms) {
    webrtc::AudioFrame frame;
    fill(frame, aec->sample_rate, samples);
    aec->processing->set_stream_delay_ms(delay_ms);
    int result = aec->processing->ProcessStream(&frame);
    if (result == 0) std::memcpy(samples, frame.data_, sizeof(int16_t) * frame.samples_per_channel_);
    return result;
}
