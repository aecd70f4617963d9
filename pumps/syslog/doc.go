// Package syslog is the syslog sink: each record becomes one syslog message
// (RFC 5424, or RFC 3164 on request) whose text is the record as JSON with
// iam's field names, sent over udp, tcp (RFC 6587 octet counting), tls or a
// unix socket.
package syslog
