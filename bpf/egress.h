/* Egress checks: can a frame leave by the port we chose, the way we send it?
 * Counters must not call a frame forwarded that the kernel then drops, and the
 * kernel drops silently where XDP cannot see it: after our program returned.
 *
 * MTU. The kernel sends a frame of at most MTU + Ethernet header + 4 bytes
 * (the room of one VLAN tag, tagged or not) out of a port: xdp_ok_fwd_dev for
 * an XDP redirect, is_skb_forwardable for its bridge (a GSO skb is checked per
 * segment later). bpf_check_mtu compares with MTU + Ethernet header, so the
 * 4 bytes go in as a negative length difference. A frame longer than that is
 * counted drop_egress_mtu and not sent.
 *
 * XDP transmit. An XDP_REDIRECT into a port is dropped by the kernel when the
 * port cannot transmit XDP frames (a veth whose peer runs no NAPI: GRO off and
 * no XDP program on the peer; a driver without ndo_xdp_xmit), and the verdict
 * of bpf_redirect says nothing about that: it only records the target. So the
 * control plane checks every port when it attaches it and lists in vxg_xdp_tx
 * the ports XDP can transmit on; bpf_redirect_map into that devmap arms the
 * redirect for those, and for any other port returns XDP_PASS: the frame goes
 * up unchanged to the TC stage on its ingress port, which makes the same
 * decision and sends it through the skb path (which needs no NAPI), counted
 * egress_via_tc here and forwarded there. */
#pragma once

/* XDP: 0 when the frame, out_len bytes once rewritten (it is len bytes now),
 * fits port `ifindex`. Otherwise it is counted: 1 (as `reason`) when it is too
 * long, -1 (err_redirect) when the port is gone (the redirect would fail). */
static __always_inline int xdp_egress_mtu_check(struct xdp_md *ctx, __u32 ifindex, __u32 out_len, __u32 len, __u32 reason)
{
	__u32 mtu_len = 0;
	long rc = bpf_check_mtu(ctx, ifindex, &mtu_len, (__s32)out_len - (__s32)len - VXG_VLAN_HLEN, 0);
	if (rc == BPF_MTU_CHK_RET_SUCCESS)
		return 0;
	if (rc == BPF_MTU_CHK_RET_FRAG_NEEDED) {
		count(reason, len);
		return 1;
	}
	count(VXG_CNT_ERR_REDIRECT, len);
	return -1;
}

/* XDP: arm the redirect to `ifindex`. XDP_REDIRECT when XDP can transmit on
 * it; XDP_PASS (counted) when the frame must go up to TC, unchanged. */
static __always_inline int xdp_egress(__u32 ifindex, __u32 len)
{
	if (bpf_redirect_map(&vxg_xdp_tx, ifindex, XDP_PASS) == XDP_REDIRECT)
		return XDP_REDIRECT;
	count(VXG_CNT_EGRESS_VIA_TC, len);
	return XDP_PASS;
}

/* TC: is the skb, as it is now (a tag to push is not in skb->len, and the
 * kernel does not count it either), too long for port `ifindex`? */
static __always_inline int tc_too_long(struct __sk_buff *skb, __u32 ifindex)
{
	__u32 mtu_len = 0;
	return bpf_check_mtu(skb, ifindex, &mtu_len, -VXG_VLAN_HLEN, 0) == BPF_MTU_CHK_RET_FRAG_NEEDED;
}
