/* Egress rewrite of every copy: the 802.1Q tag its port wants, or the VXLAN
 * headers (RFC 7348) to its remote VTEP. The VNI replaces the VLAN: the inner
 * frame travels untagged. UDP checksum 0, as IPv4 allows. */
#ifndef VXG_ENCAP_P4
#define VXG_ENCAP_P4

control Encap(inout headers_t hdr, inout metadata_t meta, inout standard_metadata_t sm) {
	action pop_vlan() {
		hdr.eth.ether_type = hdr.vlan.ether_type;
		hdr.vlan.setInvalid();
	}

	apply {
		if (meta.encap) {
			if (hdr.vlan.isValid())
				pop_vlan();
			hdr.outer_eth.setValid();
			hdr.outer_eth.dst = meta.nh_dmac;
			hdr.outer_eth.src = meta.nh_smac;
			hdr.outer_eth.ether_type = ETHERTYPE_IPV4;
			hdr.outer_ipv4.setValid();
			hdr.outer_ipv4.version = 4;
			hdr.outer_ipv4.ihl = 5;
			hdr.outer_ipv4.tos = 0;
			hdr.outer_ipv4.total_len = (bit<16>) (meta.inner_len + 36);
			hdr.outer_ipv4.id = 0;
			hdr.outer_ipv4.reserved = 0;
			hdr.outer_ipv4.df = 0;
			hdr.outer_ipv4.mf = 0;
			hdr.outer_ipv4.frag_offset = 0;
			hdr.outer_ipv4.ttl = 64;
			hdr.outer_ipv4.protocol = IP_PROTO_UDP;
			hdr.outer_ipv4.checksum = 0;
			hdr.outer_ipv4.src = meta.outer_src == 0 ? meta.vtep_ip : meta.outer_src;
			hdr.outer_ipv4.dst = meta.remote;
			hdr.outer_udp.setValid();
			/* 49152..65535, the dynamic range RFC 7348 recommends */
			hdr.outer_udp.src_port = 0xc000 | (meta.flow_hash & 0x3fff);
			hdr.outer_udp.dst_port = meta.udp_port;
			hdr.outer_udp.len = (bit<16>) (meta.inner_len + 16);
			hdr.outer_udp.checksum = 0;
			hdr.outer_vxlan.setValid();
			if (meta.gbp_id != 0) {
				/* Group Policy (a mirror copy): G, D and the HOST ID */
				hdr.outer_vxlan.flags = VXLAN_FLAG_G | VXLAN_FLAG_I;
				hdr.outer_vxlan.reserved = VXLAN_GBP_DONT_LEARN ++ meta.gbp_id;
			} else {
				hdr.outer_vxlan.flags = VXLAN_FLAG_I;
				hdr.outer_vxlan.reserved = 0;
			}
			hdr.outer_vxlan.vni = (bit<24>) meta.vni;
			hdr.outer_vxlan.reserved2 = 0;
		} else if (meta.retag) {
			if (meta.out_vlan == 0) {
				if (hdr.vlan.isValid())
					pop_vlan();
			} else {
				if (!hdr.vlan.isValid()) {
					hdr.vlan.setValid();
					hdr.vlan.pcp = 0;
					hdr.vlan.dei = 0;
					hdr.vlan.ether_type = hdr.eth.ether_type;
					hdr.eth.ether_type = ETHERTYPE_VLAN;
				}
				hdr.vlan.vid = (bit<12>) meta.out_vlan;
			}
		}
	}
}

#endif
