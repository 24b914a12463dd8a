import Glibc
import Synchronization

/// SCHED_FIFO for an audio thread: on a busy machine a thread at normal
/// priority can wait longer than the device's buffer lasts (an xrun, a
/// click, a late chunk); a real-time thread runs as soon as its period is
/// ready. A process may ask for it up to its RLIMIT_RTPRIO (systemd's
/// `LimitRTPRIO=`), or with CAP_SYS_NICE.
public enum RealtimeScheduling {
    /// What the calling thread got.
    public enum Outcome: Sendable, Equatable {
        case normal
        case realtime(priority: Int)
        case refused(reason: String)
    }

    /// The refusal is reported once per process, not once per conversation.
    private static let refusalReported = Atomic(false)

    /// Asks for SCHED_FIFO at `priority` (1-99) for the calling thread;
    /// 0 puts it (back) at normal priority.
    public static func apply(priority: Int) -> Outcome {
        guard priority > 0 else {
            var parameters = sched_param(sched_priority: 0)
            _ = pthread_setschedparam(pthread_self(), SCHED_OTHER, &parameters)
            return .normal
        }
        var parameters = sched_param(sched_priority: Int32(priority))
        // Reset on fork: a child of this thread must not inherit real time.
        let result = pthread_setschedparam(pthread_self(), SCHED_FIFO | 0x4000_0000, &parameters)
        guard result != 0 else { return .realtime(priority: priority) }
        let limit = currentLimit
        let reason =
            result == EPERM
            ? "SCHED_FIFO priority \(priority) is not permitted (RLIMIT_RTPRIO is \(limit)): raise LimitRTPRIO= in the unit or set realtime.priority=0"
            : "SCHED_FIFO priority \(priority) failed: \(String(cString: strerror(result)))"
        return .refused(reason: reason)
    }

    /// True for the first refusal in this process.
    static func shouldReport() -> Bool {
        !refusalReported.exchange(true, ordering: .relaxed)
    }

    private static var currentLimit: String {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(__RLIMIT_RTPRIO.rawValue), &limit) == 0 else { return "unknown" }
        return limit.rlim_cur == rlim_t.max ? "unlimited" : String(limit.rlim_cur)
    }
}
