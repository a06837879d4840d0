/* Match-mirror-encap, copy half (TC, access ingress). XDP handed up a frame
 * that matches mirror entries. Every output is a clone, in two phases: first
 * the plain-frame copies (the original to its local port, flood copies to
 * local members, copies to local servers), then the frame is encapsulated
 * once and each VXLAN copy is a header rewrite (the original to its VTEP,
 * flood copies to remote VTEPs, Group Policy copies to remote servers). The
 * original goes exactly where XDP would have sent it. */
#pragma once

/* The frame's addresses, read through the skb (the tag, if any, is already in
 * skb->vlan_tci). */
static __always_inline int tc_mirror_frame(struct __sk_buff *skb, struct mirror_frame *f)
{
	struct ethhdr eth;
	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)))
		return -1;
	mac_copy(f->smac, eth.h_source);
	mac_copy(f->dmac, eth.h_dest);
	f->has_ip = 0;
	if (eth.h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;
		if (!bpf_skb_load_bytes(skb, sizeof(eth), &ip, sizeof(ip))) {
			f->sip = ip.saddr;
			f->dip = ip.daddr;
			f->has_ip = 1;
		}
	}
	return 0;
}

/* Copies to servers on local ports (never back out of the ingress port). */
static __always_inline void tc_mirror_local(struct flood_ctx *c, const struct mirror_value *t)
{
	struct __sk_buff *skb = c->skb;
	if (t->kind == VXG_MIRROR_NO_SERVER) {
		count(VXG_CNT_DROP_MIRROR_NO_SERVER, skb->len);
		mirror_count(t->slot, VXG_MIRROR_STAT_NO_SERVER, 0);
		return;
	}
	if (t->kind != VXG_MIRROR_TO_LOCAL || (t->ifindex == c->in_if && t->vlan == c->in_vlan))
		return;
	if (tc_vlan_set(skb, &c->cur_vlan, t->vlan)) {
		count(VXG_CNT_ERR_ADJUST, skb->len);
		return;
	}
	if (tc_too_long(skb, t->ifindex)) {
		count(VXG_CNT_DROP_MIRROR_OVERSIZE, skb->len);
		mirror_count(t->slot, VXG_MIRROR_STAT_OVERSIZE, skb->len);
		return;
	}
	if (bpf_clone_redirect(skb, t->ifindex, 0)) {
		count(VXG_CNT_ERR_CLONE, skb->len);
		return;
	}
	count(VXG_CNT_MIRROR_COPY_LOCAL, skb->len);
	mirror_count(t->slot, VXG_MIRROR_STAT_COPY_LOCAL, skb->len);
}

/* Copies to servers behind remote VTEPs: VXLAN with the HOST ID. */
static __always_inline void tc_mirror_remote(struct flood_ctx *c, const struct mirror_value *t)
{
	if (t->kind != VXG_MIRROR_TO_REMOTE)
		return;
	int rc = tc_encap_once(c);
	if (rc == 0)
		rc = tc_vxlan_copy(c, t->remote, t->host_id);
	if (rc == 0) {
		count(VXG_CNT_MIRROR_COPY_REMOTE, c->inner_len);
		mirror_count(t->slot, VXG_MIRROR_STAT_COPY_REMOTE, c->inner_len);
	} else if (rc == -VXG_CNT_DROP_MTU) {
		/* larger than the underlay takes: the copy is dropped, the original is not affected */
		count(VXG_CNT_DROP_MIRROR_OVERSIZE, c->inner_len);
		mirror_count(t->slot, VXG_MIRROR_STAT_OVERSIZE, c->inner_len);
	} else {
		count(-rc, c->inner_len);
		mirror_count(t->slot, VXG_MIRROR_STAT_OTHER, 0);
	}
}

/* Returns the TC verdict, or -1 when the frame matches no entry (it came up
 * for flooding: the caller floods it as usual). */
static __always_inline int tc_access_mirror(struct flood_ctx *c, const struct vni_value *vc)
{
	struct __sk_buff *skb = c->skb;
	struct mirror_frame f = {};
	struct mirror_plan p;
	if (tc_mirror_frame(skb, &f))
		return -1;
	mirror_collect(c->vni, vc->flags, &f, &p);
	if (p.n == 0)
		return -1;

	/* the original's way, as XDP decides it */
	struct fdb_value *dst = mac_is_multicast(f.dmac) ? 0 : fdb_lookup(c->vni, f.dmac);
	__u32 out_if = 0;
	__u16 out_vlan = 0;
	__be32 out_remote = 0;
	__u32 n = 0;
	if (!dst)
		n = flood_bound(vc->flood_count);
	else if (dst->kind == VXG_FDB_LOCAL) {
		out_if = dst->ifindex;
		out_vlan = dst->vlan;
	} else
		out_remote = dst->remote;

	/* phase 1: the frame as it is */
	if (out_if) {
		if (out_if == c->in_if && out_vlan == c->in_vlan) {
			count(VXG_CNT_DROP_SAME_PORT, skb->len);
		} else if (tc_vlan_set(skb, &c->cur_vlan, out_vlan)) {
			count(VXG_CNT_ERR_ADJUST, skb->len);
		} else if (tc_too_long(skb, out_if)) {
			count(VXG_CNT_DROP_EGRESS_MTU, skb->len);
		} else if (bpf_clone_redirect(skb, out_if, 0)) {
			count(VXG_CNT_ERR_CLONE, skb->len);
		} else {
			count(VXG_CNT_LOCAL_FWD, skb->len);
		}
	}
	if (n)
		bpf_loop(n, flood_local_one, c, 0);
#pragma unroll
	for (int i = 0; i < VXG_MIRROR_COPIES; i++)
		if (i < p.n)
			tc_mirror_local(c, &p.t[i]);

	/* phase 2: VXLAN copies */
	if (out_remote) {
		int rc = tc_encap_once(c);
		if (rc == 0)
			rc = tc_vxlan_copy(c, out_remote, 0);
		if (rc == 0)
			count(VXG_CNT_ENCAP_FWD, c->inner_len);
		else
			count(-rc, c->inner_len);
	}
	if (n)
		bpf_loop(n, flood_remote_one, c, 0);
#pragma unroll
	for (int i = 0; i < VXG_MIRROR_COPIES; i++)
		if (i < p.n)
			tc_mirror_remote(c, &p.t[i]);
	return TC_ACT_SHOT;
}

/* Uplink: a mirror copy whose server port XDP cannot transmit on came up
 * unchanged (egress_via_tc); terminate it as mirror_terminate does. */
static __always_inline int tc_mirror_terminate(struct __sk_buff *skb, const struct vxlan_rx *rx)
{
	__u32 id = rx->gbp_id;
	struct mirror_term_value *t = bpf_map_lookup_elem(&vxg_mirror_term, &id);
	if (!t) {
		count(VXG_CNT_DROP_MIRROR_UNKNOWN_ID, skb->len);
		return TC_ACT_SHOT;
	}
	struct vtep_key tk = { .vni = 0, .remote = rx->outer_src };
	if (!bpf_map_lookup_elem(&vxg_vteps, &tk)) {
		count(VXG_CNT_DROP_MIRROR_UNKNOWN_SRC, skb->len);
		mirror_count(t->slot, VXG_MIRROR_STAT_OTHER, 0);
		return TC_ACT_SHOT;
	}
	__u32 out_if = t->ifindex;
	__u16 out_vlan = t->vlan;
	__u16 slot = t->slot;
	struct ethhdr inner;
	if (rx->outer_len > 14 + 60 + 16 || bpf_skb_load_bytes(skb, rx->outer_len, &inner, sizeof(inner)))
		return TC_ACT_SHOT;
	if (inner.h_proto == bpf_htons(VXG_ETH_P_8021Q) || inner.h_proto == bpf_htons(VXG_ETH_P_8021AD)) {
		count(VXG_CNT_DROP_MALFORMED, skb->len);
		return TC_ACT_SHOT;
	}
	if (tc_decap(skb, rx, &inner))
		return TC_ACT_SHOT;
	__u16 cur_vlan = 0;
	if (tc_vlan_set(skb, &cur_vlan, out_vlan)) {
		count(VXG_CNT_ERR_ADJUST, skb->len);
		return TC_ACT_SHOT;
	}
	if (tc_too_long(skb, out_if)) {
		count(VXG_CNT_DROP_MIRROR_OVERSIZE, skb->len);
		mirror_count(slot, VXG_MIRROR_STAT_OVERSIZE, 0);
		return TC_ACT_SHOT;
	}
	count(VXG_CNT_MIRROR_TERMINATED, skb->len);
	mirror_count(slot, VXG_MIRROR_STAT_TERMINATED, skb->len);
	return bpf_redirect(out_if, 0);
}
