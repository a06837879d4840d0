/* VXLAN (RFC 7348) outer header construction and outer next-hop resolution.
 * The kernel owns the underlay: bpf_fib_lookup gives the egress port and MACs. */
#pragma once

struct vxlan_encap {
	struct ethhdr eth;
	struct iphdr ip;
	struct udphdr udp;
	struct vxlan_hdr vx;
} __attribute__((packed));

_Static_assert(sizeof(struct vxlan_encap) == VXG_ENCAP_LEN, "encap header size");

/* Fill everything but the outer MACs (they come from the FIB). inner_len is the
 * length of the inner Ethernet frame. */
static __always_inline void encap_fill(struct vxlan_encap *h, const struct globals_value *g, __be32 remote,
				       __u32 vni, __u32 inner_len, __u32 flow_hash)
{
	h->eth.h_proto = bpf_htons(ETH_P_IP);
	h->ip.version = 4;
	h->ip.ihl = 5;
	h->ip.tos = 0;
	h->ip.tot_len = bpf_htons(inner_len + sizeof(struct iphdr) + sizeof(struct udphdr) + sizeof(struct vxlan_hdr));
	h->ip.id = 0;
	h->ip.frag_off = 0;
	h->ip.ttl = 64;
	h->ip.protocol = IPPROTO_UDP;
	h->ip.check = 0;
	h->ip.saddr = g->vtep_ip;
	h->ip.daddr = remote;
	h->ip.check = ipv4_csum(&h->ip);
	h->udp.source = vxg_src_port(flow_hash);
	h->udp.dest = g->udp_port;
	h->udp.len = bpf_htons(inner_len + sizeof(struct udphdr) + sizeof(struct vxlan_hdr));
	h->udp.check = 0; /* allowed for IPv4 (RFC 7348 §5) */
	h->vx.flags = VXLAN_FLAG_I;
	h->vx.reserved1[0] = h->vx.reserved1[1] = h->vx.reserved1[2] = 0;
	h->vx.vni_reserved = bpf_htonl(vni << 8);
}

/* Ask the kernel's FIB for the outer next hop of h->ip.daddr: the egress
 * ifindex (> 0) with the MACs in `fib`, or a negative VXG_CNT_* drop reason.
 * tot_len 0: no MTU check. */
static __always_inline int fib_resolve(void *ctx, struct bpf_fib_lookup *fib, const struct vxlan_encap *h,
				       const struct globals_value *g, __u32 tot_len)
{
	__builtin_memset(fib, 0, sizeof(*fib));
	fib->family = AF_INET;
	fib->ipv4_src = h->ip.saddr;
	fib->ipv4_dst = h->ip.daddr;
	fib->l4_protocol = IPPROTO_UDP;
	fib->tot_len = tot_len;
	fib->ifindex = g->fib_ifindex;
	long rc = bpf_fib_lookup(ctx, fib, sizeof(*fib), 0);
	if (rc == BPF_FIB_LKUP_RET_NO_NEIGH)
		return -VXG_CNT_DROP_NO_NEIGH;
	if (rc == BPF_FIB_LKUP_RET_FRAG_NEEDED)
		return -VXG_CNT_DROP_MTU;
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return -VXG_CNT_DROP_FIB;
	return fib->ifindex;
}

/* Resolve the outer next hop for `remote` by the FIB alone (the TC stages:
 * their replication loops leave the verifier no room for the cache's paths).
 * Returns the egress ifindex (> 0) with the MACs written into h->eth, or a
 * negative VXG_CNT_* drop reason. */
static __always_inline int encap_resolve_fib(void *ctx, struct vxlan_encap *h, const struct globals_value *g, __u32 outer_len)
{
	struct bpf_fib_lookup fib;
	int out = fib_resolve(ctx, &fib, h, g, outer_len ? outer_len - sizeof(struct ethhdr) : 0);
	if (out < 0)
		return out;
	mac_copy(h->eth.h_dest, fib.dmac);
	mac_copy(h->eth.h_source, fib.smac);
	return out;
}

/* The same for the XDP encap, where the FIB lookup was most of the cost:
 * the kernel's answer is cached per remote VTEP (vxg_vtep_nh) for at most
 * NH_CACHE_NS, and the control plane empties the cache whenever a route,
 * neighbour or link changes, so the kernel stays the source of truth. */
static __always_inline int encap_resolve(void *ctx, struct vxlan_encap *h, const struct globals_value *g, __u32 outer_len)
{
	__u32 ip_len = outer_len ? outer_len - sizeof(struct ethhdr) : 0;
	struct vtep_nh_key nk = { .remote = h->ip.daddr };
	__u64 now = bpf_ktime_get_coarse_ns();
	struct vtep_nh_value *nh = bpf_map_lookup_elem(&vxg_vtep_nh, &nk);
	if (nh && now - nh->stamp_ns < VXG_NH_CACHE_NS) {
		if (ip_len > nh->mtu)
			return -VXG_CNT_DROP_MTU;
		mac_copy(h->eth.h_dest, nh->dmac);
		mac_copy(h->eth.h_source, nh->smac);
		return nh->ifindex;
	}
	/* the FIB's answer and the cache entry share one stack slot */
	union {
		struct bpf_fib_lookup fib;
		struct vtep_nh_value v;
	} u;
	int out = fib_resolve(ctx, &u.fib, h, g, ip_len);
	if (out < 0)
		return out;
	mac_copy(h->eth.h_dest, u.fib.dmac);
	mac_copy(h->eth.h_source, u.fib.smac);
	/* the route's MTU: the FIB reports it for a packet too long to take */
	__u32 mtu = fib_resolve(ctx, &u.fib, h, g, 0xffff) == -VXG_CNT_DROP_MTU ? u.fib.mtu_result : 0xffff;
	__builtin_memset(&u.v, 0, sizeof(u.v));
	u.v.stamp_ns = now;
	u.v.ifindex = out;
	u.v.mtu = mtu;
	mac_copy(u.v.dmac, h->eth.h_dest);
	mac_copy(u.v.smac, h->eth.h_source);
	bpf_map_update_elem(&vxg_vtep_nh, &nk, &u.v, BPF_ANY);
	return out;
}

/* The outer next hop of `remote` is unresolved: tell the control plane, which
 * installs a kernel-managed neighbour entry for it. Rate-limited switch-wide
 * (a racy timestamp is good enough for a rate limit). */
static __always_inline void report_no_neigh(struct globals_value *g, __be32 remote)
{
	__u64 now = bpf_ktime_get_ns();
	if (now - g->no_neigh_ns < VXG_LEARN_REFRESH_NS / 10)
		return;
	g->no_neigh_ns = now;
	struct vxg_event *e = bpf_ringbuf_reserve(&vxg_events, sizeof(*e), 0);
	if (!e) {
		count(VXG_CNT_ERR_EVENT_RING_FULL, 0);
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->kind = VXG_EVT_NO_NEIGH;
	e->remote = remote;
	bpf_ringbuf_submit(e, 0);
}

struct vxlan_rx {
	__be32 outer_src;
	__u32 vni;
	__u32 outer_len; /* bytes before the inner Ethernet header */
	__u32 frame_len; /* outer headers + UDP length: anything after it is padding */
	__u8 gbp;        /* Group Policy extension (G flag): a mirror copy, or nothing we accept */
	__u16 gbp_id;    /* its policy ID: the HOST ID */
	__u8 to_replicator; /* sent to our replication point's address: a group packet to fan out */
};

#define VXLAN_NOT_OURS 1

/* RFC 1071 over an IPv4 header of ip_len bytes (options included). The caller
 * has checked the fixed 20 bytes; each option word is bounds-checked on its own
 * (the empty asm keeps the compiler from folding those checks into one the
 * verifier cannot follow). */
static __always_inline int ipv4_header_valid(const struct iphdr *ip, __u32 ip_len, void *end)
{
	const __u16 *w = (const void *)ip;
	__u32 sum = 0;
#pragma unroll
	for (int i = 0; i < 10; i++)
		sum += w[i];
	for (int i = 10; i < 30; i++) {
		if (i * 2 >= ip_len)
			break;
		const __u16 *p = w + i;
		asm volatile("" : "+r"(p));
		if ((void *)(p + 1) > end)
			return 0;
		sum += *p;
	}
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

/* Is this frame VXLAN for our VTEP? 0 = yes (rx filled in, inner Ethernet header
 * is within bounds), VXLAN_NOT_OURS = leave it to the kernel, negative = ours but
 * unusable (a -VXG_CNT_* drop reason). The outer IPv4/UDP packet is checked the
 * way the kernel's receive path would (header checksum, lengths consistent with
 * the frame), so nothing the Linux VXLAN driver would drop gets decapsulated.
 * Shared by the XDP and TC uplink stages. */
static __always_inline int parse_vxlan(void *data, void *end, const struct globals_value *g, struct vxlan_rx *rx)
{
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return VXLAN_NOT_OURS;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end)
		return VXLAN_NOT_OURS;
	/* our VTEP, or our replication point's address (a leaf's one copy to fan out) */
	int to_replicator = g->replicator_ip && ip->daddr == g->replicator_ip;
	if ((ip->daddr != g->vtep_ip && !to_replicator) || ip->protocol != IPPROTO_UDP || ip->version != 4 || ip->ihl < 5)
		return VXLAN_NOT_OURS;
	if (ip->frag_off & bpf_htons(VXG_IP_MF | VXG_IP_OFFSET))
		return VXLAN_NOT_OURS; /* fragments: the kernel reassembles or drops them */
	__u32 ip_len = ip->ihl * 4;
	struct udphdr *udp = (void *)ip + ip_len;
	if ((void *)(udp + 1) > end)
		return VXLAN_NOT_OURS;
	if (udp->dest != g->udp_port)
		return VXLAN_NOT_OURS;
	/* from here on it is ours: it must be a well-formed IPv4/UDP packet */
	__u32 tot_len = bpf_ntohs(ip->tot_len);
	__u32 udp_len = bpf_ntohs(udp->len);
	if (tot_len < ip_len + sizeof(*udp) || (void *)ip + tot_len > end)
		return -VXG_CNT_DROP_MALFORMED;
	if (!ipv4_header_valid(ip, ip_len, end))
		return -VXG_CNT_DROP_MALFORMED;
	if (udp_len < sizeof(*udp) + sizeof(struct vxlan_hdr) + sizeof(struct ethhdr) || ip_len + udp_len > tot_len)
		return -VXG_CNT_DROP_MALFORMED;
	struct vxlan_hdr *vx = (void *)(udp + 1);
	if ((void *)(vx + 1) > end)
		return -VXG_CNT_DROP_MALFORMED;
	if (!(vx->flags & VXLAN_FLAG_I))
		return -VXG_CNT_DROP_BAD_VXLAN;
	struct ethhdr *inner = (void *)(vx + 1);
	if ((void *)(inner + 1) > end)
		return -VXG_CNT_DROP_MALFORMED;
	/* a VTEP is a unicast address that is not ours: never learn, admit or
	 * answer 0.0.0.0, loopback, multicast/broadcast (and class E), or self */
	__u8 first = ((const __u8 *)&ip->saddr)[0];
	if (ip->saddr == 0 || first == 127 || first >= 224 || ip->saddr == g->vtep_ip)
		return -VXG_CNT_DROP_BAD_OUTER_SRC;
	rx->outer_src = ip->saddr;
	rx->to_replicator = to_replicator;
	rx->vni = bpf_ntohl(vx->vni_reserved) >> 8;
	rx->gbp = (vx->flags & VXLAN_FLAG_G) != 0;
	rx->gbp_id = ((__u16)vx->reserved1[1] << 8) | vx->reserved1[2];
	rx->outer_len = sizeof(*eth) + ip_len + sizeof(*udp) + sizeof(*vx);
	/* the UDP length bounds the inner frame; IP padding past it is not ours either */
	rx->frame_len = sizeof(*eth) + ip_len + udp_len;
	return 0;
}

/* Overlay admission: the VNI must be ours, and unless it floods-and-learns, the
 * outer source must be a VTEP we know for it (anti-spoofing). */
static __always_inline int overlay_admit(const struct vxlan_rx *rx, struct vni_value **vc_out)
{
	struct vni_key vk = { .vni = rx->vni };
	struct vni_value *vc = bpf_map_lookup_elem(&vxg_vnis, &vk);
	if (!vc)
		return -VXG_CNT_DROP_UNKNOWN_VNI;
	if (!(vc->flags & VXG_VNI_LEARN_REMOTE)) {
		struct vtep_key tk = { .vni = rx->vni, .remote = rx->outer_src };
		if (!bpf_map_lookup_elem(&vxg_vteps, &tk))
			return -VXG_CNT_DROP_SPOOF;
	}
	*vc_out = vc;
	return 0;
}

/* XDP: strip the outer headers (and any Ethernet padding past the UDP
 * payload, which is not part of the inner frame) and tag the inner frame for
 * its port. 0, or -1 after counting err_adjust. */
static __always_inline int xdp_decap(struct xdp_md *ctx, const struct vxlan_rx *rx, __u32 len, __u16 out_vlan)
{
	if ((len > rx->frame_len && bpf_xdp_adjust_tail(ctx, -(int)(len - rx->frame_len))) ||
	    bpf_xdp_adjust_head(ctx, (int)rx->outer_len) || xdp_retag(ctx, 0, out_vlan)) {
		count(VXG_CNT_ERR_ADJUST, len);
		return -1;
	}
	return 0;
}

/* XDP: the inner Ethernet header behind a parsed VXLAN packet, or NULL after
 * counting it malformed: out of bounds, or tagged (RFC 7348 §6.1: decapsulated
 * frames with an inner VLAN tag are discarded). */
static __always_inline struct ethhdr *xdp_inner_eth(struct xdp_md *ctx, const struct vxlan_rx *rx, __u32 len)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *inner = data + rx->outer_len;
	if ((void *)(inner + 1) > end || inner->h_proto == bpf_htons(VXG_ETH_P_8021Q) || inner->h_proto == bpf_htons(VXG_ETH_P_8021AD)) {
		count(VXG_CNT_DROP_MALFORMED, len);
		return 0;
	}
	return inner;
}
