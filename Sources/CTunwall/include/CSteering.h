// CSteering: the eBPF program that picks a multi-queue TUN device's queue
// for each packet the kernel sends through it (TUNSETSTEERINGEBPF), so that
// both directions of a connection reach the worker that owns it.
//
// Without a program the kernel steers by its own flow table
// (tun_automq_select_queue: a flow goes to the queue that last wrote it),
// which holds 4,096 flows (MAX_TAP_FLOWS) and sees a NATed connection's two
// directions as two flows; past that the queue is the flow hash's, and a
// reply reaches the wrong worker half the time. The program hashes what NAT
// keeps on both sides: the two ports, in either order (TCP, UDP,
// UDP-Lite, SCTP, DCCP), or an echo's identifier; and, for a fragment or
// anything else, the two addresses. drivers/net/tun.c, tun_ebpf_select_queue:
// the queue is the program's return value, as a u16, modulo the number of
// queues. Sources/Conntrack/SteeringHash.swift is the same function in Swift
// (NAT chooses ports it maps back to their owner) and SteeringProgramTests
// runs both on the same packets. An exception for a key (a connection owned
// elsewhere than its hash says) is written into a map the program reads.
#ifndef CSTEERING_H
#define CSTEERING_H

#include <stddef.h>
#include <stdint.h>

/// Keys (16 bits): one exception word per key in the owners map.
#define CTW_STEERING_KEYS 65536

/// The loaded program, its map of exceptions, and that map in our memory
/// (CTW_STEERING_KEYS 64-bit words: 0, or the owning queue + 1).
struct ctw_steering {
    int program;
    int map;
    uint64_t *owners;
};

/// Makes the map, maps it, loads the program: 0 or -errno (nothing left open).
int ctw_steering_load(struct ctw_steering *out);

/// Closes the program's fd once the devices hold it (the map stays mapped
/// for as long as the process lives: the devices' program reads it).
void ctw_steering_close_program(struct ctw_steering *steering);

/// A word of the mapped map, written and read whole (the kernel reads it concurrently).
void ctw_store_u64(uint64_t *word, uint64_t value);
uint64_t ctw_load_u64(const uint64_t *word);

/// TUNSETSTEERINGEBPF on one queue of a device (the program is the
/// device's); program -1 detaches it. 0 or -errno.
int ctw_tun_set_steering(int tun_fd, int program_fd);

/// BPF_PROG_TEST_RUN of the program on an IP packet (v4 or v6, by its first
/// nibble) as a TUN device hands it over: the program's return value in
/// *result. 0 or -errno. For tests.
int ctw_steering_test_run(int program_fd, const uint8_t *packet, size_t length, uint32_t *result);

#endif
