// CTunwall: the C constants and helpers Swift cannot import by itself.
//
// The TUN ioctl request numbers are _IOW() macros in <linux/if_tun.h>; Swift's
// importer does not expand function-like macros, so each one is exported here as
// a plain constant computed by the C compiler from the kernel's own header.
#ifndef CTUNWALL_H
#define CTUNWALL_H

#include <stdint.h>

/// TUNSETIFF: attach the fd to a TUN/TAP device (struct ifreq).
extern const unsigned long ctw_TUNSETIFF;
/// TUNSETOFFLOAD: which offloads (TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6) we accept.
extern const unsigned long ctw_TUNSETOFFLOAD;
/// TUNSETVNETHDRSZ: size of the virtio_net_hdr prefix on every read and write.
extern const unsigned long ctw_TUNSETVNETHDRSZ;
/// TUNSETPERSIST: keep the device after the last fd closes.
extern const unsigned long ctw_TUNSETPERSIST;

/// Flags of struct ifreq.ifr_flags for TUNSETIFF.
extern const short ctw_IFF_TUN;
extern const short ctw_IFF_NO_PI;
extern const short ctw_IFF_VNET_HDR;
extern const short ctw_IFF_MULTI_QUEUE;

/// Offload bits for TUNSETOFFLOAD.
extern const unsigned int ctw_TUN_F_CSUM;
extern const unsigned int ctw_TUN_F_TSO4;
extern const unsigned int ctw_TUN_F_TSO6;

/// Size of struct ifreq and of IFNAMSIZ on this platform.
extern const int ctw_IFREQ_SIZE;
extern const int ctw_IFNAMSIZ;

#endif
