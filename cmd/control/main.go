// Command control runs the whitelabel control plane: the partner and admin
// API, migrations and operator commands.
//
//	control serve                 run the API (migrates first)
//	control migrate               bring the store's schema up to date
//	control partner create --name N --email E [--revenue-share P] [--json]
//	control partner list [--json]
//	control tenant list [--partner ID] [--status S] [--json]
//
// Every command takes the settings flags (control -h lists them); each
// flag has an environment variable, and -config names a YAML file.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/internal/app"
	"github.com/estatecore/whitelabel/internal/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "control:", err)
		os.Exit(1)
	}
}

const usage = `usage: control <command> [flags]

commands:
  serve                  run the control API (runs migrations first)
  migrate                bring the store's schema up to date
  partner create         create a partner and print its API key once
  partner list           list partners
  tenant list            list tenants

run "control <command> -h" for the flags of a command.
`

// run is main without the process: tests call it directly.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "serve":
		return serve(ctx, args, getenv, stderr)
	case "migrate":
		return migrate(ctx, args, getenv, stdout, stderr)
	case "partner", "tenant":
		if len(args) == 0 {
			return fmt.Errorf("%s needs a subcommand (create or list)", cmd)
		}
		sub := cmd + " " + args[0]
		switch sub {
		case "partner create":
			return partnerCreate(ctx, args[1:], getenv, stdout, stderr)
		case "partner list":
			return partnerList(ctx, args[1:], getenv, stdout, stderr)
		case "tenant list":
			return tenantList(ctx, args[1:], getenv, stdout, stderr)
		}
		return fmt.Errorf("unknown command %q", sub)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

func load(name string, args []string, getenv func(string) string, stderr io.Writer, extra func(*flag.FlagSet)) (config.Config, error) {
	fs := flag.NewFlagSet("control "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	if extra != nil {
		extra(fs)
	}
	cfg, rest, err := config.Load(fs, args, getenv)
	if err != nil {
		return cfg, err
	}
	if len(rest) > 0 {
		return cfg, fmt.Errorf("unexpected arguments: %s", strings.Join(rest, " "))
	}
	return cfg, cfg.Validate()
}

func serve(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cfg, err := load("serve", args, getenv, stderr, nil)
	if err != nil {
		return err
	}
	log := app.NewLogger(cfg, stderr)
	if cfg.AdminToken == "" {
		log.Warn("ADMIN_TOKEN is empty: the admin API is disabled")
	}
	st, err := app.OpenStore(ctx, cfg, true)
	if err != nil {
		return err
	}
	defer st.Close()
	return app.RunControl(ctx, cfg, st, log, &app.Server{})
}

func migrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := load("migrate", args, getenv, stderr, nil)
	if err != nil {
		return err
	}
	st, err := app.OpenStore(ctx, cfg, true)
	if err != nil {
		return err
	}
	defer st.Close()
	v, err := st.ConfigVersion(ctx)
	if err != nil {
		return fmt.Errorf("read config version: %w", err)
	}
	fmt.Fprintf(stdout, "migrations applied; config version %d\n", v)
	return nil
}

func partnerCreate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var name, email string
	var share float64
	var asJSON bool
	cfg, err := load("partner create", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&name, "name", "", "partner name (required)")
		fs.StringVar(&email, "email", "", "partner contact e-mail (required)")
		fs.Float64Var(&share, "revenue-share", 0, "default revenue share in percent (0–100)")
		fs.BoolVar(&asJSON, "json", false, "print one JSON object with id and api_key")
	})
	if err != nil {
		return err
	}
	if err := whitelabel.ValidateDisplayName("name", name); err != nil {
		return fmt.Errorf("--name: %s", err.(*whitelabel.Error).Message)
	}
	if err := whitelabel.ValidateEmail("email", email); err != nil {
		return fmt.Errorf("--email: %s", err.(*whitelabel.Error).Message)
	}
	if share < 0 || share > 100 {
		return errors.New("--revenue-share must be between 0 and 100")
	}
	st, err := app.OpenStore(ctx, cfg, true)
	if err != nil {
		return err
	}
	defer st.Close()
	p := &whitelabel.Partner{Name: strings.TrimSpace(name), ContactEmail: email, DefaultRevenueShare: share, IsActive: true}
	plain, key := whitelabel.NewAPIKey(0, time.Now().UTC())
	after, _ := json.Marshal(p)
	audit := &whitelabel.AuditEntry{Actor: "cli", Action: "partner.create", TargetType: "partner", After: after}
	if err := st.CreatePartner(ctx, p, &key, audit); err != nil {
		return fmt.Errorf("create partner: %w", err)
	}
	if asJSON {
		return json.NewEncoder(stdout).Encode(map[string]any{"id": p.ID, "name": p.Name, "api_key": plain, "api_key_id": key.ID})
	}
	fmt.Fprintf(stdout, "partner %d created: %s\nAPI key (shown once, store it now): %s\n", p.ID, p.Name, plain)
	return nil
}

func partnerList(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var asJSON bool
	cfg, err := load("partner list", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print JSON")
	})
	if err != nil {
		return err
	}
	st, err := app.OpenStore(ctx, cfg, false)
	if err != nil {
		return err
	}
	defer st.Close()
	ps, err := st.ListPartners(ctx)
	if err != nil {
		return fmt.Errorf("list partners: %w", err)
	}
	if asJSON {
		if ps == nil {
			ps = []*whitelabel.Partner{}
		}
		return json.NewEncoder(stdout).Encode(ps)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tEMAIL\tACTIVE\tCREATED")
	for _, p := range ps {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%t\t%s\n", p.ID, p.Name, p.ContactEmail, p.IsActive, p.CreatedAt.Format(time.RFC3339))
	}
	return tw.Flush()
}

func tenantList(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var asJSON bool
	var partner int64
	var status string
	cfg, err := load("tenant list", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print JSON")
		fs.Int64Var(&partner, "partner", 0, "only this partner's tenants")
		fs.StringVar(&status, "status", "", "only tenants in this status")
	})
	if err != nil {
		return err
	}
	if status != "" && !whitelabel.TenantStatus(status).Valid() {
		return fmt.Errorf("--status %q is not a tenant status", status)
	}
	st, err := app.OpenStore(ctx, cfg, false)
	if err != nil {
		return err
	}
	defer st.Close()
	var all []*whitelabel.Tenant
	f := whitelabel.TenantFilter{PartnerID: partner, Status: whitelabel.TenantStatus(status), Limit: 1000}
	for {
		page, err := st.ListTenants(ctx, f)
		if err != nil {
			return fmt.Errorf("list tenants: %w", err)
		}
		all = append(all, page...)
		if len(page) < f.Limit {
			break
		}
		f.After = page[len(page)-1].ID
	}
	if asJSON {
		if all == nil {
			all = []*whitelabel.Tenant{}
		}
		return json.NewEncoder(stdout).Encode(all)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKEY\tSUBDOMAIN\tSTATUS\tPLAN\tPARTNER\tNAME")
	for _, t := range all {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%s\n", t.ID, t.TenantKey, t.Subdomain, t.Status, t.Plan, t.PartnerID, t.DisplayName)
	}
	return tw.Flush()
}
