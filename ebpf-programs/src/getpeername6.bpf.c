// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * cgroup/getpeername6: a captured AF_INET6 socket's peer is the destination the application asked for:
 * ::ffff:a.b.c.d for a captured IPv4-mapped connect (tsr_orig_dst), the IPv6 address for a captured native
 * IPv6 connect (tsr_orig_dst6). A socket holds at most one of the two records.
 */
#include "tessera_redirect.h"

SEC("cgroup/getpeername6")
int tsr_peername6(struct bpf_sock_addr *ctx)
{
	struct tsr_addr4 *orig = tsr_orig_of(ctx->sk);
	struct tsr_addr6 *orig6;

	if (orig) {
		/* An IPv4-mapped connect was captured, so the address stays ::ffff:a.b.c.d. */
		ctx->user_ip6[3] = orig->ip4;
		ctx->user_port = orig->port;
		tsr_count(TSR_STAT_PEERNAME);
		return 1;
	}
	orig6 = tsr_orig6_of(ctx->sk);
	if (orig6) {
		ctx->user_ip6[0] = orig6->ip6[0];
		ctx->user_ip6[1] = orig6->ip6[1];
		ctx->user_ip6[2] = orig6->ip6[2];
		ctx->user_ip6[3] = orig6->ip6[3];
		ctx->user_port = orig6->port;
		tsr_count(TSR_STAT_PEERNAME);
	}
	return 1; /* the only value the kernel accepts for getpeername */
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
