/* Learning: the source MAC against where it came from (port and VLAN, or the
 * outer source VTEP). bmv2 cannot write a table from the data path, so a new
 * or moved MAC becomes a packet-in event and the target writes the entry, as
 * the eBPF program would have. Static and frozen entries never move. */
#ifndef VXG_LEARN_P4
#define VXG_LEARN_P4

control Learn(inout headers_t hdr, inout metadata_t meta, inout standard_metadata_t sm) {
	fdb_src_lookup() fdb_src_l;

	apply {
		bool wanted = meta.from_uplink ? ((meta.vni_flags & VXG_VNI_LEARN_REMOTE) != 0) : ((meta.vni_flags & VXG_VNI_LEARN_LOCAL) != 0);
		if (!wanted)
			return;
		bit<8> kind = meta.from_uplink ? (bit<8>) VXG_FDB_REMOTE : (bit<8>) VXG_FDB_LOCAL;
		bit<32> ifindex = meta.from_uplink ? 32w0 : meta.in_port;
		bit<32> remote = meta.from_uplink ? meta.remote : 32w0;
		bit<16> vlan = meta.from_uplink ? 16w0 : meta.in_vlan;
		fdb_src_params_t cur;
		bool hit;
		fdb_key_t k;
		k.vni = meta.vni;
		k.mac = hdr.eth.src;
		fdb_src_l.apply(k, cur, hit);
		if (!hit) {
			/* port security's "restrict": a new source beyond its port's or VNI's max_macs is dropped */
			if (meta.vni_full || (!meta.from_uplink && meta.port_full)) {
				vxg_counters.count(VXG_CNT_DROP_MAC_LIMIT);
				mark_to_drop(sm);
				exit;
			}
			punt_event(meta, VXG_EVT_LEARN, meta.vni, hdr.eth.src, vlan, ifindex, remote);
		} else if (cur.kind != kind || cur.ifindex != ifindex || cur.remote != remote || cur.vlan != vlan) {
			if ((cur.flags & (VXG_FDB_STATIC | VXG_FDB_FROZEN)) != 0) {
				vxg_counters.count(VXG_CNT_DROP_STATIC_CONFLICT);
			} else {
				punt_event(meta, VXG_EVT_MOVE, meta.vni, hdr.eth.src, vlan, ifindex, remote);
			}
		}
	}
}

#endif
