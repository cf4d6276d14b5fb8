// Package looprtc gives tests a pion/webrtc API that gathers host
// candidates on loopback only, so every test packet stays on this machine.
// It is its own package so that only tests with WebRTC peers link pion.
package looprtc

import (
	"net"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// API gathers UDP host candidates on 127.0.0.1 (pion leaves loopback out
// by default) without mDNS names.
func API() *webrtc.API {
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	return webrtc.NewAPI(webrtc.WithSettingEngine(se))
}
