#define _GNU_SOURCE
#include <stddef.h>
#include <sys/socket.h>

#include "CLinuxCredentials.h"

_Static_assert(sizeof(struct voiceagent_ucred) == sizeof(struct ucred), "struct ucred changed size");
_Static_assert(offsetof(struct voiceagent_ucred, pid) == offsetof(struct ucred, pid), "ucred.pid moved");
_Static_assert(offsetof(struct voiceagent_ucred, uid) == offsetof(struct ucred, uid), "ucred.uid moved");
_Static_assert(offsetof(struct voiceagent_ucred, gid) == offsetof(struct ucred, gid), "ucred.gid moved");
