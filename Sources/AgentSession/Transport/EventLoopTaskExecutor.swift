import NIOCore

/// Runs the jobs of tasks that prefer it on one NIO event loop. A session's
/// socket lives on that loop, so its reads and writes, and the microphone
/// chunks on their way out, skip a hop through the shared thread pool.
final class EventLoopTaskExecutor: TaskExecutor {
    let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
