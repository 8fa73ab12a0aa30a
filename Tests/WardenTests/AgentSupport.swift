import Foundation
import Testing

/// A running `seccomp-warden-agent` for a test: its own port (the agent binds port 0 and says which),
/// its own textfile folder, the built-in policy. `stop()` sends SIGTERM and returns the exit status.
final class AgentRun {
    static let binary = ProcessInfo.processInfo.environment["SECCOMP_WARDEN_AGENT_BIN"] ?? Repo.root + "/.build/debug/seccomp-warden-agent"

    let process = Process()
    let log: String
    let textfile: String
    private(set) var address = ""

    init(roots: [String], dir: String, extra: [String] = [], env: [String: String] = [:]) throws {
        log = dir + "/agent.log"
        textfile = dir + "/textfile"
        try FileManager.default.createDirectory(atPath: textfile, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: log, contents: nil)
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = ["--listen", "127.0.0.1:0", "--textfile", textfile] + roots.flatMap { ["--root", $0] } + extra
        var e = ProcessInfo.processInfo.environment
        e["SECCOMP_WARDEN_POLICY"] = "builtin"
        for (k, v) in env { e[k] = v }
        process.environment = e
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = out
        process.standardError = out
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try? out.close()
        // Its address, then a healthy /healthz (the loop has turned).
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline && process.isRunning {
            if let line = readText(log).split(separator: "\n").first(where: { $0.contains("serving /metrics and /healthz on http://") }) {
                address = String(line.split(separator: "http://").last ?? "")
                if (try? curl("/healthz"))?.stdout == "ok\n" { return }
            }
            usleep(50_000)
        }
        let text = readText(log)
        _ = stop()
        Issue.record("the agent did not come up: \(text)")
        throw CancellationError()
    }

    func curl(_ path: String) throws -> Result {
        try run("/usr/bin/curl", ["-s", "--max-time", "10", "http://\(address)\(path)"])
    }

    /// The container series of one scrape, by id (every label of each).
    func containers() throws -> [String: [String: String]] {
        let r = try curl("/metrics")
        return PromText.containers(r.stdout)
    }

    /// Polls /metrics until `until` holds for the series of `id` (nil: absent) or `seconds` pass;
    /// returns the last series seen and when it first satisfied `until` (nil: never). The default is
    /// a deadline for "it happens", not a speed claim: a loaded CI machine once took 10.3 s for a
    /// debug agent to report a container (speed is measured in bench/, not here).
    func wait(for id: String, seconds: Double = 60, until: ([String: String]?) -> Bool) throws -> (series: [String: String]?, at: Date?) {
        let deadline = Date().addingTimeInterval(seconds)
        var last: [String: String]? = nil
        repeat {
            last = try containers()[id]
            if until(last) { return (last, Date()) }
            usleep(20_000)
        } while Date() < deadline
        return (last, nil)
    }

    /// SIGTERM, then its exit status (nil: still running after 20 s, then killed).
    func stop() -> Int32? {
        guard process.isRunning else { return process.terminationStatus }
        kill(process.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(20)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        return process.terminationStatus
    }
}

/// The Prometheus text format, as far as the tests read it: `seccomp_warden_container` series.
enum PromText {
    static func containers(_ text: String) -> [String: [String: String]] {
        var out = [String: [String: String]]()
        for line in text.split(separator: "\n") where line.hasPrefix("seccomp_warden_container{") {
            guard let labels = labels(of: line.dropFirst("seccomp_warden_container".count)) else { continue }
            out[labels["id"] ?? "", default: [:]] = labels
            // Two series for one id would be a bug: keep a marker the tests check.
            if text.components(separatedBy: "id=\"\(labels["id"] ?? "")\"").count > 2 { out[labels["id"] ?? ""]?["duplicate"] = "yes" }
        }
        return out
    }

    /// `{name="value",...}` with the format's escapes (\\, \", \n).
    static func labels(of s: Substring) -> [String: String]? {
        var chars = Array(s)
        guard chars.first == "{" else { return nil }
        chars.removeFirst()
        var out = [String: String]()
        var i = 0
        while i < chars.count && chars[i] != "}" {
            var name = ""
            while i < chars.count && chars[i] != "=" { name.append(chars[i]); i += 1 }
            i += 2  // ="
            var value = ""
            while i < chars.count && chars[i] != "\"" {
                if chars[i] == "\\" && i + 1 < chars.count {
                    i += 1
                    value.append(chars[i] == "n" ? "\n" : chars[i])
                } else {
                    value.append(chars[i])
                }
                i += 1
            }
            i += 1  // closing quote
            if i < chars.count && chars[i] == "," { i += 1 }
            out[name] = value
        }
        return out
    }
}
