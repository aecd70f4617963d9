// Package systemd holds the pump's systemd unit; its test has
// systemd-analyze verify the unit and rate its sandboxing.
package systemd
