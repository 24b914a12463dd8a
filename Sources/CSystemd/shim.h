#ifndef VOICEAGENTD_CSYSTEMD_SHIM_H
#define VOICEAGENTD_CSYSTEMD_SHIM_H

#include <sys/types.h>
#include <sys/uio.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

#endif
