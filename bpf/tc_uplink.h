/* Uplink TC ingress: BUM from the overlay that XDP handed up is decapsulated
 * and copied to the local members of its VNI only (split horizon). A known
 * unicast frame (or a mirror copy) comes up only when XDP cannot transmit on
 * its port: it is decapsulated to that port alone. */
#pragma once

SEC("tc")
int vxg_tc_uplink(struct __sk_buff *skb)
{
	struct globals_value *g = get_globals();
	if (!g)
		return TC_ACT_OK;
	/* XDP parses untagged outer frames only: a tagged one (802.1Q, 802.1ad,
	 * priority tag; the kernel has moved the tag into the skb by now) was left
	 * to the kernel, and it stays the kernel's. A tagged underlay is an uplink
	 * that is a VLAN device (eth0.100), where XDP sees the frames untagged. */
	if (skb->vlan_present)
		return TC_ACT_OK;
	__u32 want = skb->len < 128 ? skb->len : 128;
	bpf_skb_pull_data(skb, want);
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct vxlan_rx rx;
	int rc = parse_vxlan(data, end, g, &rx);
	if (rc == VXLAN_NOT_OURS)
		return TC_ACT_OK;
	if (rc < 0) {
		count(-rc, skb->len);
		return TC_ACT_SHOT;
	}
	if (rx.gbp) {
		/* mirror copies are never flooded */
#if VXG_FEATURE_MIRROR
		return tc_mirror_terminate(skb, &rx);
#else
		count(VXG_CNT_DROP_BAD_VXLAN, skb->len);
		return TC_ACT_SHOT;
#endif
	}
	struct vni_value *vc;
	rc = overlay_admit(&rx, &vc);
	if (rc < 0) {
		count(-rc, skb->len);
		return TC_ACT_SHOT;
	}
	__u32 n = vc->flood_count;
	__u32 outer_len = rx.outer_len;
	if (outer_len > 14 + 60 + 16)
		return TC_ACT_SHOT;
	struct ethhdr inner;
	if (bpf_skb_load_bytes(skb, outer_len, &inner, sizeof(inner)))
		return TC_ACT_SHOT;
	if (inner.h_proto == bpf_htons(VXG_ETH_P_8021Q) || inner.h_proto == bpf_htons(VXG_ETH_P_8021AD)) {
		count(VXG_CNT_DROP_MALFORMED, skb->len);
		return TC_ACT_SHOT;
	}
#if VXG_FEATURE_MCAST
	/* for our replication point: only group traffic of a snooping VNI comes here */
	if (rx.to_replicator && (!(vc->flags & VXG_VNI_MCAST_SNOOP) || !mac_is_multicast(inner.h_dest) || inner.h_proto != bpf_htons(ETH_P_IP))) {
		count(VXG_CNT_DROP_BAD_VXLAN, skb->len);
		return TC_ACT_SHOT;
	}
#else
	if (rx.to_replicator) {
		count(VXG_CNT_DROP_BAD_VXLAN, skb->len);
		return TC_ACT_SHOT;
	}
#endif
	struct fdb_value *dst = mac_is_multicast(inner.h_dest) ? 0 : fdb_lookup(rx.vni, inner.h_dest);
	__u32 out_if = 0;
	__u16 out_vlan = 0;
	if (dst) {
		if (dst->kind != VXG_FDB_LOCAL) {
			count(VXG_CNT_DROP_HAIRPIN, skb->len);
			return TC_ACT_SHOT;
		}
		out_if = dst->ifindex;
		out_vlan = dst->vlan;
	}
	if (tc_decap(skb, &rx, &inner))
		return TC_ACT_SHOT;
	struct flood_ctx c = { .skb = skb, .g = g, .vni = rx.vni };
	if (out_if)
		return tc_to_port(&c, out_if, out_vlan, VXG_CNT_DECAP_FWD);
#if VXG_FEATURE_MCAST
	if ((vc->flags & VXG_VNI_MCAST_SNOOP) && inner.h_proto == bpf_htons(ETH_P_IP) && mac_is_multicast(inner.h_dest)) {
		if (rx.to_replicator) {
			/* fan out keeping the sender as outer source (receivers admit and
			 * learn the true source), never back to the sender */
			c.outer_src = rx.outer_src;
			c.skip_remote = rx.outer_src;
		}
		int rc = tc_mcast(&c, vc, rx.to_replicator ? MCAST_FROM_LEAF : MCAST_FROM_OVERLAY);
		if (rc >= 0)
			return rc;
	}
#endif
	bpf_loop(flood_bound(n), flood_local_one, &c, 0);
	return TC_ACT_SHOT;
}
