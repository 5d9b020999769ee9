// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* cgroup/getpeername6: the same for captured IPv4-mapped connects on AF_INET6 sockets. */
#include "tessera_redirect.h"

SEC("cgroup/getpeername6")
int tsr_peername6(struct bpf_sock_addr *ctx)
{
	struct tsr_addr4 *orig = tsr_orig_of(ctx->sk);

	if (orig) {
		/* Only IPv4-mapped connects are captured, so the address stays ::ffff:a.b.c.d. */
		ctx->user_ip6[3] = orig->ip4;
		ctx->user_port = orig->port;
		tsr_count(TSR_STAT_PEERNAME);
	}
	return 1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
