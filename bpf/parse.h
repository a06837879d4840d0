/* Bounds-checked header access for XDP (direct packet access). */
#pragma once

struct l2_info {
	__u16 vlan;   /* 0 = untagged */
	__u16 l2_len; /* 14 or 18 */
	__be16 proto; /* ethertype after any tag */
};

/* Parse Ethernet and at most one 802.1Q tag. Returns 0 on success, -1 if truncated
 * or if the frame carries a tag type we do not switch (802.1ad / stacked tags). */
static __always_inline int parse_l2(void *data, void *end, struct l2_info *l2)
{
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return -1;
	l2->vlan = 0;
	l2->l2_len = sizeof(*eth);
	l2->proto = eth->h_proto;
	if (eth->h_proto == bpf_htons(VXG_ETH_P_8021Q)) {
		struct vlan_tag *t = (void *)(eth + 1);
		if ((void *)(t + 1) > end)
			return -1;
		l2->vlan = bpf_ntohs(t->tci) & 0x0fff;
		l2->l2_len += sizeof(*t);
		l2->proto = t->proto;
		if (t->proto == bpf_htons(VXG_ETH_P_8021Q) || t->proto == bpf_htons(VXG_ETH_P_8021AD))
			return -1;
		if (l2->vlan == 0 || l2->vlan == 0xfff)
			return -1; /* priority-tagged / reserved: not a VLAN we map */
	} else if (eth->h_proto == bpf_htons(VXG_ETH_P_8021AD)) {
		return -1;
	}
	return 0;
}

/* Hash of the inner flow for the outer UDP source port: MACs, and for IPv4
 * the addresses and protocol, and the ports of TCP and UDP (not of a
 * fragment after the first, which has none, nor behind IP options), as the
 * kernel's flow hash takes them: flows between the same two hosts spread
 * over the underlay's ECMP paths too. */
static __always_inline __u32 inner_flow_hash(void *data, void *end, const struct l2_info *l2)
{
	struct ethhdr *eth = data;
	__u32 h = 0x5bd1e995;
	if ((void *)(eth + 1) > end)
		return h;
	h = vxg_mix(h, *(__u32 *)&eth->h_dest[2]);
	h = vxg_mix(h, *(__u32 *)&eth->h_source[2]);
	if (l2->proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = data + l2->l2_len;
		if (l2->l2_len <= 18 && (void *)(ip + 1) <= end) {
			h = vxg_mix(h, ip->saddr);
			h = vxg_mix(h, ip->daddr);
			h = vxg_mix(h, ip->protocol);
			if ((ip->protocol == IPPROTO_UDP || ip->protocol == IPPROTO_TCP) && !(ip->frag_off & bpf_htons(VXG_IP_OFFSET)) &&
			    ip->ihl == 5) {
				__u32 *ports = (void *)(ip + 1);
				if ((void *)(ports + 1) <= end)
					h = vxg_mix(h, *ports);
			}
		}
	}
	return h;
}
