// Entry point. The hook and the runtime wrapper are on every container's critical path, so they
// are dispatched here before the argument parser is touched; so is `verify --pid/--container`.
import WardenHook
#if canImport(Glibc)
import Glibc
#endif

let arguments = CommandLine.arguments
if let code = FastPath.run(arguments) ?? VerifyFastPath.run(arguments) {
    exit(code)
}
SeccompWarden.main()
