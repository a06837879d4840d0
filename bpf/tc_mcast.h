/* Per-group replication (TC, both directions) for VNIs with IGMP snooping.
 * IPv4 multicast to a group with an (S,G) or (*,G) entry goes to the group's
 * member list instead of the VNI's flood list: member ports (and the VNI's
 * mrouter ports, which the control plane puts in every list) and, from an
 * access port, one VXLAN copy per remote VTEP with members. IGMP from access
 * ports is copied to the control plane; reports and leaves then go to the
 * mrouter ports only (RFC 4541 2.1.1), queries are flooded like any BUM.
 * PIM from access ports is copied up too (its port is a multicast router's).
 * Link-local groups (224.0.0.0/24) are never snooped: always flooded. */
#pragma once

#define VXG_IGMP_QUERY 0x11

/* where a group packet entered this switch */
enum mcast_from {
	MCAST_FROM_ACCESS,  /* a local sender: member ports and member VTEPs */
	MCAST_FROM_OVERLAY, /* decapsulated: member ports only (split horizon) */
	MCAST_FROM_LEAF,    /* sent to our replication point: member ports and every member VTEP but the sender */
};

struct vxg_punt {
	struct vxg_event ev;
	struct vxg_punt_hdr h;
	__u8 data[VXG_PUNT_MAX];
};

struct mcast_l3 {
	__be32 src;
	__be32 dst;
	__u8 proto;
	__u8 igmp_type;
};

/* The IPv4 header at `off` (and the IGMP type behind it): 0 when the frame is
 * an IPv4 datagram to a multicast group, -1 otherwise. */
static __always_inline int mcast_parse(struct __sk_buff *skb, __u32 off, struct mcast_l3 *m)
{
	struct iphdr ip;
	if (bpf_skb_load_bytes(skb, off, &ip, sizeof(ip)))
		return -1;
	if (ip.version != 4 || ip.ihl < 5)
		return -1;
	if ((bpf_ntohl(ip.daddr) & 0xf0000000) != 0xe0000000)
		return -1;
	m->src = ip.saddr;
	m->dst = ip.daddr;
	m->proto = ip.protocol;
	m->igmp_type = 0;
	if (ip.protocol == IPPROTO_IGMP && !(ip.frag_off & bpf_htons(VXG_IP_OFFSET))) {
		__u8 t = 0;
		if (bpf_skb_load_bytes(skb, off + ip.ihl * 4, &t, 1) == 0)
			m->igmp_type = t;
	}
	return 0;
}

static __always_inline int mcast_link_local(__be32 group)
{
	return (bpf_ntohl(group) & 0xffffff00) == 0xe0000000;
}

/* One more control frame from port `ifindex` within its rate? A token
 * bucket per port (a second's worth of burst); racy across CPUs, which a
 * rate limit can afford. */
static __always_inline int punt_allowed(__u32 ifindex, __u32 rate)
{
	if (!rate)
		return 1;
	__u64 now = bpf_ktime_get_ns();
	struct port_key k = { .ifindex = ifindex };
	struct punt_rate_value *b = bpf_map_lookup_elem(&vxg_punt_rate, &k);
	if (!b) {
		struct punt_rate_value fresh = { .tokens = rate - 1, .last_ns = now };
		bpf_map_update_elem(&vxg_punt_rate, &k, &fresh, BPF_NOEXIST);
		return 1;
	}
	__u64 elapsed = now - b->last_ns;
	if (elapsed > 1000000000ULL)
		elapsed = 1000000000ULL;
	__u64 add = elapsed * rate / 1000000000ULL;
	if (add) {
		__u64 t = b->tokens + add;
		b->tokens = t > rate ? rate : t;
		b->last_ns = now;
	}
	if (!b->tokens)
		return 0;
	b->tokens--;
	return 1;
}

/* Copy a control frame (IGMP, PIM), with its ingress port and VNI, to the control plane. */
static __always_inline void punt_control(struct flood_ctx *c)
{
	struct __sk_buff *skb = c->skb;
	if (!punt_allowed(c->in_if, c->g->igmp_rate)) {
		count(VXG_CNT_DROP_IGMP_RATE, skb->len);
		return;
	}
	__u32 len = skb->len;
	if (len > VXG_PUNT_MAX)
		len = VXG_PUNT_MAX;
	if (len < 1)
		return;
	struct vxg_punt *p = bpf_ringbuf_reserve(&vxg_events, sizeof(*p), 0);
	if (!p) {
		count(VXG_CNT_ERR_EVENT_RING_FULL, skb->len);
		return;
	}
	__builtin_memset(&p->ev, 0, sizeof(p->ev));
	p->ev.kind = VXG_EVT_IGMP;
	p->ev.vlan = c->in_vlan;
	p->ev.vni = c->vni;
	p->ev.ifindex = c->in_if;
	p->h.len = len;
	if (bpf_skb_load_bytes(skb, 0, p->data, len)) {
		bpf_ringbuf_discard(p, 0);
		return;
	}
	bpf_ringbuf_submit(p, 0);
	count(VXG_CNT_IGMP_TO_CPU, skb->len);
}

/* Replicate to the list of (group, source); remote copies only when `remote`. */
static __always_inline void mcast_replicate(struct flood_ctx *c, __be32 group, __be32 source, const struct mcast_value *g, int remote)
{
	__u32 n = g->count < VXG_MCAST_SLOTS ? g->count : VXG_MCAST_SLOTS;
	__u32 slot = g->slot;
	c->mcast = 1;
	c->group = group;
	c->source = source;
	bpf_loop(n, flood_local_one, c, 0);
	if (remote)
		bpf_loop(n, flood_remote_one, c, 0);
	struct mcast_stats_value *st = bpf_map_lookup_elem(&vxg_mcast_cnt, &slot);
	if (st) {
		st->frames++;
		st->bytes += c->skb->len;
		st->copies_local += c->copies_local;
		st->copies_remote += c->copies_remote;
	}
}

static __always_inline struct mcast_value *mcast_lookup(__u32 vni, __be32 group, __be32 source)
{
	struct mcast_key k = { .vni = vni, .group = group, .source = source };
	return bpf_map_lookup_elem(&vxg_mcast, &k);
}

/* A multicast frame of a snooping VNI, from where `from` says. Returns a TC
 * verdict, or -1 to flood it like any BUM. */
static __always_inline int tc_mcast(struct flood_ctx *c, const struct vni_value *vc, enum mcast_from from)
{
	int from_access = from == MCAST_FROM_ACCESS;
	struct mcast_l3 m;
	if (mcast_parse(c->skb, ETH_HLEN, &m))
		return -1;
	struct mcast_value *g;
	if (m.proto == IPPROTO_PIM && from_access) {
		/* a multicast router's hello: its port becomes an mrouter port; the
		 * hello itself (224.0.0.13, link-local) is flooded */
		punt_control(c);
		return -1;
	}
	if (m.proto == IPPROTO_IGMP && from_access) {
		punt_control(c);
		if (m.igmp_type == VXG_IGMP_QUERY)
			return -1;
		g = mcast_lookup(c->vni, 0, 0);
		if (g)
			mcast_replicate(c, 0, 0, g, 0);
		count(VXG_CNT_IGMP_TO_MROUTER, c->skb->len);
		return TC_ACT_SHOT;
	}
	if (mcast_link_local(m.dst))
		return -1;
	__be32 source = m.src;
	g = mcast_lookup(c->vni, m.dst, source);
	if (!g) {
		source = 0;
		g = mcast_lookup(c->vni, m.dst, 0);
	}
	if (!g) {
		count(VXG_CNT_MCAST_UNREGISTERED, c->skb->len);
		if (!(vc->flags & VXG_VNI_MCAST_DROP_UNREG))
			return -1;
		g = mcast_lookup(c->vni, 0, 0);
		if (g)
			mcast_replicate(c, 0, 0, g, 0);
		return TC_ACT_SHOT;
	}
	count(VXG_CNT_MCAST_GROUP_HIT, c->skb->len);
	mcast_replicate(c, m.dst, source, g, from != MCAST_FROM_OVERLAY);
	return TC_ACT_SHOT;
}
