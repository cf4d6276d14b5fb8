package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"sync/atomic"
)

// certFile is the certificate of --tls-cert and --tls-key. Reload reads the
// files again (parley serve does on SIGHUP, systemd's ExecReload), so a
// certificate renewed by another tool is served without a restart.
type certFile struct {
	certPath, keyPath string
	cert              atomic.Pointer[tls.Certificate]
}

func loadCertFile(certPath, keyPath string) (*certFile, error) {
	f := &certFile{certPath: certPath, keyPath: keyPath}
	return f, f.reload()
}

// reload reads the files; on an error the certificate served stays.
func (f *certFile) reload() error {
	cert, err := tls.LoadX509KeyPair(f.certPath, f.keyPath)
	if err != nil {
		return fmt.Errorf("load TLS certificate: %w", err)
	}
	f.cert.Store(&cert)
	return nil
}

func (f *certFile) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return f.cert.Load(), nil
}

// ReloadCertificate reads --tls-cert and --tls-key again; new handshakes
// get the new certificate, and on an error the old one stays. A server
// without those flags has nothing to reload (ACME renews by itself).
func (s *Server) ReloadCertificate() error {
	if s.certs == nil {
		return errors.New("no --tls-cert to reload")
	}
	return s.certs.reload()
}
