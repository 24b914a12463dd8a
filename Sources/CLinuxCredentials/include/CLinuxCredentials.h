#ifndef VOICEAGENTD_CLINUXCREDENTIALS_H
#define VOICEAGENTD_CLINUXCREDENTIALS_H

#include <sys/types.h>

// glibc declares struct ucred only under _GNU_SOURCE, which Swift does not
// set; this mirror is read with SO_PEERCRED. credentials.c checks at compile
// time that its layout is the real one.
struct voiceagent_ucred {
    pid_t pid;
    uid_t uid;
    gid_t gid;
};

#endif
