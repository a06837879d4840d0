/* Uplink TC ingress: BUM from the overlay that XDP handed up is decapsulated
 * and copied to the local members of its VNI only (split horizon). */
#pragma once

SEC("tc")
int vxg_tc_uplink(struct __sk_buff *skb)
{
	struct globals_value *g = get_globals();
	if (!g)
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
		/* mirror copies are XDP's alone: never flooded */
		count(VXG_CNT_DROP_BAD_VXLAN, skb->len);
		return TC_ACT_SHOT;
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
	/* exactly the inner frame: padding past the UDP payload goes. The shrink
	 * below needs 20 bytes after the inner Ethernet header (the kernel checks it
	 * against the outer IPv4 header size), so a runt shorter than that is padded
	 * to the Ethernet minimum of 60 bytes, as a physical port would pad it. */
	__u32 want_len = rx.frame_len < outer_len + 14 + 20 ? outer_len + 60 : rx.frame_len;
	if (skb->len != want_len && bpf_skb_change_tail(skb, want_len, 0)) {
		count(VXG_CNT_ERR_ADJUST, skb->len);
		return TC_ACT_SHOT;
	}
	/* decapsulate: drop the outer IP/UDP/VXLAN and the inner MAC header from
	 * behind the outer MAC header, then write the inner MAC header in its place */
	if (bpf_skb_adjust_room(skb, -(int)outer_len, BPF_ADJ_ROOM_MAC, 0)) {
		count(VXG_CNT_ERR_ADJUST, skb->len);
		return TC_ACT_SHOT;
	}
	if (bpf_skb_store_bytes(skb, 0, &inner, sizeof(inner), 0))
		return TC_ACT_SHOT;
	struct flood_ctx c = { .skb = skb, .g = g, .vni = rx.vni };
	bpf_loop(flood_bound(n), flood_local_one, &c, 0);
	return TC_ACT_SHOT;
}
