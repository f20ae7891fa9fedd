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
import Conntrack
import SystemIO

public enum SteeringProgram {
    /// Loads the program and attaches it to every device (one queue of each
    /// is enough: the program is the device's). Returns the program's
    /// exceptions map, or nil with the reason when it could not be loaded or
    /// attached; the devices then keep the kernel's steering (a program half
    /// attached is taken off again).
    public static func attach(to devices: [TunDevice]) -> (exceptions: SteeringExceptions?, reason: String?) {
        var loaded = ctw_steering()
        let failure = ctw_steering_load(&loaded)
        guard failure == 0 else {
            return (nil, "bpf(2): \(String(cString: strerror(-failure)))")
        }
        defer { ctw_steering_close_program(&loaded) }
        var done: [TunDevice] = []
        for device in devices {
            do throws(SystemError) {
                try device.setSteeringProgram(loaded.program)
                done.append(device)
            } catch {
                for each in done { try? each.setSteeringProgram(-1) }
                return (nil, "\(error)")
            }
        }
        // The map stays mapped (and its fd open) for the process's life: the
        // devices' program reads it until they close.
        return (SteeringExceptions(mapped: UnsafeMutableRawPointer(loaded.owners)), nil)
    }
}
