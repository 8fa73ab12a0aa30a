// warden-bench: in-process tightening throughput, for bench/run. Not part of the product and not on
// any hook path: it links the engine (WardenPolicy) and times Tighten.tighten in a loop.
//
//   warden-bench [--quick] [--policy FILE|builtin] DOCKER_CONFIG LARGE_CONFIG [COUNTS]
//
// DOCKER_CONFIG: a config.json (or profile) whose linux.seccomp is Docker's default profile.
// LARGE_CONFIG: a config.json whose profile has many argument rules; its first N rules are tightened
// for each N in COUNTS (default 10,25,50,100,200,400). Prints one JSON object per line:
//   {"case":"docker-default","rules":15,"perSecond":…,"perSecondLow":…,"perSecondHigh":…,"microsMedian":…,"changes":…}
// --quick: one iteration per case (CI: it proves the tool runs, and asserts nothing about time).
import WardenCore
import WardenJSON
import WardenPolicy
import WardenSpec
#if canImport(Glibc)
import Glibc
#endif

func fail(_ message: String) -> Never {
    var line = Array("warden-bench: \(message)\n".utf8)
    _ = line.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    exit(2)
}

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// A profile from a config.json (linux.seccomp) or a profile file (its top level).
func readProfile(_ path: String) throws(WardenError) -> LinuxSeccomp {
    let doc = try JSONDocument(contentsOf: path)
    if doc.root["linux"] != nil {
        guard let p = try OCIConfig(document: doc).seccomp() else { throw .input("has no linux.seccomp", file: path) }
        return p
    }
    return try LinuxSeccomp(node: doc.root)
}

func tightenCount(_ p: LinuxSeccomp, _ policy: Policy) -> Int {
    do { return try Tighten.tighten(p, policy: policy).changes.count } catch { fail("refused: \(error.reason)") }
}

struct Measurement {
    var perSecond: Double
    var low: Double
    var high: Double
    var microsMedian: Double
    var iterations: Int
    var changes: Int
}

func quantile(_ sorted: [Double], _ q: Double) -> Double {
    guard !sorted.isEmpty else { return 0 }
    let pos = q * Double(sorted.count - 1)
    let lo = Int(pos), hi = min(lo + 1, sorted.count - 1)
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - Double(lo))
}

/// Throughput of `body` in calls per second: batches of about `batchSeconds`, median over `batches`,
/// with the 25th and 75th percentiles as the spread. Quick: one call, one batch.
func measure(quick: Bool, batches: Int = 9, batchSeconds: Double = 0.15, _ body: () -> Int) -> Measurement {
    var changes = body()  // warm-up (first-use metadata, libseccomp tables)
    if quick {
        let t0 = now()
        changes = body()
        let dt = max(now() - t0, 1e-9)
        return Measurement(perSecond: 1 / dt, low: 1 / dt, high: 1 / dt, microsMedian: dt * 1e6, iterations: 1, changes: changes)
    }
    // Calibrate: how many calls fill a batch.
    var n = 1
    while true {
        let t0 = now()
        for _ in 0..<n { changes = body() }
        let dt = now() - t0
        if dt >= batchSeconds / 4 || n >= 1 << 20 {
            n = max(1, Int(Double(n) * batchSeconds / max(dt, 1e-9)))
            break
        }
        n *= 4
    }
    var rates = [Double]()
    for _ in 0..<batches {
        let t0 = now()
        for _ in 0..<n { changes = body() }
        rates.append(Double(n) / (now() - t0))
    }
    rates.sort()
    let median = quantile(rates, 0.5)
    return Measurement(perSecond: median, low: quantile(rates, 0.25), high: quantile(rates, 0.75),
                       microsMedian: 1e6 / median, iterations: n * batches, changes: changes)
}

func emit(_ name: String, rules: Int, _ m: Measurement) {
    let line: JSON = .object([
        ("case", .string(name)), ("rules", .int(Int64(rules))),
        ("perSecond", .real(m.perSecond)), ("perSecondLow", .real(m.low)), ("perSecondHigh", .real(m.high)),
        ("microsMedian", .real(m.microsMedian)), ("iterations", .int(Int64(m.iterations))), ("changes", .int(Int64(m.changes))),
    ])
    var bytes = line.serialized(.compact)
    bytes.append(10)
    _ = bytes.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
}

var args = Array(CommandLine.arguments.dropFirst())
var quick = false
var policyPath = "builtin"
var positional = [String]()
while !args.isEmpty {
    let a = args.removeFirst()
    switch a {
    case "--quick": quick = true
    case "--policy":
        guard !args.isEmpty else { fail("--policy needs a value") }
        policyPath = args.removeFirst()
    default: positional.append(a)
    }
}
guard positional.count == 2 || positional.count == 3 else {
    fail("usage: warden-bench [--quick] [--policy FILE|builtin] DOCKER_CONFIG LARGE_CONFIG [COUNTS]")
}
let counts = positional.count == 3 ? positional[2].split(separator: ",").compactMap { Int($0) } : [10, 25, 50, 100, 200, 400]

do throws(WardenError) {
    let policy = try Policy.load(explicit: policyPath)
    let docker = try readProfile(positional[0])
    let large = try readProfile(positional[1])

    // The engine alone: a decoded profile in, the tightened profile and its changes out.
    func tighten(_ p: LinuxSeccomp) -> Int { tightenCount(p, policy) }
    emit("docker-default", rules: docker.syscalls?.count ?? 0, measure(quick: quick) { tighten(docker) })

    // What a hook does per container beyond process start: parse config.json, evaluate, splice, serialize.
    let configBytes = try FileIO.readFile(positional[0])
    emit("docker-default-end-to-end", rules: docker.syscalls?.count ?? 0, measure(quick: quick) {
        do {
            let config = OCIConfig(document: try JSONDocument(bytes: configBytes, name: positional[0]))
            let e = try Evaluation.evaluate(config, policy: policy)
            if let p = e.profile { config.setSeccomp(p) }
            return config.document.serialized(.compact).count > 0 ? e.changes.count : -1
        } catch { fail("\(error)") }
    })

    // Growth with the number of rules: the first N rules of the large profile.
    let all = large.syscalls ?? []
    for n in counts {
        guard n <= all.count else { fail("\(positional[1]) has \(all.count) rules, fewer than \(n)") }
        var p = large
        p.syscalls = Array(all.prefix(n))
        emit("rules", rules: n, measure(quick: quick, batches: 7) { tighten(p) })
    }
} catch {
    fail("\(error)")
}
