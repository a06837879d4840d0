/* Match-mirror-encap (the eBPF side is bpf/mirror.h and bpf/tc_mirror.h).
 * Access frames of a VNI with mirror entries are looked up by source and
 * destination MAC and IPv4; a match sends one copy to the session's
 * monitoring server: out of its port when it is local, VXLAN with Group
 * Policy (G, D, the HOST ID) to its switch otherwise. The copy is an ingress
 * clone through the session of its egress port; the original goes on as it
 * would have. A frame matching entries of two servers copies to the first
 * (source MAC, destination MAC, source IP, destination IP): v1model makes one
 * ingress clone per packet. Termination of copies from the overlay is in
 * classify.p4. */
#ifndef VXG_MIRROR_P4
#define VXG_MIRROR_P4

control Mirror(inout headers_t hdr, inout metadata_t meta, inout standard_metadata_t sm) {
	mirror_src_lookup() src_l;
	mirror_dst_lookup() dst_l;
	mirror_ip_src_lookup() ip_src_l;
	mirror_ip_dst_lookup() ip_dst_l;
	mirror_nexthops_lookup() nh_l;

	apply {
		if (meta.from_uplink || (meta.vni_flags & (VXG_VNI_MIRROR_MAC | VXG_VNI_MIRROR_IP)) == 0)
			return;
		/* an IGMP frame's one ingress clone is its packet-in (its frame must reach the control plane) */
		if (meta.evt_kind == VXG_EVT_IGMP)
			return;
		bool hit = false;
		bit<8> kind = 0;
		bit<16> vlan = 0;
		bit<32> ifindex = 0;
		bit<32> remote = 0;
		bit<16> host_id = 0;
		bit<16> slot = 0;
		if ((meta.vni_flags & VXG_VNI_MIRROR_MAC) != 0) {
			mirror_key_t k;
			k.vni = meta.vni;
			k.mac = hdr.eth.src;
			k.dir = VXG_MIRROR_SRC;
			mirror_src_params_t a;
			src_l.apply(k, a, hit);
			if (hit) {
				kind = a.kind; vlan = a.vlan; ifindex = a.ifindex; remote = a.remote; host_id = a.host_id; slot = a.slot;
			} else if (hdr.eth.dst[40:40] == 0) {
				k.mac = hdr.eth.dst;
				k.dir = VXG_MIRROR_DST;
				mirror_dst_params_t b;
				dst_l.apply(k, b, hit);
				kind = b.kind; vlan = b.vlan; ifindex = b.ifindex; remote = b.remote; host_id = b.host_id; slot = b.slot;
			}
		}
		if (!hit && (meta.vni_flags & VXG_VNI_MIRROR_IP) != 0 && hdr.ipv4.isValid()) {
			mirror_ip_key_t k;
			k.vni = meta.vni;
			k.ip = hdr.ipv4.src;
			k.dir = VXG_MIRROR_SRC;
			mirror_ip_src_params_t a;
			ip_src_l.apply(k, a, hit);
			if (hit) {
				kind = a.kind; vlan = a.vlan; ifindex = a.ifindex; remote = a.remote; host_id = a.host_id; slot = a.slot;
			} else {
				k.ip = hdr.ipv4.dst;
				k.dir = VXG_MIRROR_DST;
				mirror_ip_dst_params_t b;
				ip_dst_l.apply(k, b, hit);
				kind = b.kind; vlan = b.vlan; ifindex = b.ifindex; remote = b.remote; host_id = b.host_id; slot = b.slot;
			}
		}
		if (!hit)
			return;
		if (kind == VXG_MIRROR_NO_SERVER) {
			vxg_counters.count(VXG_CNT_DROP_MIRROR_NO_SERVER);
			mirror_count(slot, VXG_MIRROR_STAT_NO_SERVER);
			return;
		}
		bit<32> port;
		if (kind == VXG_MIRROR_TO_LOCAL) {
			/* never back out of the port it came in on */
			if (ifindex == meta.in_port && vlan == meta.in_vlan)
				return;
			port = ifindex;
		} else {
			nexthop_key_t nk;
			nk.remote = remote;
			mirror_nexthops_params_t nh;
			bool nh_hit;
			nh_l.apply(nk, nh, nh_hit);
			if (!nh_hit) {
				vxg_counters.count(VXG_CNT_DROP_NO_NEIGH);
				mirror_count(slot, VXG_MIRROR_STAT_OTHER);
				return;
			}
			port = nh.ifindex;
			meta.mirror_smac = nh.smac;
			meta.mirror_dmac = nh.dmac;
		}
		meta.mirror_copy = true;
		meta.mirror_kind = kind;
		meta.mirror_vlan = vlan;
		meta.mirror_remote = remote;
		meta.mirror_host_id = host_id;
		meta.mirror_slot = (bit<32>) slot;
		/* replaces a learning packet-in: the copy's egress hands the event on */
		clone_preserving_field_list(CloneType.I2E, VXG_MIRROR_SESSION_BASE + port, VXG_FL_MIRROR);
	}
}

/* Egress of a mirror copy: the server's VLAN, or the Group Policy encapsulation. */
control MirrorCopy(inout headers_t hdr, inout metadata_t meta, inout standard_metadata_t sm) {
	apply {
		if (meta.mirror_kind == VXG_MIRROR_TO_LOCAL) {
			meta.retag = true;
			meta.out_vlan = meta.mirror_vlan;
			vxg_counters.count(VXG_CNT_MIRROR_COPY_LOCAL);
			mirror_count((bit<16>) meta.mirror_slot, VXG_MIRROR_STAT_COPY_LOCAL);
		} else {
			meta.encap = true;
			meta.remote = meta.mirror_remote;
			meta.nh_smac = meta.mirror_smac;
			meta.nh_dmac = meta.mirror_dmac;
			meta.gbp_id = meta.mirror_host_id;
			vxg_counters.count(VXG_CNT_MIRROR_COPY_REMOTE);
			mirror_count((bit<16>) meta.mirror_slot, VXG_MIRROR_STAT_COPY_REMOTE);
		}
	}
}

#endif
