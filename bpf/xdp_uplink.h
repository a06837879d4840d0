/* Uplink ingress (XDP): take only VXLAN addressed to this VTEP; everything else
 * (BGP, ARP for the underlay, management) goes to the kernel untouched. Admit,
 * learn the inner source against the outer source IP, and decapsulate
 * known-unicast frames straight to the local port. BUM goes to the TC stage. */
#pragma once

/* The kernel drops a frame whose destination MAC is not its port's
 * (PACKET_OTHERHOST) before IP sees it, so neither does the overlay take
 * one. A broadcast or multicast outer destination goes too: the VTEP address
 * is unicast, and a host should discard a unicast datagram that came as a
 * link-layer broadcast (RFC 1122 3.3.6; the kernel does with
 * drop_unicast_in_l2_multicast). */
static __always_inline int outer_dst_is_us(struct xdp_md *ctx, const struct globals_value *g, const struct ethhdr *eth)
{
	/* the first uplink's MAC is in the globals at hand: no lookup for most frames */
	if (ctx->ingress_ifindex == g->fib_ifindex)
		return mac_equal(eth->h_dest, g->uplink_mac);
	struct port_key pk = { .ifindex = ctx->ingress_ifindex };
	struct port_value *port = bpf_map_lookup_elem(&vxg_ports, &pk);
	return port && mac_equal(eth->h_dest, port->mac);
}

SEC("xdp")
int vxg_xdp_uplink(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 len = end - data;
	struct vxlan_rx rx;

	struct globals_value *g = get_globals();
	if (!g)
		return XDP_PASS;
	int rc = parse_vxlan(data, end, g, &rx);
	if (rc == VXLAN_NOT_OURS) {
		count(VXG_CNT_UPLINK_PASS_KERNEL, len);
		return XDP_PASS;
	}
	count(VXG_CNT_UPLINK_RX, len);
	if (!outer_dst_is_us(ctx, g, data)) {
		count(VXG_CNT_DROP_OUTER_DST_MAC, len);
		return XDP_DROP;
	}
	if (rc < 0) {
		count(-rc, len);
		return XDP_DROP;
	}
	if (rx.gbp) {
		/* a mirror copy for a local monitoring server, or nothing we take
		 * (a stock Linux VTEP without gbp drops these too) */
#if VXG_FEATURE_MIRROR
		return mirror_terminate(ctx, &rx, len);
#else
		count(VXG_CNT_DROP_BAD_VXLAN, len);
		return XDP_DROP;
#endif
	}
	struct vni_value *vc;
	rc = overlay_admit(&rx, &vc);
	if (rc < 0) {
		count(-rc, len);
		return XDP_DROP;
	}
	__u32 outer_len = rx.outer_len;
	if (outer_len > 14 + 60 + 16)
		return XDP_DROP;
	struct ethhdr *inner = xdp_inner_eth(ctx, &rx, len);
	if (!inner)
		return XDP_DROP;
	if (mac_is_multicast(inner->h_source) || mac_is_zero(inner->h_source)) {
		count(VXG_CNT_DROP_INVALID_SMAC, len);
		return XDP_DROP;
	}
#if VXG_FEATURE_LEARNING
	if ((vc->flags & VXG_VNI_LEARN_REMOTE) && learn_remote(rx.vni, inner->h_source, rx.outer_src))
		return XDP_DROP; /* a new source beyond its VNI's limit */
#endif
	/* a leaf's one copy of a group packet: TC delivers and fans it out */
	if (mac_is_multicast(inner->h_dest) || rx.to_replicator) {
		count(VXG_CNT_BUM_TO_TC, len);
		return XDP_PASS;
	}
	struct fdb_value *dst = fdb_lookup(rx.vni, inner->h_dest);
	if (!dst) {
		count(VXG_CNT_BUM_TO_TC, len);
		return XDP_PASS;
	}
	if (dst->kind != VXG_FDB_LOCAL) {
		/* split horizon: the overlay never hairpins back into the overlay */
		count(VXG_CNT_DROP_HAIRPIN, len);
		return XDP_DROP;
	}
	__u32 out_if = dst->ifindex;
	__u16 out_vlan = dst->vlan;
	__u32 inner_len = rx.frame_len - outer_len;
	if (xdp_egress_mtu_check(ctx, out_if, inner_len + (out_vlan ? VXG_VLAN_HLEN : 0), len, VXG_CNT_DROP_EGRESS_MTU))
		return XDP_DROP;
	/* decided before the frame changes: TC takes it as it came */
	int act = xdp_egress(out_if, len);
	if (act != XDP_REDIRECT)
		return act;
	if (xdp_decap(ctx, &rx, len, out_vlan))
		return XDP_DROP;
	count(VXG_CNT_DECAP_FWD, inner_len);
	return XDP_REDIRECT;
}
