/* Forwarding: known unicast to its local port or, VXLAN-encapsulated, to its
 * remote VTEP's next hop; broadcast, multicast and unknown unicast to the
 * VNI's flood group (the PRE makes the copies, egress rewrites each). The
 * overlay never hairpins back into the overlay. */
#ifndef VXG_FORWARD_P4
#define VXG_FORWARD_P4

control Forward(inout headers_t hdr, inout metadata_t meta, inout standard_metadata_t sm) {
	fdb_lookup() fdb_l;
	nexthops_lookup() nexthops_l;

	action drop_counted(bit<32> reason) {
		vxg_counters.count(reason);
		mark_to_drop(sm);
	}

	apply {
		/* outer UDP source port entropy: one value per inner flow */
		if (hdr.ipv4.isValid()) {
			hash(meta.flow_hash, HashAlgorithm.crc16, 16w0, { hdr.eth.src, hdr.eth.dst, hdr.ipv4.src, hdr.ipv4.dst, hdr.ipv4.protocol }, 32w65536);
		} else {
			hash(meta.flow_hash, HashAlgorithm.crc16, 16w0, { hdr.eth.src, hdr.eth.dst, hdr.eth.ether_type }, 32w65536);
		}
		/* group replication decided already (copies or none) */
		if (meta.mcast_done) {
			if (sm.mcast_grp == 0)
				mark_to_drop(sm);
			return;
		}
		/* no FDB entry has a group MAC: broadcast and multicast miss too */
		fdb_key_t k;
		k.vni = meta.vni;
		k.mac = hdr.eth.dst;
		fdb_params_t d;
		bool hit;
		fdb_l.apply(k, d, hit);
		if (!hit || hdr.eth.dst[40:40] == 1) {
			vxg_counters.count(VXG_CNT_BUM_TO_TC);
			if (meta.mgrp == 0) {
				mark_to_drop(sm);
			} else {
				sm.mcast_grp = meta.mgrp;
			}
			return;
		}
		if (d.kind == VXG_FDB_LOCAL) {
			if (!meta.from_uplink && d.ifindex == meta.in_port && d.vlan == meta.in_vlan) {
				drop_counted(VXG_CNT_DROP_SAME_PORT);
				return;
			}
			sm.egress_spec = (bit<9>) d.ifindex;
			meta.retag = true;
			meta.out_vlan = d.vlan;
			vxg_counters.count(meta.from_uplink ? (bit<32>) VXG_CNT_DECAP_FWD : (bit<32>) VXG_CNT_LOCAL_FWD);
			return;
		}
		if (meta.from_uplink) {
			drop_counted(VXG_CNT_DROP_HAIRPIN);
			return;
		}
		nexthop_key_t nk;
		nk.remote = d.remote;
		nexthops_params_t nh;
		bool nh_hit;
		nexthops_l.apply(nk, nh, nh_hit);
		if (!nh_hit) {
			/* a mirror copy already took the one ingress clone: it carries the event */
			if (meta.mirror_copy)
				note_event(meta, VXG_EVT_NO_NEIGH, 0, 0, 0, 0, d.remote);
			else
				punt_event(meta, VXG_EVT_NO_NEIGH, 0, 0, 0, 0, d.remote);
			drop_counted(VXG_CNT_DROP_NO_NEIGH);
			return;
		}
		sm.egress_spec = (bit<9>) nh.ifindex;
		meta.encap = true;
		meta.remote = d.remote;
		meta.nh_smac = nh.smac;
		meta.nh_dmac = nh.dmac;
		vxg_counters.count(VXG_CNT_ENCAP_FWD);
	}
}

#endif
