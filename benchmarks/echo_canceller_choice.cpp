// The two echo cancellers Debian offers, on the same speech, offline:
// WebRTC's (libwebrtc-audio-processing, AEC with the extended filter, at
// each suppression level) and speexdsp's (MDF with its preprocessor for
// the residual echo). The agent's speech reaches the microphone DELAY_MS
// later and GAIN_DB quieter; from 4 s on the user speaks over it. Prints
// the echo return loss enhancement per half second and what each took off
// the user's voice.
//
//   echo_canceller_choice AGENT.raw USER.raw DELAY_MS GAIN_DB
//   (16-bit mono PCM at 16 kHz; scripts/benchmark-echo-choice makes them)

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include <speex/speex_echo.h>
#include <speex/speex_preprocess.h>
#include <webrtc/modules/audio_processing/include/audio_processing.h>
#include <webrtc/modules/interface/module_common_types.h>

static const int rate = 16000, frame = 160;

static std::vector<int16_t> read(const char *path) {
    std::vector<int16_t> samples;
    FILE *file = std::fopen(path, "rb");
    int16_t sample;
    while (file && std::fread(&sample, 2, 1, file) == 1) samples.push_back(sample);
    if (file) std::fclose(file);
    return samples;
}

struct Canceller {
    virtual ~Canceller() {}
    virtual void process(const int16_t *played, int16_t *heard) = 0;
};

struct WebRTC : Canceller {
    std::unique_ptr<webrtc::AudioProcessing> processing;
    explicit WebRTC(webrtc::EchoCancellation::SuppressionLevel level) {
        webrtc::Config config;
        config.Set<webrtc::ExtendedFilter>(new webrtc::ExtendedFilter(true));
        processing.reset(webrtc::AudioProcessing::Create(config));
        processing->echo_cancellation()->Enable(true);
        processing->echo_cancellation()->enable_drift_compensation(false);
        processing->echo_cancellation()->set_suppression_level(level);
    }
    void process(const int16_t *played, int16_t *heard) override {
        webrtc::AudioFrame reverse, capture;
        for (webrtc::AudioFrame *f : {&reverse, &capture}) {
            f->num_channels_ = 1;
            f->sample_rate_hz_ = rate;
            f->samples_per_channel_ = frame;
        }
        std::memcpy(reverse.data_, played, frame * 2);
        std::memcpy(capture.data_, heard, frame * 2);
        processing->ProcessReverseStream(&reverse);
        processing->set_stream_delay_ms(0);
        processing->ProcessStream(&capture);
        std::memcpy(heard, capture.data_, frame * 2);
    }
};

struct Speex : Canceller {
    SpeexEchoState *echo;
    SpeexPreprocessState *preprocess;
    Speex() {
        echo = speex_echo_state_init(frame, rate / 4);
        int sampleRate = rate, off = 0;
        speex_echo_ctl(echo, SPEEX_ECHO_SET_SAMPLING_RATE, &sampleRate);
        preprocess = speex_preprocess_state_init(frame, rate);
        speex_preprocess_ctl(preprocess, SPEEX_PREPROCESS_SET_ECHO_STATE, echo);
        speex_preprocess_ctl(preprocess, SPEEX_PREPROCESS_SET_DENOISE, &off);
    }
    ~Speex() override {
        speex_preprocess_state_destroy(preprocess);
        speex_echo_state_destroy(echo);
    }
    void process(const int16_t *played, int16_t *heard) override {
        int16_t out[frame];
        speex_echo_cancellation(echo, heard, played, out);
        speex_preprocess_run(preprocess, out);
        std::memcpy(heard, out, frame * 2);
    }
};

int main(int argc, char **argv) {
    if (argc != 5) {
        std::fprintf(stderr, "usage: %s AGENT.raw USER.raw DELAY_MS GAIN_DB\n", argv[0]);
        return 2;
    }
    std::vector<int16_t> agent = read(argv[1]), user = read(argv[2]);
    const int delay = std::atoi(argv[3]) * rate / 1000;
    const double gain = std::pow(10, std::atof(argv[4]) / 20);
    const size_t userFrom = 4 * rate;
    if (agent.size() < userFrom + user.size()) {
        std::fprintf(stderr, "the agent's speech must last 4 s more than the user's\n");
        return 2;
    }
    const char *names[] = {"webrtc low", "webrtc moderate", "webrtc high", "speexdsp"};
    std::unique_ptr<Canceller> cancellers[] = {
        std::make_unique<WebRTC>(webrtc::EchoCancellation::kLowSuppression),
        std::make_unique<WebRTC>(webrtc::EchoCancellation::kModerateSuppression),
        std::make_unique<WebRTC>(webrtc::EchoCancellation::kHighSuppression), std::make_unique<Speex>()};
    std::printf("canceller");
    for (double t = 0.5; t <= 4.0; t += 0.5) std::printf("\t%.1f s", t);
    std::printf("\tuser's voice lost\n");
    for (int c = 0; c < 4; c++) {
        std::printf("%s", names[c]);
        double before = 0, after = 0, userEnergy = 0, userAfter = 0;
        for (size_t start = 0; start + frame <= userFrom + user.size(); start += frame) {
            int16_t heard[frame];
            for (int i = 0; i < frame; i++) {
                size_t at = start + i;
                double echo = at >= (size_t)delay ? agent[at - delay] * gain : 0;
                double near = at >= userFrom ? user[at - userFrom] : 0;
                heard[i] = (int16_t)std::fmax(-32768, std::fmin(32767, echo + near));
                before += heard[i] * (double)heard[i];
                userEnergy += at >= userFrom ? near * near : 0;
            }
            cancellers[c]->process(&agent[start], heard);
            for (int i = 0; i < frame; i++) after += heard[i] * (double)heard[i];
            if (start < userFrom && (start + frame) % (rate / 2) == 0) {
                std::printf("\t%.1f dB", 10 * std::log10(before / (after + 1)));
                before = after = 0;
            }
            if (start >= userFrom)
                for (int i = 0; i < frame; i++) userAfter += heard[i] * (double)heard[i];
        }
        // What came out while the user spoke, against the user's voice alone.
        std::printf("\t%.1f dB\n", 10 * std::log10(userEnergy / userAfter));
    }
}
