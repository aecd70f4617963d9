// Package kubernetes holds the example manifests for running the pump as a
// sidecar beside a Redis in one pod; its tests parse them and check them
// against the pump's own configuration, since no cluster runs here.
package kubernetes
