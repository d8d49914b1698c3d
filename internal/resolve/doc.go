// Package resolve finds where a request for a SIP URI goes: RFC 3263's
// NAPTR, SRV and A/AAAA steps over github.com/miekg/dns (Go's resolver
// has no NAPTR), with one cache shared by every worker.
//
// The cache is an LRU bounded in entries (dns_cache_mem) whose entries
// expire with their records' TTL, clamped by dns_cache_min_ttl and
// dns_cache_max_ttl; a name without records is remembered for
// dns_cache_negative_ttl, a server that failed or did not answer for at
// most 5 seconds. Concurrent lookups of one name send one query
// (singleflight), and a caller waits at most two query budgets
// (dns_retr_time × dns_retr_no × servers) for a whole resolution, so a dead
// server never holds a worker for longer. A resolution answered from the
// cache does not allocate.
package resolve
