/* 802.1Q tag push / pop / rewrite on an XDP frame. Each returns 0 or -1 and
 * invalidates every packet pointer the caller held. */
#pragma once

/* Set the frame's tag state from `have` to `want` (0 = untagged). */
static __always_inline int xdp_retag(struct xdp_md *ctx, __u16 have, __u16 want)
{
	void *data, *end;
	__u8 macs[12];

	if (have == want)
		return 0;
	if (have && want) {
		data = (void *)(long)ctx->data;
		end = (void *)(long)ctx->data_end;
		__be16 *tci = data + 14;
		if ((void *)(tci + 1) > end)
			return -1;
		/* keep PCP/DEI, replace the VID */
		*tci = bpf_htons((bpf_ntohs(*tci) & 0xf000) | want);
		return 0;
	}
	if (have) { /* pop: slide the MACs 4 bytes forward, then drop the head */
		data = (void *)(long)ctx->data;
		end = (void *)(long)ctx->data_end;
		if (data + 16 > end)
			return -1;
		__builtin_memcpy(macs, data, 12);
		__builtin_memcpy(data + 4, macs, 12);
		return bpf_xdp_adjust_head(ctx, 4) ? -1 : 0;
	}
	/* push */
	if (bpf_xdp_adjust_head(ctx, -4))
		return -1;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	if (data + 18 > end)
		return -1;
	__builtin_memcpy(macs, data + 4, 12);
	__builtin_memcpy(data, macs, 12);
	/* layout: MACs, TPID at 12, TCI at 14; the old ethertype is already at 16 */
	*(__be16 *)(data + 12) = bpf_htons(VXG_ETH_P_8021Q);
	*(__be16 *)(data + 14) = bpf_htons(want);
	return 0;
}
