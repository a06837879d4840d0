/* Shared includes and small helpers for every stage. */
#pragma once
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/udp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#ifndef AF_INET
#define AF_INET 2
#endif
#define VXG_ETH_P_8021Q 0x8100
#define VXG_ETH_P_8021AD 0x88A8
#define VXG_IP_MF 0x2000
#define VXG_IP_OFFSET 0x1FFF
#define VXG_VLAN_HLEN 4

#define VXLAN_FLAG_I 0x08
/* VXLAN Group Policy extension (the carrier of a mirror copy's HOST ID): G flag
 * in byte 0, D (don't learn) in byte 1, the 16-bit policy ID in bytes 2-3. */
#define VXLAN_FLAG_G 0x80
#define VXLAN_GBP_DONT_LEARN 0x40
/* outer Ethernet + IPv4 (no options) + UDP + VXLAN: what we prepend on encap */
#define VXG_ENCAP_LEN (14 + 20 + 8 + 8)

struct vxlan_hdr {
	__u8 flags;
	__u8 reserved1[3];
	__be32 vni_reserved; /* VNI in the upper 24 bits */
};

struct vlan_tag {
	__be16 tci;
	__be16 proto;
};

static __always_inline struct globals_value *get_globals(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&vxg_globals, &zero);
}

static __always_inline int mac_is_multicast(const __u8 *mac)
{
	return mac[0] & 1;
}

static __always_inline int mac_is_zero(const __u8 *mac)
{
	return !(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]);
}

static __always_inline int mac_equal(const __u8 *a, const __u8 *b)
{
	return *(const __u32 *)a == *(const __u32 *)b && *(const __u16 *)(a + 4) == *(const __u16 *)(b + 4);
}

static __always_inline void mac_copy(__u8 *dst, const __u8 *src)
{
	__builtin_memcpy(dst, src, 6);
}

static __always_inline __u16 ipv4_csum(const void *hdr)
{
	const __u16 *w = hdr;
	__u32 sum = 0;
#pragma unroll
	for (int i = 0; i < 10; i++)
		sum += w[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

/* Mix a few words into a flow hash for the outer UDP source port (RFC 7348 §5:
 * entropy from the inner frame so the underlay's ECMP spreads flows). */
static __always_inline __u32 vxg_mix(__u32 h, __u32 v)
{
	h ^= v;
	h *= 0x9E3779B1u;
	return h ^ (h >> 15);
}

static __always_inline __be16 vxg_src_port(__u32 hash)
{
	/* 49152..65535: the dynamic range RFC 7348 recommends */
	return bpf_htons(49152 | (hash & 0x3fff));
}
