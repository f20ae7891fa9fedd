// Values of <linux/if_tun.h> and <net/if.h> macros, computed by the C compiler
// so that they always match the kernel headers this machine builds against.
#include "CTunwall.h"

#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>

const unsigned long ctw_TUNSETIFF = TUNSETIFF;
const unsigned long ctw_TUNSETOFFLOAD = TUNSETOFFLOAD;
const unsigned long ctw_TUNSETVNETHDRSZ = TUNSETVNETHDRSZ;
const unsigned long ctw_TUNSETPERSIST = TUNSETPERSIST;

const short ctw_IFF_TUN = IFF_TUN;
const short ctw_IFF_NO_PI = IFF_NO_PI;
const short ctw_IFF_VNET_HDR = IFF_VNET_HDR;
const short ctw_IFF_MULTI_QUEUE = IFF_MULTI_QUEUE;

const unsigned int ctw_TUN_F_CSUM = TUN_F_CSUM;
const unsigned int ctw_TUN_F_TSO4 = TUN_F_TSO4;
const unsigned int ctw_TUN_F_TSO6 = TUN_F_TSO6;

const int ctw_IFREQ_SIZE = sizeof(struct ifreq);
const int ctw_IFNAMSIZ = IFNAMSIZ;
