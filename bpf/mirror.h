/* Match-mirror-encap. Three kinds of entry, all derived by the control plane
 * from its sessions and its forwarding table:
 *  - source entry (vni, mac, MIRROR_SRC): frames FROM a monitored host that is
 *    local here, as they enter an access port;
 *  - destination entry (vni, mac, MIRROR_DST): frames TO a monitored host, as
 *    they enter an access port here;
 *  - termination entry (HOST ID): a copy arriving from the overlay with that
 *    Group Policy ID is decapsulated to the monitoring server's port.
 * Each source/destination entry says where its server is: a local port, a
 * remote VTEP (copy VXLAN-GBP encapsulated with G, D and the HOST ID), or
 * nowhere known (counted, never flooded). Matching happens in XDP, which hands
 * a matching frame to TC; TC makes the copies and forwards the original.
 * Only access-port ingress is ever mirrored, so a frame is copied once, at the
 * switch where it entered the fabric. */
#pragma once

/* At most this many distinct servers get a copy of one frame (a MAC and an
 * IP entry in each direction). */
#define VXG_MIRROR_COPIES 4

struct mirror_plan {
	struct mirror_value t[VXG_MIRROR_COPIES];
	__u32 n;
};

/* What a frame offers to match on. */
struct mirror_frame {
	__u8 smac[6];
	__u8 dmac[6];
	__be32 sip;
	__be32 dip;
	int has_ip;
};

/* Add a target unless a copy to the same server is already planned. */
static __always_inline void mirror_plan_add(struct mirror_plan *p, const struct mirror_value *v)
{
	if (!v)
		return;
#pragma unroll
	for (int i = 0; i < VXG_MIRROR_COPIES; i++)
		if (i < p->n && p->t[i].server == v->server)
			return;
	if (p->n == 0)
		p->t[0] = *v;
	else if (p->n == 1)
		p->t[1] = *v;
	else if (p->n == 2)
		p->t[2] = *v;
	else if (p->n == 3)
		p->t[3] = *v;
	else
		return;
	p->n++;
}

static __always_inline struct mirror_value *mirror_lookup_mac(__u32 vni, const __u8 *mac, __u8 dir)
{
	struct mirror_key k = { .vni = vni, .dir = dir };
	mac_copy(k.mac, mac);
	return bpf_map_lookup_elem(&vxg_mirror, &k);
}

static __always_inline struct mirror_value *mirror_lookup_ip(__u32 vni, __be32 ip, __u8 dir)
{
	struct mirror_ip_key k = { .vni = vni, .ip = ip, .dir = dir };
	return bpf_map_lookup_elem(&vxg_mirror_ip, &k);
}

/* Every entry the frame matches, one target per distinct server. Only VNIs
 * flagged as having entries get here, so other traffic pays one flag test. */
static __always_inline void mirror_collect(__u32 vni, __u32 vni_flags, const struct mirror_frame *f, struct mirror_plan *p)
{
	p->n = 0;
	if (vni_flags & VXG_VNI_MIRROR_MAC) {
		mirror_plan_add(p, mirror_lookup_mac(vni, f->smac, VXG_MIRROR_SRC));
		if (!mac_is_multicast(f->dmac))
			mirror_plan_add(p, mirror_lookup_mac(vni, f->dmac, VXG_MIRROR_DST));
	}
	if ((vni_flags & VXG_VNI_MIRROR_IP) && f->has_ip) {
		mirror_plan_add(p, mirror_lookup_ip(vni, f->sip, VXG_MIRROR_SRC));
		mirror_plan_add(p, mirror_lookup_ip(vni, f->dip, VXG_MIRROR_DST));
	}
}

/* XDP: does this access frame need copies? */
static __always_inline int mirror_wanted_xdp(__u32 vni, __u32 vni_flags, void *data, void *end, const struct l2_info *l2)
{
	struct ethhdr *eth = data;
	struct mirror_frame f = {};
	struct mirror_plan p;
	if ((void *)(eth + 1) > end)
		return 0;
	mac_copy(f.smac, eth->h_source);
	mac_copy(f.dmac, eth->h_dest);
	if (l2->proto == bpf_htons(ETH_P_IP) && l2->l2_len <= 18) {
		struct iphdr *ip = data + l2->l2_len;
		if ((void *)(ip + 1) <= end) {
			f.sip = ip->saddr;
			f.dip = ip->daddr;
			f.has_ip = 1;
		}
	}
	mirror_collect(vni, vni_flags, &f, &p);
	return p.n > 0;
}

static __always_inline void mirror_count(__u16 slot, int what, __u64 bytes)
{
	__u32 id = slot;
	struct mirror_stats_value *s = bpf_map_lookup_elem(&vxg_mirror_cnt, &id);
	if (!s)
		return;
	switch (what) {
	case VXG_MIRROR_STAT_COPY_LOCAL:
		s->copies_local++;
		break;
	case VXG_MIRROR_STAT_COPY_REMOTE:
		s->copies_remote++;
		break;
	case VXG_MIRROR_STAT_TERMINATED:
		s->terminated++;
		break;
	case VXG_MIRROR_STAT_NO_SERVER:
		s->drop_no_server++;
		break;
	case VXG_MIRROR_STAT_OVERSIZE:
		s->drop_oversize++;
		break;
	default:
		s->drop_other++;
	}
	s->bytes += bytes;
}

/* Uplink (XDP): a VXLAN packet with the G flag is a mirror copy, or nothing we
 * accept. Known HOST ID from a known VTEP: the inner frame goes to the
 * server's port only. Never learned from, never flooded. */
static __always_inline int mirror_terminate(struct xdp_md *ctx, const struct vxlan_rx *rx, __u32 len)
{
	__u32 id = rx->gbp_id;
	struct mirror_term_value *t = bpf_map_lookup_elem(&vxg_mirror_term, &id);
	if (!t) {
		count(VXG_CNT_DROP_MIRROR_UNKNOWN_ID, len);
		return XDP_DROP;
	}
	/* (vni 0, VTEP) is the control plane's list of every VTEP it knows */
	struct vtep_key tk = { .vni = 0, .remote = rx->outer_src };
	if (!bpf_map_lookup_elem(&vxg_vteps, &tk)) {
		count(VXG_CNT_DROP_MIRROR_UNKNOWN_SRC, len);
		mirror_count(t->slot, VXG_MIRROR_STAT_OTHER, 0);
		return XDP_DROP;
	}
	__u32 out_if = t->ifindex;
	__u16 out_vlan = t->vlan;
	__u16 slot = t->slot;
	__u32 outer_len = rx->outer_len;
	if (outer_len > 14 + 60 + 16)
		return XDP_DROP;
	if (!xdp_inner_eth(ctx, rx, len))
		return XDP_DROP;
	__u32 inner_len = rx->frame_len - outer_len;
	int too_long = xdp_egress_mtu_check(ctx, out_if, inner_len + (out_vlan ? VXG_VLAN_HLEN : 0), len, VXG_CNT_DROP_MIRROR_OVERSIZE);
	if (too_long) {
		mirror_count(slot, too_long > 0 ? VXG_MIRROR_STAT_OVERSIZE : VXG_MIRROR_STAT_OTHER, 0);
		return XDP_DROP;
	}
	/* a server port XDP cannot transmit on: TC terminates it (tc_mirror_terminate) */
	int act = xdp_egress(out_if, len);
	if (act != XDP_REDIRECT)
		return act;
	if (xdp_decap(ctx, rx, len, out_vlan))
		return XDP_DROP;
	count(VXG_CNT_MIRROR_TERMINATED, inner_len);
	mirror_count(slot, VXG_MIRROR_STAT_TERMINATED, inner_len);
	return XDP_REDIRECT;
}
