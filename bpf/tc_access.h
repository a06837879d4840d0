/* Access port TC ingress: XDP hands up broadcast, multicast and unknown
 * unicast (copied to every local member of the VNI but the ingress, and one
 * VXLAN copy per remote VTEP), frames that match mirror entries (copied to
 * their monitoring servers, then forwarded as XDP would have), and known
 * unicast that XDP cannot transmit on its way out (egress_via_tc: forwarded
 * here, as XDP would have). */
#pragma once

/* A known unicast destination: its one copy, through the skb path. */
static __always_inline int tc_access_unicast(struct flood_ctx *c, const struct fdb_value *dst)
{
	if (dst->kind == VXG_FDB_LOCAL) {
		if (dst->ifindex == c->in_if && dst->vlan == c->in_vlan) {
			count(VXG_CNT_DROP_SAME_PORT, c->skb->len);
			return TC_ACT_SHOT;
		}
		return tc_to_port(c, dst->ifindex, dst->vlan, VXG_CNT_LOCAL_FWD);
	}
	__be32 remote = dst->remote;
	int rc = tc_encap_once(c);
	if (rc == 0)
		rc = tc_vxlan_copy(c, remote, 0);
	if (rc == 0)
		count(VXG_CNT_ENCAP_FWD, c->inner_len);
	else
		count(-rc, c->skb->len);
	return TC_ACT_SHOT;
}

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
	struct ethhdr eth;
	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)))
		return TC_ACT_SHOT;
	if (!mac_is_multicast(eth.h_dest)) {
		struct fdb_value *dst = fdb_lookup(vni, eth.h_dest);
		if (dst)
			return tc_access_unicast(&c, dst);
	}
#if VXG_FEATURE_MCAST
	if ((vc->flags & VXG_VNI_MCAST_SNOOP) && eth.h_proto == bpf_htons(ETH_P_IP) && mac_is_multicast(eth.h_dest)) {
		int rc = tc_mcast(&c, vc, MCAST_FROM_ACCESS);
		if (rc >= 0)
			return rc;
	}
#endif
	__u32 n = flood_bound(vc->flood_count);
	bpf_loop(n, flood_local_one, &c, 0);
	bpf_loop(n, flood_remote_one, &c, 0);
	return TC_ACT_SHOT;
}

