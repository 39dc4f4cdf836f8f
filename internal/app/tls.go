package app

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"

	"github.com/mholt/acmez/v3/acme"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/control"
	"github.com/estatecore/whitelabel/edge"
	"github.com/estatecore/whitelabel/internal/config"
	"github.com/estatecore/whitelabel/store/postgres"
)

// EdgeTLSConfig builds the edge's TLS settings from cfg: ACME CA, account,
// trusted roots, the operator certificate, and the storage (PostgreSQL
// certificate storage when src is the PostgreSQL store, so every edge
// shares certificates; else files in CERT_STORAGE_DIR). httpPort and
// tlsPort are the bound ports of EDGE_ADDR and EDGE_TLS_ADDR.
func EdgeTLSConfig(cfg config.Config, src whitelabel.ConfigSource, log *slog.Logger, httpPort, tlsPort int) (edge.TLSConfig, error) {
	tc := edge.TLSConfig{
		StorageDir: cfg.CertStorageDir,
		Directory:  cfg.ACMEDirectory,
		Email:      cfg.ACMEEmail,
		HTTPPort:   httpPort,
		TLSPort:    tlsPort,
		CertFile:   cfg.TLSCertFile,
		KeyFile:    cfg.TLSKeyFile,
	}
	if cfg.ACMEEABKID != "" {
		tc.EAB = &acme.EAB{KeyID: cfg.ACMEEABKID, MACKey: cfg.ACMEEABHMAC}
	}
	if cfg.ACMECARoots != "" {
		pem, err := os.ReadFile(cfg.ACMECARoots)
		if err != nil {
			return tc, fmt.Errorf("ACME_CA_ROOTS: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return tc, fmt.Errorf("ACME_CA_ROOTS %s holds no PEM certificate", cfg.ACMECARoots)
		}
		tc.TrustedRoots = pool
	}
	if pg, ok := src.(*postgres.Store); ok {
		tc.Storage = pg.CertStorage(postgres.CertStorageOptions{Logger: log})
	}
	if cs, ok := src.(whitelabel.DomainCertStore); ok {
		tc.Certs = cs
	}
	return tc, nil
}

// enableEdgeTLS listens on EDGE_ADDR and EDGE_TLS_ADDR, turns TLS on in e
// with their ports, and returns the HTTPS server; srv (EDGE_ADDR) then
// answers ACME challenges and redirects to HTTPS.
func enableEdgeTLS(cfg config.Config, src whitelabel.ConfigSource, log *slog.Logger, e *edge.Server, srv *Server) (*Server, error) {
	if err := srv.Listen(); err != nil {
		return nil, err
	}
	tlsSrv := &Server{Name: "edge-tls", Addr: cfg.EdgeTLSAddr}
	if err := tlsSrv.Listen(); err != nil {
		return nil, err
	}
	tc, err := EdgeTLSConfig(cfg, src, log, portOf(srv.Listener), portOf(tlsSrv.Listener))
	if err == nil {
		err = e.EnableTLS(tc)
	}
	if err != nil {
		srv.Listener.Close()
		tlsSrv.Listener.Close()
		return nil, err
	}
	srv.Handler = e.HTTPHandler()
	tlsSrv.Handler = e.Handler()
	tlsSrv.Listener = tls.NewListener(tlsSrv.Listener, e.TLSConfig())
	return tlsSrv, nil
}

func portOf(ln net.Listener) int {
	_, p, _ := net.SplitHostPort(ln.Addr().String())
	n, _ := strconv.Atoi(p)
	return n
}

// controlVerify is the control plane's domain verification settings.
func controlVerify(cfg config.Config) control.VerifyConfig {
	return control.VerifyConfig{Resolver: cfg.DNSResolver, Window: cfg.DomainVerifyWindow, Recheck: cfg.DomainRecheckInterval}
}
