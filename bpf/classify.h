/* Access port classification: (ingress port, VLAN) -> VNI. 0 = not switched here. */
#pragma once

static __always_inline __u32 classify(__u32 ifindex, __u16 vlan)
{
	struct port_key pk = { .ifindex = ifindex };
	struct port_value *port = bpf_map_lookup_elem(&vxg_ports, &pk);
	if (!port || port->role != VXG_PORT_ROLE_ACCESS)
		return 0;
	if (!vlan)
		return port->vni;
#if VXG_FEATURE_VLAN
	struct vlan_key vk = { .ifindex = ifindex, .vlan = vlan };
	struct vlan_value *v = bpf_map_lookup_elem(&vxg_vlans, &vk);
	return v ? v->vni : 0;
#else
	return 0;
#endif
}

static __always_inline struct fdb_value *fdb_lookup(__u32 vni, const __u8 *mac)
{
	struct fdb_key k = { .vni = vni };
	mac_copy(k.mac, mac);
	return bpf_map_lookup_elem(&vxg_fdb, &k);
}

#if !VXG_FEATURE_VLAN
/* No trunks configured: every frame is untagged, so a retag is never needed. */
static __always_inline int xdp_retag(struct xdp_md *ctx, __u16 have, __u16 want)
{
	return have == want ? 0 : -1;
}
#endif
