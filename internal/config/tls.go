package config

import (
	"errors"
	"fmt"
	"net"
)

// validateTLS checks the custom domain and TLS settings.
func (c Config) validateTLS() []error {
	var errs []error
	for _, a := range []struct{ name, v string }{{"EDGE_TLS_ADDR", c.EdgeTLSAddr}, {"DNS_RESOLVER", c.DNSResolver}} {
		if a.v == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a.v); err != nil {
			errs = append(errs, fmt.Errorf("%s %q must be host:port (e.g. 127.0.0.1:8443)", a.name, a.v))
		}
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		errs = append(errs, errors.New("TLS_CERT_FILE and TLS_KEY_FILE must be set together"))
	}
	if (c.ACMEEABKID == "") != (c.ACMEEABHMAC == "") {
		errs = append(errs, errors.New("ACME_EAB_KID and ACME_EAB_HMAC must be set together"))
	}
	if c.DomainVerifyWindow < 0 || c.DomainRecheckInterval < 0 {
		errs = append(errs, errors.New("DOMAIN_VERIFY_WINDOW and DOMAIN_RECHECK_INTERVAL must not be negative"))
	}
	return errs
}
