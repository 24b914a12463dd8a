#ifndef VOICEAGENTD_CSPEEXDSP_SHIM_H
#define VOICEAGENTD_CSPEEXDSP_SHIM_H

// The modulemap resolves header paths relative to this folder, so the real
// header is reached through this include.
#include <speex/speex_resampler.h>

#endif
