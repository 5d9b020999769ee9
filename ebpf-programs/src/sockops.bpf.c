// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sockops: when a captured client's connect completes (ACTIVE_ESTABLISHED runs while the SYN-ACK is
 * processed, before the final ACK leaves), re-key its original destination by the client's own
 * (ip, port): the only thing the agent knows after accept(). IPv4 and IPv4-mapped sockets go to
 * tsr_client_dst, native IPv6 ones to tsr_client_dst6.
 */
#include "tessera_redirect.h"
#include "tessera_tcp_health.h"

/* The same for a captured native IPv6 connect: keyed by the client's local IPv6 (ip, port). */
static __always_inline void tsr_record6(struct bpf_sock_ops *ctx)
{
	struct tsr_addr6 *orig = tsr_orig6_of(ctx->sk);
	struct tsr_addr6 client = {};
	struct tsr_addr6 value = {};

	if (!orig)
		return;
	client.ip6[0] = ctx->local_ip6[0];
	client.ip6[1] = ctx->local_ip6[1];
	client.ip6[2] = ctx->local_ip6[2];
	client.ip6[3] = ctx->local_ip6[3];
	client.port = bpf_htons((__u16)ctx->local_port); /* local_port is HOST order */
	value.ip6[0] = orig->ip6[0];
	value.ip6[1] = orig->ip6[1];
	value.ip6[2] = orig->ip6[2];
	value.ip6[3] = orig->ip6[3];
	value.port = orig->port;
	if (bpf_map_update_elem(&tsr_client_dst6, &client, &value, BPF_ANY) == 0) {
		tsr_count(TSR_STAT_RECORDED);
		tsr_count(TSR_STAT_RECORDED6);
	} else {
		tsr_count(TSR_STAT_RECORD_FAILED);
	}
}

static __always_inline void tsr_record(struct bpf_sock_ops *ctx)
{
	struct tsr_addr4 *orig = tsr_orig_of(ctx->sk);
	struct tsr_addr4 client = {};
	struct tsr_addr4 value;

	if (!orig) {
		tsr_record6(ctx);
		return;
	}
	/* local_ip4 is set for AF_INET and for IPv4-mapped AF_INET6 sockets; local_port is HOST order. */
	client.ip4 = ctx->local_ip4;
	client.port = bpf_htons((__u16)ctx->local_port);
	value.ip4 = orig->ip4;
	value.port = orig->port;
	value.pad = 0;
	if (bpf_map_update_elem(&tsr_client_dst, &client, &value, BPF_ANY) == 0)
		tsr_count(TSR_STAT_RECORDED);
	else
		tsr_count(TSR_STAT_RECORD_FAILED);
}

SEC("sockops")
int tsr_sockops(struct bpf_sock_ops *ctx)
{
	if (ctx->op == BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB)
		tsr_record(ctx);
	/* Observability, separate from capture: see tessera_tcp_health.h. */
	tsr_tcp_observe(ctx);
	return 1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
