import Foundation
import Testing

/// The binary's precreate, createRuntime gate and runc wrapper against `EnforcementTable`: every
/// verdict under every mode, the outcome seen from outside (stdout, config.json, exit code, stderr,
/// the audit record). Written before the stages became adapters of `Enforcement` (issue 13), so the
/// same table checked against `Enforcement` in the unit tests says the refactoring changed nothing.
@Suite("Enforcement table, pinned on the binary", .serialized)
struct EnforcementPinTests {
    func policyFile(_ dir: String, mode: String) throws -> String {
        let r = try warden(["policy", "show"])
        let path = dir + "/policy-\(mode).json"
        // oci-samples/exempt carries this annotation: the exempt verdict.
        try r.stdout.replacingOccurrences(of: "\"mode\": \"enforce\"", with: "\"mode\": \"\(mode)\"")
            .replacingOccurrences(of: "\"trustedAnnotations\": []", with: "\"trustedAnnotations\": [\"org.example.seccomp-warden/exempt\"]")
            .replacingOccurrences(of: "\"exemptions\": []",
                                  with: "\"exemptions\": [{\"annotations\": {\"org.example.seccomp-warden/exempt\": \"debug*\"}, \"reason\": \"pinned\"}]")
            .write(toFile: path, atomically: false, encoding: .utf8)
        chmod(path, 0o600)
        return path
    }

    /// The config.json for each verdict (`compliant`: the precreate output of a config with no profile).
    func config(_ verdict: String, compliant: Data) throws -> Data {
        switch verdict {
        case "injected": return try Data(contentsOf: URL(fileURLWithPath: Repo.sample("no-seccomp") + "/config.json"))
        case "tightened": return try Data(contentsOf: URL(fileURLWithPath: Repo.sample("weak-allow") + "/config.json"))
        case "compliant": return compliant
        case "exempt": return try Data(contentsOf: URL(fileURLWithPath: Repo.sample("exempt") + "/config.json"))
        case "denied":
            // crun reads this annotation: a filter the policy never saw.
            var c = try JSONSerialization.jsonObject(with: config("injected", compliant: compliant)) as! [String: Any]
            c["annotations"] = ["run.oci.seccomp.receiver": "/run/receiver.sock"]
            return try JSONSerialization.data(withJSONObject: c)
        default: return Data("{\"ociVersion\": \"1.0.2\", \"linux\": {\"seccomp\": 1}}".utf8)
        }
    }

    func lastRecord(_ log: String) -> [String: Any] { AuditRecord.lines(log).last ?? [:] }

    func row(outcome: String, _ r: Result, _ record: [String: Any]) -> EnforcementTable.Row {
        let err = r.stderr.trimmingCharacters(in: .newlines)
        return EnforcementTable.Row(outcome: outcome, decision: record["decision"] as? String ?? "?",
                                    changes: record["changes"] as? [String] ?? ["?"], reason: record["reason"] as? String,
                                    message: err.isEmpty ? nil : err, exit: r.status)
    }

    @Test("precreate, the createRuntime gate and the runc wrapper: every verdict, as the table says", arguments: EnforcementTable.modes)
    func pinned(mode: String) throws {
        let dir = try realTempDir("pin-\(mode)")
        defer { cleanup(dir) }
        let policy = try policyFile(dir, mode: mode == "audit" ? "enforce" : mode)
        let log = dir + "/audit.log"
        let env = ["SECCOMP_WARDEN_AUDIT_LOG": log]
        // A compliant config: what this policy's precreate writes for one with no profile.
        let injectedInput = try config("injected", compliant: Data())
        let made = try warden(["hook", "precreate", "--policy", policy], input: injectedInput, env: env)
        #expect(made.status == 0 && made.stdout.utf8.count > 100, "\(made.stderr)")
        let compliant = Data(made.stdout.utf8)
        let modePolicy = try policyFile(dir, mode: mode)
        try FileManager.default.createSymbolicLink(atPath: dir + "/seccomp-warden-runc", withDestinationPath: Repo.binary)
        var checked = 0
        for verdict in EnforcementTable.verdicts {
            let input = try config(verdict, compliant: compliant)
            let id = "pin-\(mode)-\(verdict)"

            // precreate: the config on stdin, the (tightened) config on stdout.
            let p = try warden(["hook", "precreate", "--policy", modePolicy], input: input, env: env)
            let pRecord = lastRecord(log)
            let pOutcome = p.status != 0 ? "refuse" : Data(p.stdout.utf8) == input ? "pass" : "rewrite"
            #expect(p.status != 0 || !p.stdout.isEmpty, "precreate \(verdict): \(p.stderr)")
            // The evaluation's reason and changes, as precreate recorded them (audit mode records "would be").
            let reason = ["denied", "exempt", "error"].contains(verdict) ? pRecord["reason"] as? String : nil
            let changes = ["injected", "tightened"].contains(verdict) ? pRecord["changes"] as? [String] ?? [] : []
            if ["injected", "tightened"].contains(verdict) { #expect(!changes.isEmpty, "\(verdict): \(pRecord)") }
            let pWant = EnforcementTable.expected(verdict: verdict, mode: mode, stage: "precreate", id: id, reason: reason, changes: changes)
            #expect(row(outcome: pOutcome, p, pRecord) == pWant, "precreate \(verdict) \(mode)")

            // The gate: the bundle's config.json judged, never written.
            let b = dir + "/b-\(verdict)"
            try FileManager.default.createDirectory(atPath: b, withIntermediateDirectories: true)
            try input.write(to: URL(fileURLWithPath: b + "/config.json"))
            let state = Data("{\"ociVersion\": \"1.0.2\", \"id\": \"\(id)\", \"status\": \"creating\", \"pid\": 1, \"bundle\": \"\(b)\"}".utf8)
            let g = try warden(["hook", "createRuntime", "--policy", modePolicy], input: state, env: env)
            let gRecord = lastRecord(log)
            #expect(try Data(contentsOf: URL(fileURLWithPath: b + "/config.json")) == input, "the gate never writes")
            let gReason = verdict == "error" ? gRecord["reason"] as? String : reason
            let gWant = EnforcementTable.expected(verdict: verdict, mode: mode, stage: "createRuntime", id: id, reason: gReason, changes: changes)
            #expect(row(outcome: g.status == 0 ? "pass" : "refuse", g, gRecord) == gWant, "gate \(verdict) \(mode)")
            #expect(gRecord["id"] as? String == id, "\(gRecord)")

            // The wrapper: config.json tightened in place, then the real runtime (/bin/true) run.
            let w = try run(dir + "/seccomp-warden-runc", ["--root", dir + "/root", "create", "--bundle", b, id],
                            env: ["SECCOMP_WARDEN_RUNTIME": "/bin/true", "SECCOMP_WARDEN_POLICY": modePolicy, "SECCOMP_WARDEN_AUDIT_LOG": log])
            let wRecord = lastRecord(log)
            let after = try Data(contentsOf: URL(fileURLWithPath: b + "/config.json"))
            let wOutcome = w.status != 0 ? "refuse" : after == input ? "pass" : "rewrite"
            let wReason = verdict == "error" ? wRecord["reason"] as? String : reason
            let wWant = EnforcementTable.expected(verdict: verdict, mode: mode, stage: "wrapper-runc", id: id, reason: wReason, changes: changes)
            #expect(row(outcome: wOutcome, w, wRecord) == wWant, "wrapper \(verdict) \(mode)")
            #expect(wRecord["stage"] as? String == "wrapper-runc" && wRecord["id"] as? String == id, "\(wRecord)")
            checked += 1
        }
        // The positive control: every verdict ran through all three stages, and each wrote its record.
        #expect(checked == EnforcementTable.verdicts.count)
        #expect(AuditRecord.lines(log).count == 1 + 3 * EnforcementTable.verdicts.count)
    }
}
