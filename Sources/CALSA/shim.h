#ifndef VOICEAGENTD_CALSA_SHIM_H
#define VOICEAGENTD_CALSA_SHIM_H

// The modulemap resolves header paths relative to this folder, so the real
// header is reached through this include.
#include <alsa/asoundlib.h>

#endif
