/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Kernel TCP health per workload pair (observability; separate from the capture logic in
 * tessera_redirect.h, included only by sockops.bpf.c).
 *
 * Watched sockets (the sockops program turns on their RTT and retransmission callbacks when they become
 * established):
 *   - captured client sockets of enrolled pods (they carry an original destination in tsr_orig_dst):
 *     key kind TSR_TCP_POD, src = the pod's IP, dst = the ORIGINAL destination IP. The RTT is the pod's
 *     hop to its node agent; retransmits show a congested or lossy pod network.
 *   - the agent's own HBONE client sockets (remote port 15008, in the agent's network namespace, whose
 *     cookie the agent writes into tsr_tcp_self): key kind TSR_TCP_TUNNEL, src/dst = the two node IPs.
 *     This is the hop between nodes, where real loss and latency live.
 * Cost: one hash update per RTT sample (every ACK) of a watched socket.
 *
 * Java mirror: dev.tessera.agent.redirect.TcpHealthMap (sizes checked there).
 */
#ifndef TESSERA_TCP_HEALTH_H
#define TESSERA_TCP_HEALTH_H

#include "tessera_redirect.h"

#define TSR_TCP_POD 1
#define TSR_TCP_TUNNEL 2
#define TSR_HBONE_PORT 15008

/* Key of tsr_tcp_health: IPs in network order, kind in host order. */
struct tsr_tcp_pair {
	__u32 src_ip4;
	__u32 dst_ip4;
	__u32 kind;   /* TSR_TCP_POD or TSR_TCP_TUNNEL */
};
_Static_assert(sizeof(struct tsr_tcp_pair) == 12, "struct tsr_tcp_pair size");

/* Value of tsr_tcp_health: counters only grow (the agent exports them as counters). */
struct tsr_tcp_stats {
	__u64 retransmits;   /* BPF_SOCK_OPS_RETRANS_CB events */
	__u64 rtt_samples;   /* BPF_SOCK_OPS_RTT_CB events */
	__u64 rtt_sum_us;    /* sum of the smoothed RTT at each sample, microseconds */
	__u32 srtt_us;       /* latest smoothed RTT, microseconds */
	__u32 connections;   /* sockets that started being watched */
};
_Static_assert(sizeof(struct tsr_tcp_stats) == 32, "struct tsr_tcp_stats size");

/*
 * tsr_tcp_health  LRU_HASH  key: struct tsr_tcp_pair  value: struct tsr_tcp_stats
 *   writer: sockops (RTT / RETRANS callbacks)   reader (and deleter of pairs gone): agent
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct tsr_tcp_pair);
	__type(value, struct tsr_tcp_stats);
} tsr_tcp_health SEC(".maps") __weak;

/*
 * tsr_tcp_self  ARRAY[1]  key: __u32 0  value: __u64 netns cookie of the agent (0 = tunnels not watched)
 *   writer: agent (start-up)   reader: sockops
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} tsr_tcp_self SEC(".maps") __weak;

/* The pair a socket is accounted to; 0 when it is not watched. */
static __always_inline int tsr_tcp_pair_of(struct bpf_sock_ops *ctx, struct tsr_tcp_pair *pair)
{
	/* Read every ctx field up front at its fixed offset: the verifier refuses a ctx pointer the compiler
	 * adjusted to share one load between branches. */
	__u32 family = ctx->family;
	__u32 local_ip4 = ctx->local_ip4;
	__u32 remote_ip4 = ctx->remote_ip4;
	__u32 remote_port = ctx->remote_port;
	struct tsr_addr4 *orig;
	__u32 zero = 0;
	__u64 *self;

	if (family != TSR_AF_INET && family != TSR_AF_INET6)
		return 0;
	orig = tsr_orig_of(ctx->sk);
	if (orig) {
		pair->src_ip4 = local_ip4;
		pair->dst_ip4 = orig->ip4;
		pair->kind = TSR_TCP_POD;
		return 1;
	}
	if (bpf_ntohl(remote_port) != TSR_HBONE_PORT)
		return 0;
	self = bpf_map_lookup_elem(&tsr_tcp_self, &zero);
	if (!self || *self == 0 || *self != bpf_get_netns_cookie(ctx))
		return 0;
	pair->src_ip4 = local_ip4;
	pair->dst_ip4 = remote_ip4;
	pair->kind = TSR_TCP_TUNNEL;
	return 1;
}

static __always_inline struct tsr_tcp_stats *tsr_tcp_stats_of(struct tsr_tcp_pair *pair)
{
	struct tsr_tcp_stats *s = bpf_map_lookup_elem(&tsr_tcp_health, pair);
	struct tsr_tcp_stats empty = {};

	if (s)
		return s;
	bpf_map_update_elem(&tsr_tcp_health, pair, &empty, BPF_NOEXIST);
	return bpf_map_lookup_elem(&tsr_tcp_health, pair);
}

/* Called for every sockops event (after the capture logic). */
static __always_inline void tsr_tcp_observe(struct bpf_sock_ops *ctx)
{
	struct tsr_tcp_pair pair = {};
	struct tsr_tcp_stats *s;
	__u32 srtt;

	switch (ctx->op) {
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
		if (!tsr_tcp_pair_of(ctx, &pair))
			return;
		bpf_sock_ops_cb_flags_set(ctx, ctx->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_RTT_CB_FLAG |
					       BPF_SOCK_OPS_RETRANS_CB_FLAG);
		s = tsr_tcp_stats_of(&pair);
		if (s)
			__sync_fetch_and_add(&s->connections, 1);
		return;
	case BPF_SOCK_OPS_RTT_CB:
		if (!tsr_tcp_pair_of(ctx, &pair))
			return;
		s = tsr_tcp_stats_of(&pair);
		if (!s)
			return;
		srtt = ctx->srtt_us >> 3;
		s->srtt_us = srtt;
		__sync_fetch_and_add(&s->rtt_samples, 1);
		__sync_fetch_and_add(&s->rtt_sum_us, srtt);
		return;
	case BPF_SOCK_OPS_RETRANS_CB:
		if (!tsr_tcp_pair_of(ctx, &pair))
			return;
		s = tsr_tcp_stats_of(&pair);
		if (s)
			__sync_fetch_and_add(&s->retransmits, 1);
		return;
	default:
		return;
	}
}

#endif /* TESSERA_TCP_HEALTH_H */
