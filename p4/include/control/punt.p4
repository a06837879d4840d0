/* Packet-in: a copy to the CPU port carrying what the eBPF ring buffer's event
 * carries (learning, moves, missing next hops), cut to the event record. */
#ifndef VXG_PUNT_P4
#define VXG_PUNT_P4

/* Ingress: an event for the control plane, carried by whichever copy leaves
 * (a mirror copy hands it on from its egress). */
action note_event(inout metadata_t meta, in bit<8> kind, in bit<32> vni, in bit<48> mac, in bit<16> vlan, in bit<32> ifindex, in bit<32> remote) {
	meta.evt_kind = kind;
	meta.evt_vni = vni;
	meta.evt_mac = mac;
	meta.evt_vlan = vlan;
	meta.evt_ifindex = ifindex;
	meta.evt_remote = remote;
}

/* Ingress: ask for a copy to the CPU port. One ingress clone per packet (a
 * later request replaces an earlier one; the next frame asks again). */
action punt_event(inout metadata_t meta, in bit<8> kind, in bit<32> vni, in bit<48> mac, in bit<16> vlan, in bit<32> ifindex, in bit<32> remote) {
	note_event(meta, kind, vni, mac, vlan, ifindex, remote);
	clone_preserving_field_list(CloneType.I2E, VXG_CPU_SESSION, VXG_FL_PUNT);
}

/* Egress of the copy: the event record alone. */
control Punt(inout headers_t hdr, inout metadata_t meta, inout standard_metadata_t sm) {
	apply {
		hdr.cpu.setValid();
		hdr.cpu.kind = meta.evt_kind;
		hdr.cpu._pad = 0;
		hdr.cpu.vlan = meta.evt_vlan;
		hdr.cpu.vni = meta.evt_vni;
		hdr.cpu.mac = meta.evt_mac;
		hdr.cpu._pad2 = 0;
		hdr.cpu.ifindex = meta.evt_ifindex;
		hdr.cpu.remote = meta.evt_remote;
		if (meta.evt_kind == VXG_EVT_IGMP) {
			/* the control frame follows, untagged (its VLAN is the event's), as the ring buffer carries it */
			if (hdr.vlan.isValid()) {
				hdr.eth.ether_type = hdr.vlan.ether_type;
				hdr.vlan.setInvalid();
			}
			truncate(VXG_EVENT_LEN + VXG_PUNT_MAX);
		} else {
			truncate(VXG_EVENT_LEN);
		}
	}
}

#endif
