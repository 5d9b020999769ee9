// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* cgroup/getpeername4: a captured socket's peer is the destination the application asked for. */
#include "tessera_redirect.h"

SEC("cgroup/getpeername4")
int tsr_peername4(struct bpf_sock_addr *ctx)
{
	struct tsr_addr4 *orig = tsr_orig_of(ctx->sk);

	if (orig) {
		ctx->user_ip4 = orig->ip4;
		ctx->user_port = orig->port;
		tsr_count(TSR_STAT_PEERNAME);
	}
	return 1; /* the only value the kernel accepts for getpeername */
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
