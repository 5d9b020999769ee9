// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sockops: when a captured client's connect completes (ACTIVE_ESTABLISHED runs while the SYN-ACK is
 * processed, before the final ACK leaves), re-key its original destination by the client's own
 * (ip, port): the only thing the agent knows after accept().
 */
#include "tessera_redirect.h"
#include "tessera_tcp_health.h"

static __always_inline void tsr_record(struct bpf_sock_ops *ctx)
{
	struct tsr_addr4 *orig = tsr_orig_of(ctx->sk);
	struct tsr_addr4 client = {};
	struct tsr_addr4 value;

	if (!orig)
		return;
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
