/* Admission and classification: which port role, which VNI, and whether the
 * frame is ours at all. Access frames get their VNI from the port (untagged)
 * or the (port, VLAN) table; overlay frames must be VXLAN to our VTEP address
 * and our uplink's MAC, from an admitted VTEP, and are decapsulated here so
 * everything after sees the inner frame. */
#ifndef VXG_CLASSIFY_P4
#define VXG_CLASSIFY_P4

control Classify(inout headers_t hdr, inout metadata_t meta, inout standard_metadata_t sm) {
	globals_lookup() globals_l;
	ports_lookup() ports_l;
#if VXG_FEATURE_VLAN
	vlans_lookup() vlans_l;
#endif
	vnis_lookup() vnis_l;
	vteps_lookup() vteps_l;
#if VXG_FEATURE_MIRROR
	mirror_term_lookup() mirror_term_l;
#endif

	action drop_counted(bit<32> reason) {
		vxg_counters.count(reason);
		mark_to_drop(sm);
	}

	apply {
		bool gbp = false;
		globals_params_t g;
		bool g_hit;
		globals_key_t gk;
		gk.index = 0;
		globals_l.apply(gk, g, g_hit);
		meta.vtep_ip = g.vtep_ip;
		meta.udp_port = g.udp_port;
		meta.igmp_rate = g.igmp_rate;
		meta.replicator_ip = g.replicator_ip;

		ports_params_t port;
		bool port_hit;
		port_key_t pk;
		pk.ifindex = meta.in_port;
		ports_l.apply(pk, port, port_hit);
		if (!port_hit || !g_hit) {
			mark_to_drop(sm);
			exit;
		}
		meta.role = port.role;
		meta.port_mac = port.mac;
		meta.port_full = port.learn_full != 0;
		/* bmv2 captures a port in both directions: what this switch (its
		 * control plane, the kernel) sent out of the port comes back here */
		if (hdr.eth.src == port.mac) {
			vxg_counters.count(VXG_CNT_IGNORED_OWN_TX);
			mark_to_drop(sm);
			exit;
		}

		if (port.role == VXG_PORT_ROLE_ACCESS) {
			vxg_counters.count(VXG_CNT_ACCESS_RX);
			if (hdr.vlan.isValid()) {
				meta.in_vlan = (bit<16>) hdr.vlan.vid;
#if VXG_FEATURE_VLAN
				vlans_params_t v;
				bool v_hit;
				vlan_key_t vk;
				vk.ifindex = meta.in_port;
				vk.vlan = meta.in_vlan;
				vlans_l.apply(vk, v, v_hit);
				meta.vni = v_hit ? v.vni : 0;
#else
				meta.vni = 0;
#endif
			} else {
				meta.vni = port.vni;
			}
			if (meta.vni == 0) {
				drop_counted(VXG_CNT_DROP_NO_PORT_VNI);
				exit;
			}
			meta.inner_len = sm.packet_length - (hdr.vlan.isValid() ? 32w4 : 32w0);
		} else {
			/* the kernel keeps everything on the uplink that is not VXLAN to us
			 * (it sees every frame bmv2 sees) */
#if VXG_FEATURE_MCAST
			meta.to_replicator = meta.replicator_ip != 0 && hdr.ipv4.dst == meta.replicator_ip;
#endif
			if (!hdr.vxlan.isValid() || (hdr.ipv4.dst != meta.vtep_ip && !meta.to_replicator) || hdr.udp.dst_port != meta.udp_port) {
				vxg_counters.count(VXG_CNT_UPLINK_PASS_KERNEL);
				mark_to_drop(sm);
				exit;
			}
			vxg_counters.count(VXG_CNT_UPLINK_RX);
			if (hdr.eth.dst != meta.port_mac) {
				drop_counted(VXG_CNT_DROP_OUTER_DST_MAC);
				exit;
			}
			if (sm.checksum_error == 1 || hdr.vlan.isValid() || !hdr.inner_eth.isValid()) {
				drop_counted(VXG_CNT_DROP_MALFORMED);
				exit;
			}
#if VXG_FEATURE_MIRROR
			/* Group Policy: a mirror copy for a local monitoring server, or nothing we take */
			gbp = hdr.vxlan.flags == (VXLAN_FLAG_G | VXLAN_FLAG_I);
#endif
			if (hdr.vxlan.flags != VXLAN_FLAG_I && !gbp) {
				drop_counted(VXG_CNT_DROP_BAD_VXLAN);
				exit;
			}
			if (hdr.ipv4.src == 0 || hdr.ipv4.src[31:24] == 127 || hdr.ipv4.src[31:28] >= 14 || hdr.ipv4.src == meta.vtep_ip) {
				drop_counted(VXG_CNT_DROP_BAD_OUTER_SRC);
				exit;
			}
			meta.from_uplink = true;
			meta.vni = (bit<32>) hdr.vxlan.vni;
			meta.remote = hdr.ipv4.src;
		}

#if VXG_FEATURE_MIRROR
		mirror_term_params_t term;
		bool term_hit = false;
		if (gbp) {
			mirror_term_key_t mk;
			mk.host_id = (bit<32>) hdr.vxlan.reserved[15:0];
			mirror_term_l.apply(mk, term, term_hit);
			if (!term_hit) {
				drop_counted(VXG_CNT_DROP_MIRROR_UNKNOWN_ID);
				exit;
			}
		}
#endif

		vnis_params_t vc;
		bool vc_hit;
		vni_key_t nk;
		nk.vni = meta.vni;
		vnis_l.apply(nk, vc, vc_hit);
		if (!vc_hit && !gbp) {
			drop_counted(VXG_CNT_DROP_UNKNOWN_VNI);
			exit;
		}
		meta.vni_flags = vc.flags;
		meta.mgrp = vc.mgrp;
		meta.vni_full = vc.learn_full != 0;

		if (meta.from_uplink) {
			/* flood-and-learn VNIs take any VTEP; others only admitted ones; a
			 * mirror copy any VTEP the switch knows (VNI 0 lists them all) */
			if (gbp || (vc.flags & VXG_VNI_LEARN_REMOTE) == 0) {
				vteps_params_t vt;
				bool vt_hit;
				vtep_key_t tk;
				tk.vni = gbp ? 32w0 : meta.vni;
				tk.remote = meta.remote;
				vteps_l.apply(tk, vt, vt_hit);
				if (!vt_hit) {
#if VXG_FEATURE_MIRROR
					if (gbp)
						mirror_count(term.slot, VXG_MIRROR_STAT_OTHER);
#endif
					drop_counted(gbp ? (bit<32>) VXG_CNT_DROP_MIRROR_UNKNOWN_SRC : (bit<32>) VXG_CNT_DROP_SPOOF);
					exit;
				}
			}
			/* decapsulate: from here on the frame is the inner one */
			meta.inner_len = sm.packet_length - VXG_ENCAP_LEN;
			hdr.eth = hdr.inner_eth;
			hdr.inner_eth.setInvalid();
			hdr.vxlan.setInvalid();
			hdr.udp.setInvalid();
			hdr.ipv4 = hdr.inner_ipv4; /* invalid when the inner frame is not IPv4 */
			hdr.inner_ipv4.setInvalid();
#if VXG_FEATURE_MIRROR
			/* a terminated copy goes to the server's port only: never learned from, never flooded */
			if (gbp) {
				sm.egress_spec = (bit<9>) term.ifindex;
				meta.retag = true;
				meta.out_vlan = term.vlan;
				vxg_counters.count(VXG_CNT_MIRROR_TERMINATED);
				mirror_count(term.slot, VXG_MIRROR_STAT_TERMINATED);
				exit;
			}
#endif
		}
		if (hdr.eth.src[40:40] == 1 || hdr.eth.src == 0) {
			drop_counted(VXG_CNT_DROP_INVALID_SMAC);
			exit;
		}
		/* for our replication point: only group traffic of a snooping VNI */
		if (meta.to_replicator && ((meta.vni_flags & VXG_VNI_MCAST_SNOOP) == 0 || hdr.eth.dst[40:40] == 0 || !hdr.ipv4.isValid())) {
			drop_counted(VXG_CNT_DROP_BAD_VXLAN);
			exit;
		}
	}
}

#endif
