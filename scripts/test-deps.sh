#!/usr/bin/env bash
# Installs what the tests need from Debian when it is missing, so `make test`
# passes on a fresh machine. Idempotent and quiet when all is there.
set -euo pipefail

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v influxd >/dev/null 2>&1 || need+=(influxdb) # InfluxDB 1.x, for pumps/influx
command -v rsyslogd >/dev/null 2>&1 || [ -x /usr/sbin/rsyslogd ] || need+=(rsyslog) # for pumps/syslog
dpkg -s rsyslog-gnutls >/dev/null 2>&1 || need+=(rsyslog-gnutls)                        # its tls input
command -v promtool >/dev/null 2>&1 || need+=(prometheus)   # promtool, for deploy/prometheus and deploy/grafana
command -v zsh >/dev/null 2>&1 || need+=(zsh)               # the completion scripts' syntax
command -v fish >/dev/null 2>&1 || need+=(fish)             # ... and what fish completes
command -v groff >/dev/null 2>&1 || need+=(groff-base)      # the man page's roff

if [ ${#need[@]} -gt 0 ]; then
	echo "installing test dependencies: ${need[*]}"
	sudo_cmd=""
	[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
	export DEBIAN_FRONTEND=noninteractive
	$sudo_cmd apt-get update -qq
	$sudo_cmd apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
