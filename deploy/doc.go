// Package deploy holds no code: its tests check the deployment files next
// to it (Dockerfile, systemd unit, Kubernetes manifests). It is a module of
// its own so that the Kubernetes API types it decodes the manifests with are
// no dependency of gatehouse.
package deploy
