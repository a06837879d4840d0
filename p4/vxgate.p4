/* The vxgate switch for v1model: wires the feature controls, nothing else.
 * Ingress classifies and admits (decapsulating overlay frames), learns, and
 * forwards or floods; egress builds packet-in copies, rewrites flood copies,
 * and tags or encapsulates whatever leaves. */

control VxgIngress(inout headers_t hdr, inout metadata_t meta, inout standard_metadata_t sm) {
	Classify() classify;
#if VXG_FEATURE_LEARNING
	Learn() learn;
#endif
#if VXG_FEATURE_MCAST
	Mcast() mcast;
#endif
#if VXG_FEATURE_MIRROR
	Mirror() mirror;
#endif
	Forward() forward;

	apply {
		meta.in_port = (bit<32>) sm.ingress_port;
		classify.apply(hdr, meta, sm);
#if VXG_FEATURE_LEARNING
		learn.apply(hdr, meta, sm);
#endif
#if VXG_FEATURE_MCAST
		mcast.apply(hdr, meta, sm);
#endif
#if VXG_FEATURE_MIRROR
		mirror.apply(hdr, meta, sm);
#endif
		forward.apply(hdr, meta, sm);
	}
}

control VxgEgress(inout headers_t hdr, inout metadata_t meta, inout standard_metadata_t sm) {
	Punt() punt;
	Replicate() replicate;
	Encap() encap;
#if VXG_FEATURE_MIRROR
	MirrorCopy() mirror_copy;
#endif

	apply {
#if VXG_FEATURE_MIRROR
		if (sm.instance_type == PKT_INSTANCE_TYPE_INGRESS_CLONE && meta.mirror_copy) {
			mirror_copy.apply(hdr, meta, sm);
			encap.apply(hdr, meta, sm);
			/* the event the ingress clone would have carried goes on from here */
			if (meta.evt_kind != 0)
				clone_preserving_field_list(CloneType.E2E, VXG_CPU_SESSION, VXG_FL_PUNT);
			return;
		}
#endif
		if (sm.instance_type == PKT_INSTANCE_TYPE_INGRESS_CLONE || sm.instance_type == PKT_INSTANCE_TYPE_EGRESS_CLONE) {
			punt.apply(hdr, meta, sm);
		} else {
			if (sm.instance_type == PKT_INSTANCE_TYPE_REPLICATION)
				replicate.apply(hdr, meta, sm);
			encap.apply(hdr, meta, sm);
		}
	}
}

V1Switch(VxgParser(), VxgVerifyChecksum(), VxgIngress(), VxgEgress(), VxgComputeChecksum(), VxgDeparser()) main;
