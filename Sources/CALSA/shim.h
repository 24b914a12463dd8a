#ifndef VOICEAGENTD_CALSA_SHIM_H
#define VOICEAGENTD_CALSA_SHIM_H

// The modulemap resolves header paths relative to this folder, so the real
// header is reached through this include.
#include <alsa/asoundlib.h>

// ALSA's error handler is variadic, which Swift cannot write: these keep
// its messages off stderr while the device list probes every PCM (each
// failure is reported in the list, in ALSA's words, instead).
static void voiceagent_alsa_quiet_handler(const char *file, int line, const char *function, int err, const char *fmt, ...) {
    (void)file; (void)line; (void)function; (void)err; (void)fmt;
}

static inline void voiceagent_alsa_errors_quiet(int quiet) {
    snd_lib_error_set_handler(quiet ? voiceagent_alsa_quiet_handler : NULL);
}

#endif
