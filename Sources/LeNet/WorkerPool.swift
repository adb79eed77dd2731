import Atomics
import Foundation

/// Runs a job on the calling thread and `threads - 1` threads of its own, which spin for a while
/// after each job before they sleep.
///
/// Training runs two jobs per batch, about a millisecond apart. Dispatch's workers sleep between
/// them, and waking one took about 0.1 ms per job on the 2-vCPU machines this was measured on
/// (`DispatchQueue.concurrentPerform` with 0.05 to 0.5 ms of work per thread: 0.09 to 0.11 ms
/// more than the work), while the other thread waited for it. A spinning thread sees the next
/// job within microseconds; one idle for longer than 2 ms sleeps on a condition.
final class WorkerPool: @unchecked Sendable {
    let threads: Int
    /// How long a thread spins for the next job before it sleeps: 2 ms, or not at all when there
    /// are more threads than processors (a spinning thread would take a processor from one
    /// with work).
    private let spinNanoseconds: UInt64

    /// Bumped for every job (and once more to stop): the threads wait for it to change.
    private let generation = ManagedAtomic<Int>(0)
    /// Threads still running the current job.
    private let running = ManagedAtomic<Int>(0)
    /// The current job, set before `generation` is bumped and read by the threads after they see
    /// it bumped; valid until `running` is back to 0.
    private var job: ((Int) -> Void)?
    private var stopping = false
    /// Guards the sleepers' count and the condition they sleep on.
    private let sleep = NSCondition()
    private var sleepers = 0

    init(threads: Int) {
        precondition(threads > 0)
        self.threads = threads
        spinNanoseconds = threads <= ProcessInfo.processInfo.activeProcessorCount ? 2_000_000 : 0
        for t in 1..<threads {
            let thread = Thread { [self] in work(as: t) }
            thread.name = "lenet5 worker \(t)"
            thread.start()
        }
    }

    /// Calls `body(t)` for every t in 0..<threads, t = 0 on the calling thread, and returns when
    /// all have returned. Not reentrant: one job at a time.
    func run(_ body: (Int) -> Void) {
        guard threads > 1 else {
            body(0)
            return
        }
        withoutActuallyEscaping(body) { body in
            job = body
            running.store(threads - 1, ordering: .relaxed)
            generation.wrappingIncrement(ordering: .releasing)
            wakeSleepers()
            body(0)
            var spins = 0
            while running.load(ordering: .acquiring) > 0 {
                spins += 1
                if spinNanoseconds == 0 && spins % 64 == 0 { sched_yield() }
            }
            job = nil
        }
    }

    /// Ends the threads (after the current job, if any); `run` must not be called afterwards.
    func stop() {
        guard threads > 1 else { return }
        stopping = true
        generation.wrappingIncrement(ordering: .releasing)
        wakeSleepers()
    }

    private func wakeSleepers() {
        sleep.lock()
        if sleepers > 0 { sleep.broadcast() }
        sleep.unlock()
    }

    private func work(as t: Int) {
        var seen = 0
        while true {
            seen = nextGeneration(after: seen)
            if stopping { return }
            job?(t)
            running.wrappingDecrement(ordering: .releasing)
        }
    }

    /// Waits for `generation` to move past `seen`: spinning, then asleep.
    private func nextGeneration(after seen: Int) -> Int {
        let deadline = DispatchTime.now().uptimeNanoseconds + spinNanoseconds
        var spins = 0
        while spinNanoseconds > 0 {
            let current = generation.load(ordering: .acquiring)
            if current != seen { return current }
            spins += 1
            if spins % 1024 == 0 && DispatchTime.now().uptimeNanoseconds > deadline { break }
        }
        // Checked again under the lock, which `run` takes after bumping the generation: a bump
        // either is seen here or finds this thread asleep and wakes it.
        sleep.lock()
        defer { sleep.unlock() }
        while generation.load(ordering: .acquiring) == seen {
            sleepers += 1
            sleep.wait()
            sleepers -= 1
        }
        return generation.load(ordering: .acquiring)
    }
}
