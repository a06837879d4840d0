/* BUM replication (TC clsact ingress): the one-in-many-out half of the fast
 * path. XDP hands up broadcast, multicast and unknown unicast; here each copy
 * is made with bpf_clone_redirect: one per local member port of the VNI (never
 * the ingress), and from access ports one VXLAN copy per remote VTEP in the
 * VNI's flood list (head-end replication). Frames from the overlay are only
 * copied to local ports (split horizon). Packet pointers are not used across
 * clone_redirect calls: every per-copy rewrite goes through skb helpers. */
#pragma once

static __always_inline int tc_vlan_set(struct __sk_buff *skb, __u16 *cur, __u16 want)
{
	if (*cur == want)
		return 0;
	if (*cur) {
		if (bpf_skb_vlan_pop(skb))
			return -1;
		*cur = 0;
	}
	if (want) {
		if (bpf_skb_vlan_push(skb, bpf_htons(VXG_ETH_P_8021Q), want))
			return -1;
		*cur = want;
	}
	return 0;
}

/* State shared by one replication pass; bpf_loop verifies the per-copy callback
 * once instead of once per unrolled iteration. */
struct flood_ctx {
	struct __sk_buff *skb;
	struct globals_value *g;
	__u32 vni;
	__u32 in_if;
	__u16 in_vlan;
	__u16 cur_vlan;
	__u32 inner_len;
	__u32 hash;
	int encapped;
	struct vxlan_encap h;
};

static long flood_local_one(__u32 i, void *arg)
{
	struct flood_ctx *c = arg;
	struct flood_key k = { .vni = c->vni, .slot = i };
	struct flood_value *e = bpf_map_lookup_elem(&vxg_flood, &k);
	if (!e || e->kind != VXG_FLOOD_LOCAL)
		return 0;
	__u32 out = e->ifindex;
	__u16 vlan = e->vlan;
	if (out == c->in_if && vlan == c->in_vlan)
		return 0; /* never back out of the port (and VLAN) it came in on */
	struct __sk_buff *skb = c->skb;
	if (tc_vlan_set(skb, &c->cur_vlan, vlan)) {
		count(VXG_CNT_ERR_ADJUST, skb->len);
		return 0;
	}
	if (bpf_clone_redirect(skb, out, 0))
		count(VXG_CNT_ERR_CLONE, skb->len);
	else
		count(VXG_CNT_FLOOD_LOCAL_COPY, skb->len);
	return 0;
}

static long flood_remote_one(__u32 i, void *arg)
{
	struct flood_ctx *c = arg;
	struct flood_key k = { .vni = c->vni, .slot = i };
	struct flood_value *e = bpf_map_lookup_elem(&vxg_flood, &k);
	if (!e || e->kind != VXG_FLOOD_REMOTE)
		return 0;
	__be32 remote = e->remote;
	struct __sk_buff *skb = c->skb;
	if (!c->encapped) {
		/* a GRO-merged frame would need tunnel GSO; unknown unicast that
		 * large is rare, so it is counted and not replicated */
		if (skb->gso_segs > 1) {
			count(VXG_CNT_DROP_GSO_FLOOD, skb->len);
			return 1;
		}
		if (tc_vlan_set(skb, &c->cur_vlan, 0)) {
			count(VXG_CNT_ERR_ADJUST, skb->len);
			return 1;
		}
		c->inner_len = skb->len;
		if (bpf_skb_change_head(skb, VXG_ENCAP_LEN, 0)) {
			count(VXG_CNT_ERR_ADJUST, c->inner_len);
			return 1;
		}
		c->encapped = 1;
	}
	encap_fill(&c->h, c->g, remote, c->vni, c->inner_len, c->hash);
	int out = encap_resolve(skb, &c->h, c->g, c->inner_len + VXG_ENCAP_LEN);
	if (out < 0) {
		if (out == -VXG_CNT_DROP_NO_NEIGH)
			report_no_neigh(c->g, remote);
		count(-out, c->inner_len);
		return 0;
	}
	if (bpf_skb_store_bytes(skb, 0, &c->h, VXG_ENCAP_LEN, 0)) {
		count(VXG_CNT_ERR_ADJUST, c->inner_len);
		return 1;
	}
	if (bpf_clone_redirect(skb, out, 0))
		count(VXG_CNT_ERR_CLONE, c->inner_len);
	else
		count(VXG_CNT_FLOOD_REMOTE_COPY, c->inner_len);
	return 0;
}

static __always_inline __u32 flood_bound(__u32 n)
{
	return n < VXG_FLOOD_SLOTS ? n : VXG_FLOOD_SLOTS;
}

SEC("tc")
int vxg_tc_access(struct __sk_buff *skb)
{
	__u32 in_if = skb->ingress_ifindex;
	__u16 vlan = skb->vlan_present ? (skb->vlan_tci & 0x0fff) : 0;
	__u32 vni = classify(in_if, vlan);
	if (!vni) {
		count(VXG_CNT_DROP_NO_PORT_VNI, skb->len);
		return TC_ACT_SHOT;
	}
	struct vni_key vk = { .vni = vni };
	struct vni_value *vc = bpf_map_lookup_elem(&vxg_vnis, &vk);
	struct globals_value *g = get_globals();
	if (!vc || !g) {
		count(VXG_CNT_DROP_UNKNOWN_VNI, skb->len);
		return TC_ACT_SHOT;
	}
	struct flood_ctx c = { .skb = skb, .g = g, .vni = vni, .in_if = in_if, .in_vlan = vlan, .cur_vlan = vlan };
	__u32 n = flood_bound(vc->flood_count);
	c.hash = bpf_get_hash_recalc(skb);
	bpf_loop(n, flood_local_one, &c, 0);
	bpf_loop(n, flood_remote_one, &c, 0);
	return TC_ACT_SHOT;
}

SEC("tc")
int vxg_tc_uplink(struct __sk_buff *skb)
{
	struct globals_value *g = get_globals();
	if (!g)
		return TC_ACT_OK;
	__u32 want = skb->len < 128 ? skb->len : 128;
	bpf_skb_pull_data(skb, want);
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct vxlan_rx rx;
	int rc = parse_vxlan(data, end, g, &rx);
	if (rc == VXLAN_NOT_OURS)
		return TC_ACT_OK;
	if (rc < 0) {
		count(-rc, skb->len);
		return TC_ACT_SHOT;
	}
	struct vni_value *vc;
	rc = overlay_admit(&rx, &vc);
	if (rc < 0) {
		count(-rc, skb->len);
		return TC_ACT_SHOT;
	}
	__u32 n = vc->flood_count;
	__u32 outer_len = rx.outer_len;
	if (outer_len > 14 + 60 + 16)
		return TC_ACT_SHOT;
	struct ethhdr inner;
	if (bpf_skb_load_bytes(skb, outer_len, &inner, sizeof(inner)))
		return TC_ACT_SHOT;
	if (inner.h_proto == bpf_htons(VXG_ETH_P_8021Q) || inner.h_proto == bpf_htons(VXG_ETH_P_8021AD)) {
		count(VXG_CNT_DROP_MALFORMED, skb->len);
		return TC_ACT_SHOT;
	}
	/* exactly the inner frame: padding past the UDP payload goes. The shrink
	 * below needs 20 bytes after the inner Ethernet header (the kernel checks it
	 * against the outer IPv4 header size), so a runt shorter than that is padded
	 * to the Ethernet minimum of 60 bytes, as a physical port would pad it. */
	__u32 want_len = rx.frame_len < outer_len + 14 + 20 ? outer_len + 60 : rx.frame_len;
	if (skb->len != want_len && bpf_skb_change_tail(skb, want_len, 0)) {
		count(VXG_CNT_ERR_ADJUST, skb->len);
		return TC_ACT_SHOT;
	}
	/* decapsulate: drop the outer IP/UDP/VXLAN and the inner MAC header from
	 * behind the outer MAC header, then write the inner MAC header in its place */
	if (bpf_skb_adjust_room(skb, -(int)outer_len, BPF_ADJ_ROOM_MAC, 0)) {
		count(VXG_CNT_ERR_ADJUST, skb->len);
		return TC_ACT_SHOT;
	}
	if (bpf_skb_store_bytes(skb, 0, &inner, sizeof(inner), 0))
		return TC_ACT_SHOT;
	struct flood_ctx c = { .skb = skb, .g = g, .vni = rx.vni };
	bpf_loop(flood_bound(n), flood_local_one, &c, 0);
	return TC_ACT_SHOT;
}
