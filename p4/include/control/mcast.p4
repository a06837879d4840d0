/* Per-group replication for VNIs with IGMP snooping (the eBPF side is
 * bpf/tc_mcast.h). IPv4 multicast to a group with an (S,G) or (*,G) entry
 * goes to the group's member list, a PRE group: member ports and, from an
 * access port, one VXLAN copy per member VTEP. IGMP and PIM from access ports
 * go to the control plane (at most igmp_rate per port and second); IGMP
 * reports and leaves then go to the mrouter ports only (RFC 4541 2.1.1),
 * queries and PIM hellos are flooded. Link-local groups are never snooped. */
#ifndef VXG_MCAST_P4
#define VXG_MCAST_P4

@name(".mcast_stats") counter(VXG_SIZE_MCAST_STATS, CounterType.packets_and_bytes) mcast_stats;
/* each group's copies: 2 * slot local, 2 * slot + 1 remote */
@name(".mcast_copies") counter(2 * VXG_SIZE_MCAST_STATS, CounterType.packets) mcast_copies;
/* the token bucket of each port's control frames */
register<bit<48>>(512) punt_tokens;
register<bit<48>>(512) punt_last_us;

control Mcast(inout headers_t hdr, inout metadata_t meta, inout standard_metadata_t sm) {
	mcast_lookup() sg_l;
	mcast_any_lookup() g_l;
	mcast_mrouter_lookup() mrouter_l;

	/* to the VNI's mrouter ports, never into the overlay */
	action to_mrouters(bool hit, bit<16> mgrp) {
		meta.mcast_done = true;
		meta.local_only = true;
		sm.mcast_grp = hit ? mgrp : 16w0;
	}

	apply {
		if ((meta.vni_flags & VXG_VNI_MCAST_SNOOP) == 0 || !hdr.ipv4.isValid() || hdr.ipv4.dst[31:28] != 14)
			return;
		mcast_key_t mk;
		mk.vni = meta.vni;
		mk.group = 0;
		mk.source = 0;
		mcast_mrouter_params_t mr;
		bool mr_hit;
		mrouter_l.apply(mk, mr, mr_hit);

		if (!meta.from_uplink && (hdr.ipv4.protocol == IP_PROTO_IGMP || hdr.ipv4.protocol == IP_PROTO_PIM)) {
			/* a second's worth of tokens at most; refilled by elapsed time (2^20 us ~ 1 s) */
			bit<32> port = (bit<32>) sm.ingress_port;
			bit<48> tokens;
			bit<48> last;
			punt_tokens.read(tokens, port);
			punt_last_us.read(last, port);
			bit<48> now = sm.ingress_global_timestamp;
			bit<48> rate = (bit<48>) meta.igmp_rate;
			bool allowed = true;
			if (rate != 0) {
				if (last == 0 || now - last >= 1000000) {
					tokens = rate;
					last = now;
				} else {
					bit<48> add = ((now - last) * rate) >> 20;
					if (add != 0) {
						tokens = tokens + add > rate ? rate : tokens + add;
						last = now;
					}
				}
				if (tokens == 0) {
					allowed = false;
				} else {
					tokens = tokens - 1;
				}
				punt_tokens.write(port, tokens);
				punt_last_us.write(port, last);
			}
			if (allowed) {
				vxg_counters.count(VXG_CNT_IGMP_TO_CPU);
				punt_event(meta, VXG_EVT_IGMP, meta.vni, hdr.eth.src, meta.in_vlan, meta.in_port, 0);
			} else {
				vxg_counters.count(VXG_CNT_DROP_IGMP_RATE);
			}
			/* PIM hellos and IGMP queries are flooded like any BUM */
			if (hdr.ipv4.protocol == IP_PROTO_PIM || (hdr.igmp.isValid() && hdr.igmp.type == IGMP_QUERY))
				return;
			vxg_counters.count(VXG_CNT_IGMP_TO_MROUTER);
			to_mrouters(mr_hit, mr.mgrp);
			return;
		}
		if (hdr.ipv4.dst[31:8] == 0xe00000)
			return;

		mk.group = hdr.ipv4.dst;
		mk.source = hdr.ipv4.src;
		mcast_params_t g;
		bool hit;
		sg_l.apply(mk, g, hit);
		if (!hit) {
			mk.source = 0;
			mcast_any_params_t any;
			g_l.apply(mk, any, hit);
			g.count = any.count;
			g.slot = any.slot;
			g.mgrp = any.mgrp;
		}
		if (!hit) {
			vxg_counters.count(VXG_CNT_MCAST_UNREGISTERED);
			if ((meta.vni_flags & VXG_VNI_MCAST_DROP_UNREG) != 0)
				to_mrouters(mr_hit, mr.mgrp);
			return;
		}
		vxg_counters.count(VXG_CNT_MCAST_GROUP_HIT);
		mcast_stats.count(g.slot);
		meta.mcast_done = true;
		meta.mcast_group = true;
		meta.mcast_slot = g.slot;
		/* from the overlay: member ports only (egress drops remote copies of decapsulated frames) */
		sm.mcast_grp = g.mgrp;
	}
}

#endif
