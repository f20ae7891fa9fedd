// The queue-steering eBPF program (CSteering.h), written as instructions:
// no compiler for BPF is needed to build tunwall. Exceptions (a connection
// whose owner is not the worker its key hashes to: an FTP data connection
// claimed by the worker that expected it, a DNAT that changes a port) are
// an array map of 65,536 64-bit words, one per key, mapped into tunwall's memory
// (BPF_F_MMAPABLE): tunwall writes owner + 1 there, the program returns
// owner for that key, and 0 means "hash it".
//
// Packet access is the
// socket filter's classic LD_ABS/LD_IND (r6 = context; a load past the end
// ends the program with 0, i.e. queue 0), which the verifier accepts
// without bounds checks of our own. A TUN device without a link header
// hands the program the IP header at offset 0.
#include "CSteering.h"
#include <errno.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { MAX_INSNS = 128, MAX_LABELS = 16, NO_LABEL = -1 };

// A two-pass assembler for forward jumps: a jump names a label, and the
// offsets are filled in once every label's position is known.
struct program {
    struct bpf_insn insns[MAX_INSNS];
    int target[MAX_INSNS];
    int label_at[MAX_LABELS];
    int count;
    int overflow;
};

static void emit(struct program *p, uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm, int label) {
    if (p->count >= MAX_INSNS) { p->overflow = 1; return; }
    struct bpf_insn *insn = &p->insns[p->count];
    memset(insn, 0, sizeof *insn);
    insn->code = code;
    insn->dst_reg = dst;
    insn->src_reg = src;
    insn->off = off;
    insn->imm = imm;
    p->target[p->count] = label;
    p->count++;
}

static void place(struct program *p, int label) { p->label_at[label] = p->count; }

// The instructions used, by what they do.
#define MOV_REG(p, dst, src)   emit(p, BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0, NO_LABEL)
#define MOV_IMM(p, dst, imm)   emit(p, BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm, NO_LABEL)
#define ALU_IMM(p, op, dst, imm) emit(p, BPF_ALU64 | (op) | BPF_K, dst, 0, 0, imm, NO_LABEL)
#define ALU32_IMM(p, op, dst, imm) emit(p, BPF_ALU | (op) | BPF_K, dst, 0, 0, imm, NO_LABEL)
#define XOR_REG(p, dst, src)   emit(p, BPF_ALU64 | BPF_XOR | BPF_X, dst, src, 0, 0, NO_LABEL)
#define LOAD_ABS(p, size, off) emit(p, BPF_LD | BPF_ABS | (size), 0, 0, 0, off, NO_LABEL)
#define LOAD_IND(p, size, reg, off) emit(p, BPF_LD | BPF_IND | (size), 0, reg, 0, off, NO_LABEL)
#define JEQ(p, dst, imm, label) emit(p, BPF_JMP | BPF_JEQ | BPF_K, dst, 0, 0, imm, label)
#define JNE(p, dst, imm, label) emit(p, BPF_JMP | BPF_JNE | BPF_K, dst, 0, 0, imm, label)
#define JA(p, label)           emit(p, BPF_JMP | BPF_JA, 0, 0, 0, 0, label)
#define EXIT(p)                emit(p, BPF_JMP | BPF_EXIT, 0, 0, 0, 0, NO_LABEL)
#define STORE_W(p, base, off, src) emit(p, BPF_STX | BPF_MEM | BPF_W, base, src, off, 0, NO_LABEL)
#define LOAD_DW(p, dst, base, off) emit(p, BPF_LDX | BPF_MEM | BPF_DW, dst, base, off, 0, NO_LABEL)
#define CALL(p, helper)        emit(p, BPF_JMP | BPF_CALL, 0, 0, 0, helper, NO_LABEL)
// A map's fd as a 64-bit immediate (two instructions; the loader swaps in the map).
#define LOAD_MAP(p, dst, fd)   do { emit(p, BPF_LD | BPF_DW | BPF_IMM, dst, BPF_PSEUDO_MAP_FD, 0, fd, NO_LABEL); \
                                    emit(p, 0, 0, 0, 0, 0, NO_LABEL); } while (0)

enum { V6, PORTS, V4_ICMP, ECHO, V4_ADDRESSES, V6_ICMP, V6_ADDRESSES, FOLD, MIX, HASH, ZERO };

// Protocols whose first four bytes are the source and destination ports.
static void jump_if_ports(struct program *p, int reg, int label) {
    JEQ(p, reg, 6, label);    // TCP
    JEQ(p, reg, 17, label);   // UDP
    JEQ(p, reg, 136, label);  // UDP-Lite
    JEQ(p, reg, 132, label);  // SCTP
    JEQ(p, reg, 33, label);   // DCCP
}

static int assemble(struct program *p, int map_fd) {
    memset(p, 0, sizeof *p);
    for (int i = 0; i < MAX_LABELS; i++) p->label_at[i] = -1;
    // r6 = context (LD_ABS/LD_IND need it there); r7 = the key; r8 = where the
    // transport header starts (the IPv4 header's length, or IPv6's fixed 40).
    MOV_REG(p, BPF_REG_6, BPF_REG_1);
    LOAD_ABS(p, BPF_B, 0);
    MOV_REG(p, BPF_REG_7, BPF_REG_0);
    ALU_IMM(p, BPF_RSH, BPF_REG_7, 4);
    JEQ(p, BPF_REG_7, 6, V6);
    JNE(p, BPF_REG_7, 4, ZERO);
    // IPv4: the header's length; a fragment (MF or an offset) by its addresses,
    // so that all of a datagram's fragments reach one worker (as the kernel's
    // flow dissector, which reads no ports of fragments).
    MOV_REG(p, BPF_REG_8, BPF_REG_0);
    ALU_IMM(p, BPF_AND, BPF_REG_8, 0x0f);
    ALU_IMM(p, BPF_LSH, BPF_REG_8, 2);
    LOAD_ABS(p, BPF_H, 6);
    ALU_IMM(p, BPF_AND, BPF_REG_0, 0x3fff);
    JNE(p, BPF_REG_0, 0, V4_ADDRESSES);
    LOAD_ABS(p, BPF_B, 9);
    jump_if_ports(p, BPF_REG_0, PORTS);
    JEQ(p, BPF_REG_0, 1, V4_ICMP);
    JA(p, V4_ADDRESSES);

    place(p, V4_ICMP);  // echo request 8, reply 0: the identifier
    LOAD_IND(p, BPF_B, BPF_REG_8, 0);
    JEQ(p, BPF_REG_0, 8, ECHO);
    JEQ(p, BPF_REG_0, 0, ECHO);
    JA(p, V4_ADDRESSES);

    // Both families: the two ports, or an echo's identifier, at r8.
    place(p, PORTS);
    LOAD_IND(p, BPF_H, BPF_REG_8, 0);
    MOV_REG(p, BPF_REG_7, BPF_REG_0);
    LOAD_IND(p, BPF_H, BPF_REG_8, 2);
    XOR_REG(p, BPF_REG_7, BPF_REG_0);
    JA(p, MIX);
    place(p, ECHO);
    LOAD_IND(p, BPF_H, BPF_REG_8, 4);
    MOV_REG(p, BPF_REG_7, BPF_REG_0);
    JA(p, MIX);

    place(p, V4_ADDRESSES);
    LOAD_ABS(p, BPF_W, 12);
    MOV_REG(p, BPF_REG_7, BPF_REG_0);
    LOAD_ABS(p, BPF_W, 16);
    XOR_REG(p, BPF_REG_7, BPF_REG_0);
    JA(p, FOLD);

    // IPv6: ports only right after the fixed header (an extension header,
    // a fragment header included, goes by the addresses).
    place(p, V6);
    MOV_IMM(p, BPF_REG_8, 40);
    LOAD_ABS(p, BPF_B, 6);
    jump_if_ports(p, BPF_REG_0, PORTS);
    JEQ(p, BPF_REG_0, 58, V6_ICMP);
    JA(p, V6_ADDRESSES);
    place(p, V6_ICMP);  // echo request 128, reply 129
    LOAD_IND(p, BPF_B, BPF_REG_8, 0);
    JEQ(p, BPF_REG_0, 128, ECHO);
    JEQ(p, BPF_REG_0, 129, ECHO);
    JA(p, V6_ADDRESSES);
    place(p, V6_ADDRESSES);
    MOV_IMM(p, BPF_REG_7, 0);
    for (int offset = 8; offset < 40; offset += 4) {
        LOAD_ABS(p, BPF_W, offset);
        XOR_REG(p, BPF_REG_7, BPF_REG_0);
    }

    // Addresses: their 32-bit XOR folded to 16 bits.
    place(p, FOLD);
    MOV_REG(p, BPF_REG_0, BPF_REG_7);
    ALU_IMM(p, BPF_RSH, BPF_REG_0, 16);
    XOR_REG(p, BPF_REG_7, BPF_REG_0);
    ALU_IMM(p, BPF_AND, BPF_REG_7, 0xffff);

    // An exception for the key: its owner. r7 survives the call (callee-saved).
    place(p, MIX);
    STORE_W(p, BPF_REG_10, -4, BPF_REG_7);
    LOAD_MAP(p, BPF_REG_1, map_fd);
    MOV_REG(p, BPF_REG_2, BPF_REG_10);
    ALU_IMM(p, BPF_ADD, BPF_REG_2, -4);
    CALL(p, BPF_FUNC_map_lookup_elem);
    JEQ(p, BPF_REG_0, 0, HASH);
    LOAD_DW(p, BPF_REG_0, BPF_REG_0, 0);
    JEQ(p, BPF_REG_0, 0, HASH);
    ALU_IMM(p, BPF_SUB, BPF_REG_0, 1);
    EXIT(p);

    // Otherwise the 16-bit key times the golden ratio, the product's upper half.
    place(p, HASH);
    ALU32_IMM(p, BPF_MUL, BPF_REG_7, (int32_t)0x9E3779B1u);
    ALU32_IMM(p, BPF_RSH, BPF_REG_7, 16);
    MOV_REG(p, BPF_REG_0, BPF_REG_7);
    EXIT(p);

    place(p, ZERO);
    MOV_IMM(p, BPF_REG_0, 0);
    EXIT(p);

    if (p->overflow) return -E2BIG;
    for (int i = 0; i < p->count; i++) {
        if (p->target[i] == NO_LABEL) continue;
        int at = p->label_at[p->target[i]];
        if (at < 0) return -EINVAL;
        p->insns[i].off = (int16_t)(at - i - 1);
    }
    return 0;
}

int ctw_steering_load(struct ctw_steering *out) {
    memset(out, 0, sizeof *out);
    out->program = out->map = -1;
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.map_type = BPF_MAP_TYPE_ARRAY;
    attr.key_size = 4;
    attr.value_size = 8;  // an array map's elements are 8-byte aligned (round_up(value_size, 8)): a word each
    attr.max_entries = CTW_STEERING_KEYS;
    attr.map_flags = BPF_F_MMAPABLE;
    memcpy(attr.map_name, "tunwall_owners", sizeof "tunwall_owners");
    long map = syscall(__NR_bpf, BPF_MAP_CREATE, &attr, sizeof attr);
    if (map < 0) return -errno;
    void *owners = mmap(NULL, CTW_STEERING_KEYS * sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED, (int)map, 0);
    if (owners == MAP_FAILED) {
        int failure = -errno;
        close((int)map);
        return failure;
    }

    struct program p;
    int failed = assemble(&p, (int)map);
    if (failed) {
        munmap(owners, CTW_STEERING_KEYS * sizeof(uint64_t));
        close((int)map);
        return failed;
    }
    static const char license[] = "GPL";
    memset(&attr, 0, sizeof attr);
    attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
    attr.insns = (uint64_t)(uintptr_t)p.insns;
    attr.insn_cnt = (uint32_t)p.count;
    attr.license = (uint64_t)(uintptr_t)license;
    memcpy(attr.prog_name, "tunwall_steer", sizeof "tunwall_steer");
    long fd = syscall(__NR_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
    if (fd < 0) {
        int failure = -errno;
        munmap(owners, CTW_STEERING_KEYS * sizeof(uint64_t));
        close((int)map);
        return failure;
    }
    out->program = (int)fd;
    out->map = (int)map;
    out->owners = owners;
    return 0;
}

void ctw_steering_close_program(struct ctw_steering *steering) {
    if (steering->program >= 0) close(steering->program);
    steering->program = -1;
}

void ctw_store_u64(uint64_t *word, uint64_t value) { __atomic_store_n(word, value, __ATOMIC_RELAXED); }

uint64_t ctw_load_u64(const uint64_t *word) { return __atomic_load_n(word, __ATOMIC_RELAXED); }

int ctw_tun_set_steering(int tun_fd, int program_fd) {
    return ioctl(tun_fd, TUNSETSTEERINGEBPF, &program_fd) < 0 ? -errno : 0;
}

int ctw_steering_test_run(int program_fd, const uint8_t *packet, size_t length, uint32_t *result) {
    // The test run wants an Ethernet frame and runs a socket filter past its
    // header (net/bpf/test_run.c), as a TUN device's skb starts at IP.
    uint8_t frame[ETH_HLEN + 2048];
    if (length == 0 || length > sizeof frame - ETH_HLEN) return -EINVAL;
    memset(frame, 0, ETH_HLEN);
    uint16_t type = (packet[0] >> 4) == 6 ? ETH_P_IPV6 : ETH_P_IP;
    frame[12] = (uint8_t)(type >> 8);
    frame[13] = (uint8_t)type;
    memcpy(frame + ETH_HLEN, packet, length);
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.test.prog_fd = (uint32_t)program_fd;
    attr.test.data_in = (uint64_t)(uintptr_t)frame;
    attr.test.data_size_in = (uint32_t)(ETH_HLEN + length);
    attr.test.repeat = 1;
    if (syscall(__NR_bpf, BPF_PROG_TEST_RUN, &attr, sizeof attr) < 0) return -errno;
    *result = attr.test.retval;
    return 0;
}
