function ksr_reply_route() {}
