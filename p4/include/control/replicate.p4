/* Egress of a flood copy: the PRE made one per node of the VNI's group; the
 * copy's (group, egress_rid) says what it becomes. Split horizon: nothing from
 * the overlay goes back into it, nothing goes back out where it came in. */
#ifndef VXG_REPLICATE_P4
#define VXG_REPLICATE_P4

control Replicate(inout headers_t hdr, inout metadata_t meta, inout standard_metadata_t sm) {
	replicas_lookup() replicas_l;

	apply {
		replica_key_t k;
		k.mgrp = sm.mcast_grp;
		k.rid = sm.egress_rid;
		replicas_params_t r;
		bool hit;
		replicas_l.apply(k, r, hit);
		if (!hit) {
			mark_to_drop(sm);
			exit;
		}
		if (r.kind == VXG_FLOOD_REMOTE) {
			/* the overlay never goes back into the overlay, but a leaf's copy to
			 * our replication point fans out to every member switch but the sender */
			if ((meta.from_uplink && !meta.to_replicator) || meta.local_only || (meta.to_replicator && r.remote == meta.remote)) {
				mark_to_drop(sm);
				exit;
			}
			meta.encap = true;
			/* fan-out keeps the sender as outer source: receivers admit and learn it */
			meta.outer_src = meta.to_replicator ? meta.remote : meta.vtep_ip;
			meta.remote = r.remote;
			meta.nh_smac = r.smac;
			meta.nh_dmac = r.dmac;
		} else {
			if (!meta.from_uplink && (bit<32>) sm.egress_port == meta.in_port && r.vlan == meta.in_vlan) {
				mark_to_drop(sm);
				exit;
			}
			meta.retag = true;
			meta.out_vlan = r.vlan;
		}
		bool remote = r.kind == VXG_FLOOD_REMOTE;
#if VXG_FEATURE_MCAST
		if (meta.mcast_group) {
			vxg_counters.count(remote ? (bit<32>) VXG_CNT_MCAST_REMOTE_COPY : (bit<32>) VXG_CNT_MCAST_LOCAL_COPY);
			mcast_copies.count(meta.mcast_slot * 2 + (remote ? 32w1 : 32w0));
			return;
		}
#endif
		vxg_counters.count(remote ? (bit<32>) VXG_CNT_FLOOD_REMOTE_COPY : (bit<32>) VXG_CNT_FLOOD_LOCAL_COPY);
	}
}

#endif
