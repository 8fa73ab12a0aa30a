import WardenCore
import Testing
@testable import WardenJSON
@testable import WardenSpec

@Suite("Typed seccomp model")
struct ModelTests {
    func decode(_ seccomp: String) throws -> LinuxSeccomp { try loadProfile(seccomp) }

    @Test("every action decodes", arguments: SeccompAction.allCases)
    func actions(a: SeccompAction) throws {
        let listener = a == .notify ? ", \"listenerPath\": \"/run/x.sock\"" : ""
        let p = try decode("{\"defaultAction\": \"SCMP_ACT_ALLOW\"\(listener), \"syscalls\": [{\"names\": [\"read\"], \"action\": \"\(a.rawValue)\"}]}")
        #expect(p.syscalls?.first?.action == a)
    }

    @Test("every operator decodes and compares", arguments: SeccompOperator.allCases)
    func operators(op: SeccompOperator) throws {
        let p = try decode("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 1, \"value\": 8, \"valueTwo\": 8, \"op\": \"\(op.rawValue)\"}]}]}")
        let arg = try #require(p.syscalls?.first?.args?.first)
        #expect(arg.op == op)
        // Each operator against 8 (masked: x & 8 == 8).
        let expected: [SeccompOperator: (UInt64, UInt64)] = [.notEqual: (9, 8), .lessThan: (7, 8), .lessOrEqual: (8, 9), .equal: (8, 9),
                                                              .greaterOrEqual: (8, 7), .greaterThan: (9, 8), .maskedEqual: (12, 4)]
        let (yes, no) = expected[op]!
        #expect(arg.holds([0, yes, 0, 0, 0, 0]))
        #expect(!arg.holds([0, no, 0, 0, 0, 0]))
    }

    @Test("every architecture decodes", arguments: SeccompArch.allCases)
    func arches(a: SeccompArch) throws {
        let p = try decode("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": [\"\(a.rawValue)\"]}")
        #expect(p.architectures == [a])
    }

    @Test("every flag decodes", arguments: SeccompFlag.allCases)
    func flags(f: SeccompFlag) throws {
        let p = try decode("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"flags\": [\"\(f.rawValue)\"]}")
        #expect(p.flags == .list([f]))
    }

    @Test("flags absent, null and [] stay distinct through a write")
    func flagsKept() throws {
        for (text, expected) in [("", LinuxSeccomp.Flags.absent), (", \"flags\": null", .null), (", \"flags\": []", .list([]))] {
            let p = try decode("{\"defaultAction\": \"SCMP_ACT_ALLOW\"\(text)}")
            #expect(p.flags == expected)
            let again = try loadProfile(String(decoding: p.json.serialized(.compact), as: UTF8.self))
            #expect(again.flags == expected)
        }
    }

    @Test("bad values are errors that name the JSON path", arguments: [
        ("{\"defaultAction\": \"SCMP_ACT_NOPE\"}", "defaultAction", "not a valid action"),
        ("{}", "defaultAction", "missing"),
        ("{\"defaultAction\": 3}", "defaultAction", "must be a string"),
        ("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": [\"SCMP_ARCH_Z80\"]}", "architectures[0]", "not a valid architecture"),
        ("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"flags\": [\"SECCOMP_FILTER_FLAG_NOPE\"]}", "flags[0]", "not a valid flag"),
        ("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"flags\": \"x\"}", "flags", "must be an array"),
        ("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [], \"action\": \"SCMP_ACT_ERRNO\"}]}", "syscalls[0].names", "at least one"),
        ("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"\"], \"action\": \"SCMP_ACT_ERRNO\"}]}", "syscalls[0].names[0]", "must not be empty"),
        ("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"a\", \"a\"], \"action\": \"SCMP_ACT_ERRNO\"}]}", "syscalls[0].names[1]", "duplicate"),
        ("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_KILL\", \"errnoRet\": 1}]}", "syscalls[0].errnoRet", "only allowed"),
        ("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"defaultErrnoRet\": 1}", "defaultErrnoRet", "only allowed"),
        ("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 6, \"value\": 1, \"op\": \"SCMP_CMP_EQ\"}]}]}", "syscalls[0].args[0].index", "out of range"),
        ("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 0, \"value\": -1, \"op\": \"SCMP_CMP_EQ\"}]}]}", "syscalls[0].args[0].value", "negative"),
        ("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 0, \"value\": 1, \"op\": \"SCMP_CMP_XX\"}]}]}", "syscalls[0].args[0].op", "not a valid operator"),
        ("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"listenerMetadata\": \"m\"}", "listenerMetadata", "listenerPath is not"),
        ("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_NOTIFY\"}]}", "syscalls[0].action", "listenerPath"),
        ("{\"defaultAction\": \"SCMP_ACT_NOTIFY\", \"listenerPath\": \"/x\"}", "defaultAction", "cannot be the default"),
        ("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"name\": \"read\", \"action\": \"SCMP_ACT_ERRNO\"}]}", "syscalls[0].name", "old single"),
        ("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 70000}", "defaultErrnoRet", "out of range"),
    ])
    func errors(text: String, path: String, words: String) throws {
        #expect {
            _ = try decode(text)
        } throws: { e in
            guard let w = e as? WardenError else { return false }
            return w.path?.description == path && w.message.contains(words)
        }
    }
}
