/* Parser, checksums and deparser. VXLAN is recognised by its UDP port (a
 * build constant: bmv2's parser selects on constants) behind an option-less,
 * unfragmented IPv4 header; admission decides whether it is ours. */
#ifndef VXG_PARSER_P4
#define VXG_PARSER_P4

parser VxgParser(packet_in pkt, out headers_t hdr, inout metadata_t meta, inout standard_metadata_t sm) {
	state start {
		pkt.extract(hdr.eth);
		transition select(hdr.eth.ether_type) {
			ETHERTYPE_VLAN: parse_vlan;
			ETHERTYPE_IPV4: parse_ipv4;
			default: accept;
		}
	}
	state parse_vlan {
		pkt.extract(hdr.vlan);
		transition select(hdr.vlan.ether_type) {
			ETHERTYPE_IPV4: parse_ipv4;
			default: accept;
		}
	}
	state parse_ipv4 {
		pkt.extract(hdr.ipv4);
		transition select(hdr.ipv4.ihl, hdr.ipv4.mf, hdr.ipv4.frag_offset, hdr.ipv4.protocol) {
			(5, 0, 0, IP_PROTO_UDP): parse_udp;
			(_, 0, 0, IP_PROTO_IGMP): parse_igmp;
			default: accept;
		}
	}
	state parse_igmp {
		pkt.extract(hdr.ipv4_opts, (bit<32>) (((bit<16>) hdr.ipv4.ihl - 5) * 32));
		pkt.extract(hdr.igmp);
		transition accept;
	}
	state parse_udp {
		pkt.extract(hdr.udp);
		transition select(hdr.udp.dst_port) {
			VXG_UDP_PORT: parse_vxlan;
			default: accept;
		}
	}
	state parse_vxlan {
		pkt.extract(hdr.vxlan);
		pkt.extract(hdr.inner_eth);
		transition select(hdr.inner_eth.ether_type) {
			ETHERTYPE_IPV4: parse_inner_ipv4;
			default: accept;
		}
	}
	/* group replication looks at the decapsulated frame's IPv4 header */
	state parse_inner_ipv4 {
		pkt.extract(hdr.inner_ipv4);
		transition accept;
	}
}

control VxgVerifyChecksum(inout headers_t hdr, inout metadata_t meta) {
	apply {
		/* the fixed header only: what VXLAN admission needs (options are not parsed into the sum) */
		verify_checksum(hdr.ipv4.isValid() && hdr.ipv4.ihl == 5, {
			hdr.ipv4.version, hdr.ipv4.ihl, hdr.ipv4.tos, hdr.ipv4.total_len, hdr.ipv4.id,
			hdr.ipv4.reserved, hdr.ipv4.df, hdr.ipv4.mf, hdr.ipv4.frag_offset, hdr.ipv4.ttl,
			hdr.ipv4.protocol, hdr.ipv4.src, hdr.ipv4.dst
		}, hdr.ipv4.checksum, HashAlgorithm.csum16);
	}
}

control VxgComputeChecksum(inout headers_t hdr, inout metadata_t meta) {
	apply {
		update_checksum(hdr.outer_ipv4.isValid(), {
			hdr.outer_ipv4.version, hdr.outer_ipv4.ihl, hdr.outer_ipv4.tos, hdr.outer_ipv4.total_len,
			hdr.outer_ipv4.id, hdr.outer_ipv4.reserved, hdr.outer_ipv4.df, hdr.outer_ipv4.mf,
			hdr.outer_ipv4.frag_offset, hdr.outer_ipv4.ttl, hdr.outer_ipv4.protocol,
			hdr.outer_ipv4.src, hdr.outer_ipv4.dst
		}, hdr.outer_ipv4.checksum, HashAlgorithm.csum16);
	}
}

control VxgDeparser(packet_out pkt, in headers_t hdr) {
	apply {
		pkt.emit(hdr.cpu);
		pkt.emit(hdr.outer_eth);
		pkt.emit(hdr.outer_ipv4);
		pkt.emit(hdr.outer_udp);
		pkt.emit(hdr.outer_vxlan);
		pkt.emit(hdr.eth);
		pkt.emit(hdr.vlan);
		pkt.emit(hdr.ipv4);
		pkt.emit(hdr.ipv4_opts);
		pkt.emit(hdr.igmp);
		pkt.emit(hdr.udp);
		pkt.emit(hdr.vxlan);
		pkt.emit(hdr.inner_eth);
		pkt.emit(hdr.inner_ipv4);
	}
}

#endif
