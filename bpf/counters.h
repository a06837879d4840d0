/* Per-CPU packet and byte counters, indexed by enum vxg_counter. */
#pragma once

static __always_inline void count(__u32 id, __u64 bytes)
{
	struct counter_value *c = bpf_map_lookup_elem(&vxg_counters, &id);
	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
}
