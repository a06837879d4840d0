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
		forward.apply(hdr, meta, sm);
	}
}

control VxgEgress(inout headers_t hdr, inout metadata_t meta, inout standard_metadata_t sm) {
	Punt() punt;
	Replicate() replicate;
	Encap() encap;

	apply {
		if (sm.instance_type == PKT_INSTANCE_TYPE_INGRESS_CLONE) {
			punt.apply(hdr, meta, sm);
		} else {
			if (sm.instance_type == PKT_INSTANCE_TYPE_REPLICATION)
				replicate.apply(hdr, meta, sm);
			encap.apply(hdr, meta, sm);
		}
	}
}

V1Switch(VxgParser(), VxgVerifyChecksum(), VxgIngress(), VxgEgress(), VxgComputeChecksum(), VxgDeparser()) main;
