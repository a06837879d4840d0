/* Access port ingress (XDP): classify to a VNI, learn the source, then forward
 * one-in-one-out: to a local port, or VXLAN-encapsulated to the remote VTEP.
 * Broadcast, multicast and unknown unicast go up to the TC stage on this port,
 * which makes the copies. */
#pragma once

/* Encapsulate the frame (tagged `vlan` on the access port) in place and send
 * it to `remote`. The VNI replaces the VLAN: the inner frame travels untagged. */
static __always_inline int xdp_encap(struct xdp_md *ctx, struct globals_value *g, __u32 vni, __be32 remote, __u32 hash, __u16 vlan)
{
	struct vxlan_encap h = {};
	__u32 len = ctx->data_end - ctx->data;
	__u32 inner_len = len - (vlan ? VXG_VLAN_HLEN : 0);
	encap_fill(&h, g, remote, vni, inner_len, hash);
	/* the FIB lookup also checks the outer packet against the route's MTU */
	int out = encap_resolve(ctx, &h, g, inner_len + VXG_ENCAP_LEN);
	if (out < 0) {
		if (out == -VXG_CNT_DROP_NO_NEIGH)
			report_no_neigh(g, remote);
		count(-out, inner_len);
		return XDP_DROP;
	}
	/* decided before the frame changes: TC takes it as it came */
	int act = xdp_egress(out, len);
	if (act != XDP_REDIRECT)
		return act;
	if (xdp_retag(ctx, vlan, 0)) {
		count(VXG_CNT_ERR_ADJUST, len);
		return XDP_DROP;
	}
	if (bpf_xdp_adjust_head(ctx, -(int)VXG_ENCAP_LEN)) {
		count(VXG_CNT_ERR_ADJUST, inner_len);
		return XDP_DROP;
	}
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	if (data + VXG_ENCAP_LEN > end)
		return XDP_DROP;
	__builtin_memcpy(data, &h, VXG_ENCAP_LEN);
	count(VXG_CNT_ENCAP_FWD, inner_len);
	return XDP_REDIRECT;
}

SEC("xdp")
int vxg_xdp_access(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 len = end - data;
	struct l2_info l2;

	count(VXG_CNT_ACCESS_RX, len);
	if (parse_l2(data, end, &l2)) {
		count(VXG_CNT_DROP_MALFORMED, len);
		return XDP_DROP;
	}
	struct ethhdr *eth = data;
	__u32 in_if = ctx->ingress_ifindex;
	__u32 vni = classify(in_if, l2.vlan);
	if (!vni) {
		count(VXG_CNT_DROP_NO_PORT_VNI, len);
		return XDP_DROP;
	}
	if (mac_is_multicast(eth->h_source) || mac_is_zero(eth->h_source)) {
		count(VXG_CNT_DROP_INVALID_SMAC, len);
		return XDP_DROP;
	}
#if VXG_FEATURE_LEARNING || VXG_FEATURE_MIRROR
	struct vni_key vk = { .vni = vni };
	struct vni_value *vc = bpf_map_lookup_elem(&vxg_vnis, &vk);
	__u32 vflags = vc ? vc->flags : 0;
#endif
#if VXG_FEATURE_LEARNING
	if ((vflags & VXG_VNI_LEARN_LOCAL) && learn_local(vni, eth->h_source, in_if, l2.vlan))
		return XDP_DROP; /* a new source beyond its port's or VNI's limit */
#endif
#if VXG_FEATURE_MIRROR
	/* the one check unmonitored traffic pays: does its VNI have mirror entries? */
	if ((vflags & (VXG_VNI_MIRROR_MAC | VXG_VNI_MIRROR_IP)) && mirror_wanted_xdp(vni, vflags, data, end, &l2)) {
		count(VXG_CNT_MIRROR_TO_TC, len);
		return XDP_PASS;
	}
#endif
	if (mac_is_multicast(eth->h_dest)) {
		count(VXG_CNT_BUM_TO_TC, len);
		return XDP_PASS;
	}
	struct fdb_value *dst = fdb_lookup(vni, eth->h_dest);
	if (!dst) {
		count(VXG_CNT_BUM_TO_TC, len);
		return XDP_PASS;
	}
	if (dst->kind == VXG_FDB_LOCAL) {
		__u32 out_if = dst->ifindex;
		__u16 out_vlan = dst->vlan;
		if (out_if == in_if && out_vlan == l2.vlan) {
			count(VXG_CNT_DROP_SAME_PORT, len);
			return XDP_DROP;
		}
		__u32 out_len = len - (l2.vlan ? VXG_VLAN_HLEN : 0) + (out_vlan ? VXG_VLAN_HLEN : 0);
		if (xdp_egress_mtu_check(ctx, out_if, out_len, len, VXG_CNT_DROP_EGRESS_MTU))
			return XDP_DROP;
		int act = xdp_egress(out_if, len);
		if (act != XDP_REDIRECT)
			return act;
		if (xdp_retag(ctx, l2.vlan, out_vlan)) {
			count(VXG_CNT_ERR_ADJUST, len);
			return XDP_DROP;
		}
		count(VXG_CNT_LOCAL_FWD, len);
		return XDP_REDIRECT;
	}
	__be32 remote = dst->remote;
	struct globals_value *g = get_globals();
	if (!g)
		return XDP_DROP;
	__u32 hash = inner_flow_hash(data, end, &l2);
	return xdp_encap(ctx, g, vni, remote, hash, l2.vlan);
}
