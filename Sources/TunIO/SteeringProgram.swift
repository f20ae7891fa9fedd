// The eBPF program that queues a multi-queue TUN device's packets by their
// ports (Sources/CTunwall/CSteering.c; the hash is SteeringHash.swift), so
// that both directions of a connection reach the worker owning it without
// the kernel's 4,096-flow table (tun_automq_select_queue). Loading needs
// bpf(2) for socket filters (root, or CAP_BPF); where it is refused the
// kernel's own steering stays and hand-offs make up the difference.

#if canImport(Glibc)
import Glibc
#endif
import CTunwall
import SystemIO

public enum SteeringProgram {
    /// Attaches the program to every device (one queue of each is enough:
    /// the program is the device's). Returns false, with the reason, when
    /// it could not be loaded or attached; the devices then keep the
    /// kernel's steering (any program half attached is taken off again).
    public static func attach(to devices: [TunDevice]) -> (attached: Bool, reason: String?) {
        let program = ctw_steering_load()
        guard program >= 0 else {
            return (false, "bpf(BPF_PROG_LOAD): \(String(cString: strerror(-program)))")
        }
        defer { Syscall.close(program) }
        var done: [TunDevice] = []
        for device in devices {
            do throws(SystemError) {
                try device.setSteeringProgram(program)
                done.append(device)
            } catch {
                for each in done { try? each.setSteeringProgram(-1) }
                return (false, "\(error)")
            }
        }
        return (true, nil)
    }
}
