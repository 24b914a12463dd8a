#ifndef VOICEAGENTD_CSYSTEMD_SHIM_H
#define VOICEAGENTD_CSYSTEMD_SHIM_H

#include <sys/types.h>
#include <sys/uio.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

// glibc declares struct ucred only under _GNU_SOURCE, which Swift does not
// set; this mirror has the same layout so SO_PEERCRED can be read into it.
struct voiceagent_ucred {
    pid_t pid;
    uid_t uid;
    gid_t gid;
};

#endif
