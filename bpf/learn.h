/* Data-path learning: src MAC -> ingress port (access) or outer source IP
 * (overlay). New and moved MACs are written here, at line rate, and reported to
 * the control plane through the ring buffer, at most once per MAC per
 * LEARN_REFRESH_NS (a move inside that interval is reported with the first
 * frame after it). Static and frozen entries are never touched. */
#pragma once

static __always_inline void emit_event(__u8 kind, __u32 vni, const __u8 *mac, __u16 vlan, __u32 ifindex, __be32 remote)
{
	struct vxg_event *e = bpf_ringbuf_reserve(&vxg_events, sizeof(*e), 0);
	if (!e) {
		count(VXG_CNT_ERR_EVENT_RING_FULL, 0);
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->vni = vni;
	e->vlan = vlan;
	if (mac)
		mac_copy(e->mac, mac);
	e->ifindex = ifindex;
	e->remote = remote;
	bpf_ringbuf_submit(e, 0);
}

#if VXG_FEATURE_MAC_LIMITS
static __always_inline struct mac_limit_value *mac_limit(__u8 kind, __u32 id)
{
	struct mac_limit_key k = { .kind = kind, .id = id };
	return bpf_map_lookup_elem(&vxg_mac_limits, &k);
}

/* Room for one more learned MAC on this port (0: remote) and in this VNI?
 * The counts go up here as entries are learned; the control plane recounts
 * them from the FDB (ageing, moves), so a race costs at most a few entries. */
static __always_inline int mac_limit_room(struct mac_limit_value *port, struct mac_limit_value *vni)
{
	return !(port && port->count >= port->max) && !(vni && vni->count >= vni->max);
}
#endif

/* want: the entry as it should be (kind, vlan, ifindex or remote filled in).
 * Returns 0, or 1 when a new MAC is refused by its port's or VNI's limit (the
 * caller drops the frame: port security's "restrict"). */
static __always_inline int learn(__u32 vni, const __u8 *mac, struct fdb_value *want)
{
	struct fdb_key k = { .vni = vni };
	mac_copy(k.mac, mac);
	__u64 now = bpf_ktime_get_coarse_ns(); /* a jiffy is fine for refresh and ageing, and cheaper */
	struct fdb_value *cur = bpf_map_lookup_elem(&vxg_fdb, &k);
	if (cur) {
		if (cur->kind == want->kind && cur->ifindex == want->ifindex && cur->remote == want->remote &&
		    cur->vlan == want->vlan) {
			if (now - cur->seen_ns > VXG_LEARN_REFRESH_NS) {
				cur->seen_ns = now;
				count(VXG_CNT_LEARN_REFRESH, 0);
			}
			/* a move reported late is still reported (racy flag update: at worst twice) */
			if ((cur->flags & VXG_FDB_EVENT_PENDING) && now - cur->event_ns > VXG_LEARN_REFRESH_NS) {
				cur->flags &= ~VXG_FDB_EVENT_PENDING;
				cur->event_ns = now;
				emit_event(VXG_EVT_MOVE, vni, mac, want->vlan, want->ifindex, want->remote);
			}
			return 0;
		}
		if (cur->flags & (VXG_FDB_STATIC | VXG_FDB_FROZEN)) {
			count(VXG_CNT_DROP_STATIC_CONFLICT, 0);
			return 0;
		}
		/* a move: replace the whole value so readers see old or new, never a mix */
		struct fdb_value moved = *want;
		moved.seen_ns = now;
		__u64 last_event = cur->event_ns;
		int report = now - last_event > VXG_LEARN_REFRESH_NS;
		/* rate-limited: the event is owed, and goes out with a later frame */
		moved.flags = report ? 0 : VXG_FDB_EVENT_PENDING;
		moved.event_ns = report ? now : last_event;
		if (bpf_map_update_elem(&vxg_fdb, &k, &moved, BPF_EXIST) == 0) {
			count(VXG_CNT_LEARN_MOVE, 0);
			if (report)
				emit_event(VXG_EVT_MOVE, vni, mac, want->vlan, want->ifindex, want->remote);
		}
		return 0;
	}
#if VXG_FEATURE_MAC_LIMITS
	struct mac_limit_value *lp = want->ifindex ? mac_limit(VXG_LIMIT_PORT, want->ifindex) : 0;
	struct mac_limit_value *lv = mac_limit(VXG_LIMIT_VNI, vni);
	if (!mac_limit_room(lp, lv)) {
		count(VXG_CNT_DROP_MAC_LIMIT, 0);
		return 1;
	}
#endif
	struct fdb_value fresh = *want;
	fresh.flags = 0;
	fresh.seen_ns = now;
	fresh.event_ns = now;
	long rc = bpf_map_update_elem(&vxg_fdb, &k, &fresh, BPF_NOEXIST);
	if (rc == 0) {
		count(VXG_CNT_LEARN_NEW, 0);
#if VXG_FEATURE_MAC_LIMITS
		if (lp)
			__sync_fetch_and_add(&lp->count, 1);
		if (lv)
			__sync_fetch_and_add(&lv->count, 1);
#endif
		emit_event(VXG_EVT_LEARN, vni, mac, want->vlan, want->ifindex, want->remote);
	} else if (rc != -17 /* EEXIST: another CPU learned it first */) {
		count(VXG_CNT_ERR_LEARN_FULL, 0);
	}
	return 0;
}

static __always_inline int learn_local(__u32 vni, const __u8 *mac, __u32 ifindex, __u16 vlan)
{
	struct fdb_value want = { .kind = VXG_FDB_LOCAL, .vlan = vlan, .ifindex = ifindex };
	return learn(vni, mac, &want);
}

static __always_inline int learn_remote(__u32 vni, const __u8 *mac, __be32 remote)
{
	struct fdb_value want = { .kind = VXG_FDB_REMOTE, .remote = remote };
	return learn(vni, mac, &want);
}
