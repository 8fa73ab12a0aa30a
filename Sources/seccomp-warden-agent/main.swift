import ArgumentParser
import NIOCore
import NIOPosix
import WardenAgent
import WardenCore
import WardenJSON
import WardenPolicy
import WardenHost
import WardenVerify
#if canImport(Glibc)
import Glibc
#endif

struct AgentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seccomp-warden-agent",
        abstract: "Verify every container on this node as it starts, and serve the results to Prometheus.",
        discussion: """
            Watches the runtime state roots with inotify (default: /run/runc, /run/docker/runtime-runc/moby, \
            /run/crun and every /run/containerd/runc/<namespace>, as they appear; --root DIR, repeatable, \
            replaces them and each must exist). Each new container is verified from the kernel's side \
            (every thread held in a ptrace stop, its loaded BPF proven against the policy's deny rules) as \
            soon as its init runs the container's program, then again every --interval. Serves /metrics \
            (the Prometheus text format) and /healthz on --listen; with --textfile DIR, replaces \
            DIR/seccomp_warden.prom after each change (temp file + rename). A state entry that root does \
            not own alone, a symlink, or one that cannot be read is reported unverified, never holds. \
            Needs root: CAP_SYS_PTRACE, CAP_SYS_ADMIN in the host's user namespace, the host's PID \
            namespace, no seccomp filter of its own. SIGTERM or SIGINT: stops serving, leaves the textfile \
            with no container series and seccomp_warden_agent_up 0, exits 0.
            Exit: 0 stopped by a signal, 2 cannot start (privileges, roots, policy, address), its one line on stderr.
            """
    )

    @Option(help: "Where to serve /metrics and /healthz (HOST:PORT).") var listen = "127.0.0.1:9631"
    @Option(help: "A runtime state root; repeatable. Default: the known roots, as they appear.") var root: [String] = []
    @Option(help: "Seconds between two verifications of a running container.") var interval: Double = 300
    @Option(help: "node-exporter's textfile collector folder.") var textfile: String?
    @Option(help: "The site policy file (default: as `seccomp-warden` finds it).") var policy: String?

    func validate() throws {
        guard Self.address(listen) != nil else { throw ValidationError("--listen takes HOST:PORT, e.g. 127.0.0.1:9631") }
        guard interval >= 1 && interval <= 86400 else { throw ValidationError("--interval takes 1 to 86400 (seconds)") }
    }

    static func address(_ s: String) -> (host: String, port: Int)? {
        guard let colon = s.lastIndex(of: ":"), let port = Int(s[s.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        var host = String(s[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host.isEmpty ? nil : (host, port)
    }

    func run() throws {
        do throws(WardenError) {
            try serve()
        } catch {
            fail(error.message)
        }
    }

    func fail(_ message: String) -> Never {
        let line = "seccomp-warden-agent: \(message)\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
        Glibc.exit(2)
    }

    func serve() throws(WardenError) {
        // Blocked before any thread starts, so every thread inherits the mask and the signalfd gets them.
        var mask = sigset_t()
        sigemptyset(&mask)
        sigaddset(&mask, SIGTERM)
        sigaddset(&mask, SIGINT)
        pthread_sigmask(SIG_BLOCK, &mask, nil)
        let stopFD = try Self.signalPipe()

        let policy = try Policy.load(explicit: policy)
        try Verifier.requirePrivileges(deep: true)
        if let ns = ProcFS.readLink("/proc/self/ns/pid"), ns != "pid:[4026531836]" {
            throw .system("the agent must run in the host's PID namespace (this is \(ns)): the runtimes' records name host pids")
        }
        var options = Agent.Options()
        options.roots = root
        options.interval = interval
        options.textfile = textfile
        if let textfile, !FileIO.isDirectory(textfile) { throw .input("--textfile: \(textfile) is not a folder") }
        let agent = try Agent(policy: policy, options: options)

        let (host, port) = Self.address(listen)!
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server: any Channel
        do {
            let heartbeat = agent.heartbeat
            server = try MetricsServer.start(group: group, host: host, port: port, registry: agent.registry) {
                let beat = heartbeat.millis.load(ordering: .relaxed)
                return beat > 0 && MetricsServer.monotonicMillis() - beat < 30_000
            }
        } catch {
            try? group.syncShutdownGracefully()
            throw .system("cannot listen on \(listen): \(error)")
        }
        let bound = server.localAddress.map { "\($0.ipAddress ?? host):\($0.port ?? port)" } ?? listen
        let line = "seccomp-warden-agent: serving /metrics and /healthz on http://\(bound)\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
        defer {
            try? server.close().wait()
            try? group.syncShutdownGracefully()
        }
        try agent.run(stopFD: stopFD)
    }
}

extension AgentCommand {
    /// A pipe that becomes readable when SIGTERM or SIGINT arrives: a thread waits for them with
    /// sigwait (they are blocked in every thread) and writes one byte.
    static func signalPipe() throws(WardenError) -> Int32 {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw .system("pipe: \(errnoText(errno))") }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        let writeEnd = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
        writeEnd.pointee = fds[1]
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { arg in
            let fd = arg!.assumingMemoryBound(to: Int32.self).pointee
            var mask = sigset_t()
            sigemptyset(&mask)
            sigaddset(&mask, SIGTERM)
            sigaddset(&mask, SIGINT)
            var signal: Int32 = 0
            while sigwait(&mask, &signal) != 0 {}
            var one: UInt8 = 1
            _ = write(fd, &one, 1)
            return nil
        }, writeEnd)
        guard rc == 0 else { throw .system("pthread_create: \(errnoText(rc))") }
        pthread_detach(thread)
        return fds[0]
    }
}

AgentCommand.main()
