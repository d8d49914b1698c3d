package config

import (
	"sort"
	"strings"
)

// paramKind says how a global parameter's value is read.
type paramKind uint8

const (
	pInt    paramKind = iota // number, or yes/no as 1/0 (Kamailio lexes them so)
	pBool                    // yes/no/on/off/true/false/enable/disable or a number
	pStr                     // string literal or a bare word (log_facility=LOG_LOCAL0)
	pListen                  // listen=proto:addr:port [advertise host:port] [name "x"]
	pAlias                   // alias="host" or alias=proto:host:port
	pSocket                  // socket = { bind = proto:addr:port; advertise = host:port; name = "x"; }
)

// globalParam is a core parameter kemi uses.
type globalParam struct {
	kind  paramKind
	canon string // the name stored in Config.Globals when this is a synonym
}

// knownGlobals are the core parameters kemi reads. Synonyms Kamailio
// accepts map to one stored name.
var knownGlobals = map[string]globalParam{
	"debug":        {kind: pInt},
	"log_stderror": {kind: pBool},
	"log_prefix":   {kind: pStr},
	"log_facility": {kind: pStr},
	"log_name":     {kind: pStr},
	// log_format is kemi's own: text (Kamailio's lines) or json.
	"log_format":   {kind: pStr},
	"children":     {kind: pInt},
	"listen":       {kind: pListen},
	"socket":       {kind: pSocket},
	"port":         {kind: pInt},
	"alias":        {kind: pAlias},
	"auto_aliases": {kind: pBool},

	"server_signature":  {kind: pBool},
	"server_header":     {kind: pStr},
	"user_agent_header": {kind: pStr},
	"mpath":             {kind: pStr},
	"loadpath":          {kind: pStr, canon: "mpath"},
	"fork":              {kind: pBool},
	"tcp_children":      {kind: pInt},
	"tcp_async":         {kind: pBool},
	"tcp_buf_write":     {kind: pBool, canon: "tcp_async"},

	// The memory budget in MB (kemi serve -m wins), Kamailio's shared
	// memory size.
	"shm_mem_size": {kind: pInt},
	"shm_mem":      {kind: pInt, canon: "shm_mem_size"},
	"shm":          {kind: pInt, canon: "shm_mem_size"},

	"tcp_connection_lifetime": {kind: pInt},
	"tcp_max_connections":     {kind: pInt},
	"tcp_accept_aliases":      {kind: pBool},
	"tcp_connect_timeout":     {kind: pInt},

	// Stream limits the server hands to transport.StreamConfig.SetParam;
	// tcp_max_message_size and tcp_connection_max_lifetime are kemi's own.
	"tcp_msg_read_timeout":        {kind: pInt},
	"tcp_msg_data_timeout":        {kind: pInt},
	"tls_max_connections":         {kind: pInt},
	"tcp_conn_wq_max":             {kind: pInt},
	"tcp_crlf_ping":               {kind: pBool},
	"tcp_max_message_size":        {kind: pInt},
	"tcp_connection_max_lifetime": {kind: pInt},
	"enable_tls":                  {kind: pBool},
	"tls_enable":                  {kind: pBool, canon: "enable_tls"},
	"disable_tls":                 {kind: pBool},
	"tls_disable":                 {kind: pBool, canon: "disable_tls"},
	"tcp_send_timeout":            {kind: pInt},
	"tcp_accept_no_cl":            {kind: pBool},
	"tcp_keepalive":               {kind: pBool},
	"tcp_rd_buf_size":             {kind: pInt},
	"tcp_listen_backlog":          {kind: pInt},

	// metrics_listen is kemi's own: "IP:port" where /metrics (Prometheus
	// text format) is served; none when unset.
	"metrics_listen": {kind: pStr},

	// DNS for next hops (internal/resolve). dns_servers is kemi's own: a
	// comma-separated list of IP:port name servers used instead of
	// /etc/resolv.conf's. The others are Kamailio's names and mean what
	// they mean there; see docs/dns.md for the defaults kemi picks.
	"dns_servers":            {kind: pStr},
	"dns_try_ipv6":           {kind: pBool},
	"dns_try_naptr":          {kind: pBool},
	"dns_srv_lb":             {kind: pBool},
	"dns_srv_loadbalancing":  {kind: pBool, canon: "dns_srv_lb"},
	"dns_retr_time":          {kind: pInt},
	"dns_retr_no":            {kind: pInt},
	"use_dns_cache":          {kind: pBool},
	"dns_use_cache":          {kind: pBool, canon: "use_dns_cache"},
	"use_dns_failover":       {kind: pBool},
	"dns_use_failover":       {kind: pBool, canon: "use_dns_failover"},
	"dns_cache_negative_ttl": {kind: pInt},
	"dns_cache_min_ttl":      {kind: pInt},
	"dns_cache_max_ttl":      {kind: pInt},
	"dns_cache_mem":          {kind: pInt},

	// kemi's own: replies follow the top Via's maddr (off; see
	// sip.SetReplyToViaMaddr for why).
	"reply_to_via_maddr": {kind: pBool},

	// KEMI: which functions of the script the routing calls.
	"kemi.request_route_callback":  {kind: pStr},
	"kemi.reply_route_callback":    {kind: pStr},
	"kemi.onsend_route_callback":   {kind: pStr},
	"kemi.event_route_callback":    {kind: pStr},
	"kemi.received_route_callback": {kind: pStr},
	"kemi.received_route_mode":     {kind: pInt},
	"kemi.pre_routing_callback":    {kind: pStr},
}

// ignoredGlobals are Kamailio core parameters (from its cfg.lex) that kemi
// accepts so a Kamailio config loads, and ignores with one notice each.
var ignoredGlobals = setOf(`
fork_delay modinit_delay log_color log_prefix_mode log_engine_type log_engine_data
xavp_via_params xavp_via_fields xavp_via_reply_params domain auto_domains
dns rev_dns dns_rev_via
dns_udp_pref dns_udp_preference dns_tcp_pref dns_tcp_preference dns_tls_pref
dns_tls_preference dns_sctp_pref dns_sctp_preference dns_slow_query_ms
dns_servers_no dns_use_search_list dns_search_full_match dns_naptr_ignore_rfc
dns_cache_init dns_cache_flags
dns_cache_gc_interval dns_cache_del_nonexp dns_cache_delete_nonexpired dns_cache_rec_pref
auto_bind_ipv6 bind_ipv6_link_local ipv6_hex_style
dst_blocklist_init use_dst_blocklist dst_blocklist_mem dst_blocklist_expire
dst_blocklist_ttl dst_blocklist_gc_interval dst_blocklist_udp_imask dst_blocklist_tcp_imask
dst_blocklist_tls_imask dst_blocklist_sctp_imask
dst_blacklist_init use_dst_blacklist dst_blacklist_mem dst_blacklist_expire
dst_blacklist_ttl dst_blacklist_gc_interval
ip_free_bind ipfreebind ip_nonlocal_bind statistics stats_name_separator
maxbuffer maxsndbuffer sql_buffer_size msg_clone_extra_size msg_apply_changes_mode
msg_recv_max_size   tcp_accept_iplimit
tcp_main_threads tcp_check_timer bind workers socket_workers async_workers
async_usleep async_nonblock async_workers_group async_tkv_gname async_tkv_evcb
check_via phone2tel memlog mem_log memdbg mem_dbg mem_summary mem_safety mem_add_size
mem_join mem_status_mode corelog core_log coreparam sip_parser_log_oneline
sip_parser_log sip_parser_mode sip_warning reply_to_via user uid group gid chroot workdir wdir rundir run_dir
mhomed disable_tcp tcp_accept_unique tcp_connection_match tcp_poll_method
 tcp_no_connect tcp_source_ipv4 tcp_source_ipv6 tcp_fd_cache
 tcp_wq_max tcp_wq_blk_size tcp_defer_accept tcp_delayed_ack tcp_syncnt
tcp_linger2 tcp_keepidle tcp_keepintvl tcp_keepcnt  tcp_accept_hep3
tcp_accept_haproxy tcp_accept_protocols tcp_accept_protos tcp_close_rst
tcp_clone_rcvbuf tcp_reuse_port tcp_wait_data tcp_script_mode
tls_connection_match_domain    
tls_threads_mode tlslog tls_log tls_port_no tls_method tls_verify
tls_require_certificate tls_certificate tls_private_key tls_ca_list
tls_handshake_timeout tls_send_timeout disable_sctp enable_sctp sctp_children
advertised_address advertised_port disable_core_dump open_files_limit
shm_force_alloc mlock_pages real_time rt_prio rt_policy
rt_timer1_prio rt_fast_timer_prio rt_ftimer_prio rt_timer1_policy rt_ftimer_policy
rt_timer2_prio rt_stimer_prio rt_timer2_policy rt_stimer_policy
mcast_loopback mcast_ttl mcast tos pmtu_discovery exit_timeout ser_kill_timeout
max_while_loops pv_buffer_size pv_buffer_slots pv_cache_limit pv_cache_action
http_reply_hack http_reply_parse version_table verbose_startup server_id
route_locks_size wait_worker1_mode wait_worker1_time wait_worker1_usleep
max_recursive_level max_branches latency_cfg_log latency_log latency_limit_db
latency_limit_action latency_limit_cfg rpc_exec_delta rpc_exec_locks
rpc_exec_locks_mode uri_host_extra_chars hdr_name_extra_chars msg_time
onsend_route_reply udp_mtu udp_mtu_try_proto udp_receiver_mode udp4_raw
udp4_raw_mtu udp4_raw_ttl udp_accept_proxy
`)

// ignoredModules are Kamailio modules that change nothing in how kemi
// routes a message: management interfaces, debugging aids, statistics and
// database drivers. loadmodule of one gives one notice and its modparams
// are dropped. The text says what the user loses.
var ignoredModules = map[string]string{
	"mi_fifo":      "management interface",
	"mi_rpc":       "management interface",
	"mi_datagram":  "management interface",
	"mi_xmlrpc":    "management interface",
	"ctl":          "management interface; use kemi rpc",
	"jsonrpcs":     "management interface; use kemi rpc",
	"xmlrpc":       "management interface",
	"xhttp_rpc":    "management interface",
	"cfg_rpc":      "runtime config over RPC",
	"kex":          "core extensions for MI/RPC",
	"counters":     "statistics counters",
	"db_mysql":     "database driver",
	"db_postgres":  "database driver",
	"db_sqlite":    "database driver",
	"db_text":      "database driver",
	"db_unixodbc":  "database driver",
	"db_redis":     "database driver; usrloc reaches Redis itself from its db_url",
	"db_mongodb":   "database driver",
	"db_flatstore": "database driver",
}

func setOf(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}

// globalNames lists every name a global assignment may use, for
// did-you-mean.
func globalNames() []string {
	out := make([]string, 0, len(knownGlobals)+len(ignoredGlobals))
	for n := range knownGlobals {
		out = append(out, n)
	}
	for n := range ignoredGlobals {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
