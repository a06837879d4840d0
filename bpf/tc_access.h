/* Access port TC ingress: XDP hands up broadcast, multicast and unknown
 * unicast (copied to every local member of the VNI but the ingress, and one
 * VXLAN copy per remote VTEP), and frames that match mirror entries (copied to
 * their monitoring servers, then forwarded as XDP would have). */
#pragma once

SEC("tc")
int vxg_tc_access(struct __sk_buff *skb)
{
	__u32 in_if = skb->ingress_ifindex;
	__u16 vlan = skb->vlan_present ? (skb->vlan_tci & 0x0fff) : 0;
	__u32 vni = classify(in_if, vlan);
	if (!vni) {
		count(VXG_CNT_DROP_NO_PORT_VNI, skb->len);
		return TC_ACT_SHOT;
	}
	struct vni_key vk = { .vni = vni };
	struct vni_value *vc = bpf_map_lookup_elem(&vxg_vnis, &vk);
	struct globals_value *g = get_globals();
	if (!vc || !g) {
		count(VXG_CNT_DROP_UNKNOWN_VNI, skb->len);
		return TC_ACT_SHOT;
	}
	struct flood_ctx c = { .skb = skb, .g = g, .vni = vni, .in_if = in_if, .in_vlan = vlan, .cur_vlan = vlan };
	c.hash = bpf_get_hash_recalc(skb);
#if VXG_FEATURE_MIRROR
	if (vc->flags & (VXG_VNI_MIRROR_MAC | VXG_VNI_MIRROR_IP)) {
		int rc = tc_access_mirror(&c, vc);
		if (rc >= 0)
			return rc;
	}
#endif
	__u32 n = flood_bound(vc->flood_count);
	bpf_loop(n, flood_local_one, &c, 0);
	bpf_loop(n, flood_remote_one, &c, 0);
	return TC_ACT_SHOT;
}

