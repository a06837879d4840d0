/* Control-plane operations on the FDB that run in the kernel (BPF_PROG_RUN of a
 * syscall program): a route withdrawal deletes the remote entry only while it
 * is still the route's (the host may have turned up on a local port since),
 * and from user space each such check is one system call per MAC. Here a
 * whole batch is one call, and each check is right before its delete. */
#pragma once

struct vxg_fdb_del_ctx {
	struct vxg_fdb_del_hdr hdr;
	/* the bits of an entry that must equal the expected value's */
	struct fdb_value mask;
	struct fdb_key keys[VXG_FDB_DEL_BATCH];
	struct fdb_value want[VXG_FDB_DEL_BATCH];
};

_Static_assert(sizeof(struct fdb_value) == 32, "fdb_value is compared as four 64-bit words");
/* the control plane packs the context at these offsets (src/control/targets/ebpf/target.ts fdbDelCtx) */
_Static_assert(__builtin_offsetof(struct vxg_fdb_del_ctx, keys) == sizeof(struct vxg_fdb_del_hdr) + sizeof(struct fdb_value), "vxg_fdb_del_ctx.keys");
_Static_assert(__builtin_offsetof(struct vxg_fdb_del_ctx, want) == sizeof(struct vxg_fdb_del_hdr) + sizeof(struct fdb_value) + VXG_FDB_DEL_BATCH * sizeof(struct fdb_key), "vxg_fdb_del_ctx.want");

static __always_inline int fdb_value_matches(const struct fdb_value *cur, const struct fdb_value *want, const struct fdb_value *mask)
{
	const __u64 *c = (const __u64 *)cur, *w = (const __u64 *)want, *m = (const __u64 *)mask;
	return !(((c[0] ^ w[0]) & m[0]) | ((c[1] ^ w[1]) & m[1]) | ((c[2] ^ w[2]) & m[2]) | ((c[3] ^ w[3]) & m[3]));
}

/* Deletes keys[i] while its entry, masked, equals want[i] masked, for the
 * first hdr.count keys; hdr.deleted says how many went. The context can only
 * be read at constant offsets, hence the unrolled loop. */
SEC("syscall")
int vxg_fdb_del_if(struct vxg_fdb_del_ctx *ctx)
{
	__u32 n = ctx->hdr.count;
	__u32 deleted = 0;
#pragma clang loop unroll(full)
	for (int i = 0; i < VXG_FDB_DEL_BATCH; i++) {
		if ((__u32)i < n) {
			/* map helpers take keys on the stack, not in the context */
			struct fdb_key key = ctx->keys[i];
			struct fdb_value *cur = bpf_map_lookup_elem(&vxg_fdb, &key);
			if (cur && fdb_value_matches(cur, &ctx->want[i], &ctx->mask) && bpf_map_delete_elem(&vxg_fdb, &key) == 0)
				deleted++;
		}
	}
	ctx->hdr.deleted = deleted;
	return 0;
}
