/* Uplink ingress (XDP): take only VXLAN addressed to this VTEP; everything else
 * (BGP, ARP for the underlay, management) goes to the kernel untouched. Admit,
 * learn the inner source against the outer source IP, and decapsulate
 * known-unicast frames straight to the local port. BUM goes to the TC stage. */
#pragma once

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
	struct ethhdr *inner = data + outer_len;
	if ((void *)(inner + 1) > end) {
		count(VXG_CNT_DROP_MALFORMED, len);
		return XDP_DROP;
	}
	if (inner->h_proto == bpf_htons(VXG_ETH_P_8021Q) || inner->h_proto == bpf_htons(VXG_ETH_P_8021AD)) {
		/* RFC 7348 §6.1: decapsulated frames with an inner VLAN tag are discarded */
		count(VXG_CNT_DROP_MALFORMED, len);
		return XDP_DROP;
	}
	if (mac_is_multicast(inner->h_source) || mac_is_zero(inner->h_source)) {
		count(VXG_CNT_DROP_INVALID_SMAC, len);
		return XDP_DROP;
	}
#if VXG_FEATURE_LEARNING
	if (vc->flags & VXG_VNI_LEARN_REMOTE)
		learn_remote(rx.vni, inner->h_source, rx.outer_src);
#endif
	if (mac_is_multicast(inner->h_dest)) {
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
	/* trailing bytes beyond the UDP payload (Ethernet padding) are not part of the inner frame */
	if (len > rx.frame_len && bpf_xdp_adjust_tail(ctx, -(int)(len - rx.frame_len))) {
		count(VXG_CNT_ERR_ADJUST, len);
		return XDP_DROP;
	}
	if (bpf_xdp_adjust_head(ctx, (int)outer_len)) {
		count(VXG_CNT_ERR_ADJUST, len);
		return XDP_DROP;
	}
	if (xdp_retag(ctx, 0, out_vlan)) {
		count(VXG_CNT_ERR_ADJUST, len);
		return XDP_DROP;
	}
	count(VXG_CNT_DECAP_FWD, rx.frame_len - outer_len);
	return bpf_redirect(out_if, 0);
}
