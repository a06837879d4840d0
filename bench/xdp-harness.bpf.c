/* Per-packet benchmark helpers, compiled by bench/ in every run.
 *
 * BPF_PROG_TEST_RUN with repeat > 1 runs the program again and again on the
 * SAME xdp_buff without resetting it: after one decap (adjust_head +50) the
 * next run would parse the inner frame, miss, and return XDP_PASS, so a plain
 * repeated run measures an early exit, not the forwarding path. bench_wrap
 * undoes the previous run's head move (neither decap nor encap writes inside
 * the original frame: decap only moves the head forward, encap writes its
 * outer header into the headroom) and tail-calls the program under test, so
 * every one of the `repeat` runs sees the original frame. The baselines are
 * measured through the same wrapper, so its cost is in every number alike.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} bench_target SEC(".maps");

/* length of the frame as given to the test run; set from user space */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} bench_len SEC(".maps");

SEC("xdp")
int bench_wrap(struct xdp_md *ctx)
{
	__u32 zero = 0;
	__u32 *want = bpf_map_lookup_elem(&bench_len, &zero);
	if (!want)
		return XDP_ABORTED;
	int delta = (int)(ctx->data_end - ctx->data) - (int)*want;
	if (delta && bpf_xdp_adjust_head(ctx, delta))
		return XDP_ABORTED;
	bpf_tail_call(ctx, &bench_target, 0);
	return XDP_ABORTED; /* empty slot: never a valid measurement */
}

/* Baseline 1: the cheapest possible XDP program. */
SEC("xdp")
int bench_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

/* Baseline 2: parse Ethernet + IPv4 with bounds checks, swap the MACs and
 * bounce the frame (a reflector's minimum work). */
SEC("xdp")
int bench_parse_tx(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return XDP_DROP;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end)
		return XDP_DROP;
	if (ip->version != 4 || ip->ihl != 5 || ip->ttl <= 1)
		return XDP_PASS;
	__u8 tmp[ETH_ALEN];
	__builtin_memcpy(tmp, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, tmp, ETH_ALEN);
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
