/* Replication helpers for the TC (clsact ingress) stages, the one-in-many-out
 * half of the fast path: each copy is made with bpf_clone_redirect, one per
 * local member port of the VNI (never the ingress) and one VXLAN copy per
 * remote VTEP in the VNI's flood list (head-end replication). Packet pointers
 * are not used across clone_redirect calls: every per-copy rewrite goes
 * through skb helpers. */
#pragma once

static __always_inline int tc_vlan_set(struct __sk_buff *skb, __u16 *cur, __u16 want)
{
	if (*cur == want)
		return 0;
	if (*cur) {
		if (bpf_skb_vlan_pop(skb))
			return -1;
		*cur = 0;
	}
	if (want) {
		if (bpf_skb_vlan_push(skb, bpf_htons(VXG_ETH_P_8021Q), want))
			return -1;
		*cur = want;
	}
	return 0;
}

/* State shared by one replication pass; bpf_loop verifies the per-copy callback
 * once instead of once per unrolled iteration. */
struct flood_ctx {
	struct __sk_buff *skb;
	struct globals_value *g;
	__u32 vni;
	__u32 in_if;
	__u16 in_vlan;
	__u16 cur_vlan;
	__u32 inner_len;
	__u32 hash;
	int encapped;
	struct vxlan_encap h;
	/* a group's member list (vxg_mcast_mbr) instead of the VNI's flood list */
	__u32 mcast;
	__be32 group;
	__be32 source;
	__u32 copies_local;
	__u32 copies_remote;
	/* a replication point's fan-out: the sender's address as outer source, no copy back to it */
	__be32 outer_src;
	__be32 skip_remote;
};

/* Slot i of the list this pass replicates to. */
static __always_inline struct flood_value *replica_at(struct flood_ctx *c, __u32 i)
{
#if VXG_FEATURE_MCAST
	if (c->mcast) {
		struct mcast_member_key mk = { .vni = c->vni, .group = c->group, .source = c->source, .slot = i };
		return bpf_map_lookup_elem(&vxg_mcast_mbr, &mk);
	}
#endif
	struct flood_key k = { .vni = c->vni, .slot = i };
	return bpf_map_lookup_elem(&vxg_flood, &k);
}

static long flood_local_one(__u32 i, void *arg)
{
	struct flood_ctx *c = arg;
	struct flood_value *e = replica_at(c, i);
	if (!e || e->kind != VXG_FLOOD_LOCAL)
		return 0;
	__u32 out = e->ifindex;
	__u16 vlan = e->vlan;
	if (out == c->in_if && vlan == c->in_vlan)
		return 0; /* never back out of the port (and VLAN) it came in on */
	struct __sk_buff *skb = c->skb;
	if (tc_vlan_set(skb, &c->cur_vlan, vlan)) {
		count(VXG_CNT_ERR_ADJUST, skb->len);
		return 0;
	}
	if (tc_too_long(skb, out)) {
		count(VXG_CNT_DROP_EGRESS_MTU, skb->len);
		return 0;
	}
	if (bpf_clone_redirect(skb, out, 0)) {
		count(VXG_CNT_ERR_CLONE, skb->len);
	} else {
		count(c->mcast ? VXG_CNT_MCAST_LOCAL_COPY : VXG_CNT_FLOOD_LOCAL_COPY, skb->len);
		c->copies_local++;
	}
	return 0;
}

/* Make room for the VXLAN headers once per pass; each copy then only
 * rewrites them. A GRO-merged frame (always IP) grows through adjust_room with
 * the encapsulation flags, so the kernel marks it UDP-tunnel GSO and segments
 * it correctly on the way out; anything else (ARP, ...) grows at the head.
 * Returns 0 or a -VXG_CNT_* reason. */
static __always_inline int tc_encap_once(struct flood_ctx *c)
{
	struct __sk_buff *skb = c->skb;
	if (c->encapped)
		return 0;
	if (tc_vlan_set(skb, &c->cur_vlan, 0))
		return -VXG_CNT_ERR_ADJUST;
	c->inner_len = skb->len;
	if (skb->gso_segs > 1) {
		struct ethhdr inner;
		__u64 flags = BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 | BPF_F_ADJ_ROOM_ENCAP_L4_UDP | BPF_F_ADJ_ROOM_ENCAP_L2_ETH |
			      BPF_F_ADJ_ROOM_ENCAP_L2(sizeof(inner));
		if (bpf_skb_load_bytes(skb, 0, &inner, sizeof(inner)))
			return -VXG_CNT_ERR_ADJUST;
		/* the room opens behind the MAC header; the inner MAC header goes at its end */
		if (bpf_skb_adjust_room(skb, VXG_ENCAP_LEN, BPF_ADJ_ROOM_MAC, flags))
			return -VXG_CNT_ERR_ADJUST;
		if (bpf_skb_store_bytes(skb, VXG_ENCAP_LEN, &inner, sizeof(inner), 0))
			return -VXG_CNT_ERR_ADJUST;
	} else if (bpf_skb_change_head(skb, VXG_ENCAP_LEN, 0)) {
		return -VXG_CNT_ERR_ADJUST;
	}
	c->encapped = 1;
	return 0;
}

/* One VXLAN copy of the encapsulated frame to `remote`. gbp != 0 makes it a
 * mirror copy: Group Policy extension with the G flag, D (don't learn) and the
 * HOST ID as policy ID. Returns 0 or a -VXG_CNT_* reason. */
static __always_inline int tc_vxlan_copy(struct flood_ctx *c, __be32 remote, __u16 gbp)
{
	struct __sk_buff *skb = c->skb;
	encap_fill(&c->h, c->g, remote, c->vni, c->inner_len, c->hash);
	if (c->outer_src) {
		c->h.ip.saddr = c->outer_src;
		c->h.ip.check = 0;
		c->h.ip.check = ipv4_csum(&c->h.ip);
	}
	if (gbp) {
		c->h.vx.flags |= VXLAN_FLAG_G;
		c->h.vx.reserved1[0] = VXLAN_GBP_DONT_LEARN;
		c->h.vx.reserved1[1] = gbp >> 8;
		c->h.vx.reserved1[2] = gbp & 0xff;
	}
	/* a merged frame is checked per segment when it is split: no MTU check here */
	int out = encap_resolve_fib(skb, &c->h, c->g, skb->gso_segs > 1 ? 0 : c->inner_len + VXG_ENCAP_LEN);
	if (out < 0) {
		if (out == -VXG_CNT_DROP_NO_NEIGH)
			report_no_neigh(c->g, remote);
		return out;
	}
	if (bpf_skb_store_bytes(skb, 0, &c->h, VXG_ENCAP_LEN, 0))
		return -VXG_CNT_ERR_ADJUST;
	if (bpf_clone_redirect(skb, out, 0))
		return -VXG_CNT_ERR_CLONE;
	return 0;
}

static long flood_remote_one(__u32 i, void *arg)
{
	struct flood_ctx *c = arg;
	struct flood_value *e = replica_at(c, i);
	if (!e || e->kind != VXG_FLOOD_REMOTE)
		return 0;
	__be32 remote = e->remote;
	if (remote == c->skip_remote)
		return 0;
	int rc = tc_encap_once(c);
	if (rc < 0) {
		count(-rc, c->skb->len);
		return 1;
	}
	rc = tc_vxlan_copy(c, remote, 0);
	if (rc == 0) {
		count(c->mcast ? VXG_CNT_MCAST_REMOTE_COPY : VXG_CNT_FLOOD_REMOTE_COPY, c->inner_len);
		c->copies_remote++;
		return 0;
	}
	count(-rc, c->inner_len);
	return rc == -VXG_CNT_ERR_ADJUST; /* the frame is no longer usable: stop */
}

/* The one copy of a known unicast frame, to a local port. XDP sends these
 * itself unless it cannot transmit on the port (egress_via_tc): then the
 * frame comes up here and leaves through the skb path. Counted as `what`. */
static __always_inline int tc_to_port(struct flood_ctx *c, __u32 out, __u16 vlan, __u32 what)
{
	struct __sk_buff *skb = c->skb;
	if (tc_vlan_set(skb, &c->cur_vlan, vlan)) {
		count(VXG_CNT_ERR_ADJUST, skb->len);
		return TC_ACT_SHOT;
	}
	if (tc_too_long(skb, out)) {
		count(VXG_CNT_DROP_EGRESS_MTU, skb->len);
		return TC_ACT_SHOT;
	}
	count(what, skb->len);
	return bpf_redirect(out, 0);
}

/* Decapsulate in place to exactly the inner frame (`inner`: its MAC header,
 * read by the caller): padding past the UDP payload goes. The shrink needs
 * 20 bytes after the inner Ethernet header (the kernel checks it against the
 * outer IPv4 header size), so a runt shorter than that is padded to the
 * Ethernet minimum of 60 bytes, as a physical port would pad it. Returns 0
 * or -1 (counted). */
static __always_inline int tc_decap(struct __sk_buff *skb, const struct vxlan_rx *rx, const struct ethhdr *inner)
{
	__u32 outer_len = rx->outer_len;
	__u32 want_len = rx->frame_len < outer_len + 14 + 20 ? outer_len + 60 : rx->frame_len;
	if (skb->len != want_len && bpf_skb_change_tail(skb, want_len, 0)) {
		count(VXG_CNT_ERR_ADJUST, skb->len);
		return -1;
	}
	/* drop the outer IP/UDP/VXLAN and the inner MAC header from behind the
	 * outer MAC header, then write the inner MAC header in its place */
	if (bpf_skb_adjust_room(skb, -(int)outer_len, BPF_ADJ_ROOM_MAC, 0)) {
		count(VXG_CNT_ERR_ADJUST, skb->len);
		return -1;
	}
	if (bpf_skb_store_bytes(skb, 0, inner, sizeof(*inner), 0))
		return -1;
	return 0;
}

static __always_inline __u32 flood_bound(__u32 n)
{
	return n < VXG_FLOOD_SLOTS ? n : VXG_FLOOD_SLOTS;
}

