/* Headers and metadata of the vxgate P4 program. The frame's own headers come
 * first in the struct as on the wire; the outer ones are pushed in egress. */
#ifndef VXG_HEADERS_P4
#define VXG_HEADERS_P4

const bit<16> ETHERTYPE_IPV4 = 0x0800;
const bit<16> ETHERTYPE_VLAN = 0x8100;
const bit<8> IP_PROTO_UDP = 17;
const bit<8> IP_PROTO_IGMP = 2;
const bit<8> IP_PROTO_PIM = 103;
const bit<8> IGMP_QUERY = 0x11;
const bit<8> VXLAN_FLAG_I = 0x08;
/* outer Ethernet + IPv4 + UDP + VXLAN */
const bit<32> VXG_ENCAP_LEN = 50;
const bit<32> PKT_INSTANCE_TYPE_INGRESS_CLONE = 1;
const bit<32> PKT_INSTANCE_TYPE_REPLICATION = 5;

header ethernet_h {
	bit<48> dst;
	bit<48> src;
	bit<16> ether_type;
}

header vlan_h {
	bit<3> pcp;
	bit<1> dei;
	bit<12> vid;
	bit<16> ether_type;
}

header ipv4_h {
	bit<4> version;
	bit<4> ihl;
	bit<8> tos;
	bit<16> total_len;
	bit<16> id;
	bit<1> reserved;
	bit<1> df;
	bit<1> mf;
	bit<13> frag_offset;
	bit<8> ttl;
	bit<8> protocol;
	bit<16> checksum;
	bit<32> src;
	bit<32> dst;
}

/* IPv4 options: IGMP reports carry Router Alert (RFC 2113) */
header ipv4_options_h {
	varbit<320> options;
}

/* the first byte of IGMP: what kind of message */
header igmp_h {
	bit<8> type;
}

header udp_h {
	bit<16> src_port;
	bit<16> dst_port;
	bit<16> len;
	bit<16> checksum;
}

header vxlan_h {
	bit<8> flags;
	bit<24> reserved;
	bit<24> vni;
	bit<8> reserved2;
}

struct headers_t {
	vxg_event_h cpu; /* packet-in: the event record, in front of nothing (the copy is cut to it) */
	ethernet_h outer_eth;
	ipv4_h outer_ipv4;
	udp_h outer_udp;
	vxlan_h outer_vxlan;
	ethernet_h eth;
	vlan_h vlan;
	ipv4_h ipv4;
	ipv4_options_h ipv4_opts;
	igmp_h igmp;
	udp_h udp;
	vxlan_h vxlan;
	ethernet_h inner_eth;
	ipv4_h inner_ipv4;
}

/* Field list 1: what a packet-in copy keeps of the metadata (the event).
 * Field list 2: what a mirror copy keeps: how to build the copy, and the
 * event too (the copy's egress hands it on to the CPU port). */
#define VXG_FL_PUNT 1
#define VXG_FL_MIRROR 2
const bit<8> VXLAN_FLAG_G = 0x80;
const bit<8> VXLAN_GBP_DONT_LEARN = 0x40;
const bit<32> PKT_INSTANCE_TYPE_EGRESS_CLONE = 2;

struct metadata_t {
	@field_list(VXG_FL_MIRROR) bit<32> in_port;     /* the ingress port, as the tables' ifindex fields hold ports */
	bit<8> role;
	bit<48> port_mac;
	@field_list(VXG_FL_MIRROR) bit<32> vni;
	bit<32> vni_flags;
	bit<16> mgrp;        /* the VNI's flood group */
	bool port_full;      /* the ingress port's learned MACs are at its max_macs */
	bool vni_full;       /* the VNI's are */
	@field_list(VXG_FL_MIRROR) bit<16> in_vlan;
	bool from_uplink;
	@field_list(VXG_FL_MIRROR) bit<32> inner_len;   /* the frame as it travels inside VXLAN (untagged) */
	@field_list(VXG_FL_MIRROR) bit<16> flow_hash;
	@field_list(VXG_FL_MIRROR) bit<32> vtep_ip;
	@field_list(VXG_FL_MIRROR) bit<16> udp_port;
	bit<32> igmp_rate;
	bit<32> replicator_ip; /* our replication point's address (0: not one) */
	bool to_replicator;    /* a leaf's one copy of a group packet, to fan out */
	/* where this copy goes */
	bool encap;
	bit<32> outer_src;   /* 0: our VTEP address */
	bit<32> remote;
	bit<48> nh_smac;
	bit<48> nh_dmac;
	bool retag;
	bit<16> out_vlan;
	/* group replication: decided in ingress, counted per copy in egress */
	bool mcast_done;
	bool mcast_group;    /* copies of a group's member list (not a flood list) */
	bool local_only;     /* no copy into the overlay (mrouter lists, IGMP) */
	bit<32> mcast_slot;
	/* the event a packet-in carries */
	@field_list(VXG_FL_PUNT, VXG_FL_MIRROR) bit<8> evt_kind;
	@field_list(VXG_FL_PUNT, VXG_FL_MIRROR) bit<16> evt_vlan;
	@field_list(VXG_FL_PUNT, VXG_FL_MIRROR) bit<32> evt_vni;
	@field_list(VXG_FL_PUNT, VXG_FL_MIRROR) bit<48> evt_mac;
	@field_list(VXG_FL_PUNT, VXG_FL_MIRROR) bit<32> evt_ifindex;
	@field_list(VXG_FL_PUNT, VXG_FL_MIRROR) bit<32> evt_remote;
	/* a mirror copy: where to and how */
	@field_list(VXG_FL_MIRROR) bool mirror_copy;
	@field_list(VXG_FL_MIRROR) bit<8> mirror_kind;
	@field_list(VXG_FL_MIRROR) bit<16> mirror_vlan;
	@field_list(VXG_FL_MIRROR) bit<32> mirror_remote;
	@field_list(VXG_FL_MIRROR) bit<16> mirror_host_id;
	@field_list(VXG_FL_MIRROR) bit<32> mirror_slot;
	@field_list(VXG_FL_MIRROR) bit<48> mirror_smac;
	@field_list(VXG_FL_MIRROR) bit<48> mirror_dmac;
	/* the Group Policy ID of a VXLAN copy (0: a plain one) */
	bit<16> gbp_id;
}

#endif
