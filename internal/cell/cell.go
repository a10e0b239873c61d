// Package cell opens a cell's data folder and holds what the server and the
// CLI share: the store, the cell's signing key, the per-cell secrets, the
// first-start bootstrap, the management operations on organisations, users,
// collections and sharing groups, TLS, and the HTTP plumbing around the
// TAXII handler.
//
// Layout of a data folder:
//
//	DIR/jointcell.db        SQLite database (WAL)
//	DIR/cell.key            the cell's ed25519 private key, PKCS#8 PEM, 0600
//	DIR/tls/cert.pem, key.pem  self-signed certificate made on first start
//	DIR/audit/              the audit log (package audit)
package cell

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/jointcell/jointcell/internal/store"
	"github.com/jointcell/jointcell/internal/store/sqlite"
)

// File names inside the data folder.
const (
	DBFile   = "jointcell.db"
	KeyFile  = "cell.key"
	AuditDir = "audit"
	TLSDir   = "tls"
)

// Settings keys of the per-cell secrets.
const (
	SettingCursorKey    = "cursor_key"    // HMAC key of TAXII next cursors
	SettingRedactionKey = "redaction_key" // keyed pseudonymisation on egress
)

// Cell is an open data folder.
type Cell struct {
	Dir          string
	Store        store.Store
	Key          ed25519.PrivateKey
	CursorKey    []byte
	RedactionKey []byte
	// New reports whether this Open created the database.
	New bool

	logger *slog.Logger
	now    func() time.Time
}

// Open opens the data folder dir, creating it (mode 0700), its database,
// its key and its secrets when absent. The CLI opens the folder of a running
// server too: SQLite in WAL mode lets both work at once.
func Open(ctx context.Context, dir string, logger *slog.Logger) (*Cell, error) {
	if dir == "" {
		return nil, errors.New("cell: open: no data folder given")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cell: create data folder: %w", err)
	}
	if fi, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("cell: data folder: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("cell: data folder %s is not a directory", dir)
	} else if fi.Mode().Perm()&0o077 != 0 {
		logger.Warn("data folder is accessible to other users; chmod 700 it", "dir", dir, "mode", fi.Mode().Perm().String())
	}

	dbPath := filepath.Join(dir, DBFile)
	_, err := os.Stat(dbPath)
	isNew := errors.Is(err, fs.ErrNotExist)

	key, err := loadOrCreateKey(filepath.Join(dir, KeyFile))
	if err != nil {
		return nil, err
	}
	if isNew {
		// The database holds token hashes and secrets: readable by the
		// cell's owner only. SQLite gives its -wal and -shm files the
		// database file's permissions.
		f, err := os.OpenFile(dbPath, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, fmt.Errorf("cell: create database: %w", err)
		}
		f.Close()
	}
	db, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		return nil, fmt.Errorf("cell: open database: %w", err)
	}
	c := &Cell{Dir: dir, Store: db, Key: key, New: isNew, logger: logger, now: time.Now}
	if c.CursorKey, err = secret(ctx, db, SettingCursorKey); err != nil {
		db.Close()
		return nil, err
	}
	if c.RedactionKey, err = secret(ctx, db, SettingRedactionKey); err != nil {
		db.Close()
		return nil, err
	}
	if isNew {
		logger.Info("created data folder", "dir", dir)
	}
	return c, nil
}

// Close closes the store.
func (c *Cell) Close() error {
	if err := c.Store.Close(); err != nil {
		return fmt.Errorf("cell: close: %w", err)
	}
	return nil
}

// Manager returns the management operations over the cell's store.
func (c *Cell) Manager() *Manager {
	return NewManager(c.Store, c.now)
}

// Bootstrap makes the cell usable on its first start: an "admin"
// organisation (with its STIX identity) and an "admin" user of role admin.
// It returns that user's token, which is shown once and never stored; on
// later starts, when the admin user exists, it returns "". A start that
// failed half-way is completed by the next one.
func (c *Cell) Bootstrap(ctx context.Context) (string, error) {
	m := c.Manager()
	if _, err := c.Store.User(ctx, AdminName); err == nil {
		return "", nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return "", fmt.Errorf("cell: bootstrap: %w", err)
	}
	if _, err := c.Store.Organisation(ctx, AdminName); errors.Is(err, store.ErrNotFound) {
		if _, err := m.CreateOrganisation(ctx, AdminName); err != nil {
			return "", fmt.Errorf("cell: bootstrap: %w", err)
		}
	} else if err != nil {
		return "", fmt.Errorf("cell: bootstrap: %w", err)
	}
	_, token, err := m.CreateUser(ctx, AdminName, AdminName, RoleAdmin)
	if err != nil {
		return "", fmt.Errorf("cell: bootstrap: %w", err)
	}
	c.logger.Info("bootstrapped the cell", "organisation", AdminName, "user", AdminName)
	return token, nil
}

// AdminName is the name of the organisation and the user made by Bootstrap.
const AdminName = "admin"

// secret returns a 32-byte random secret from the settings, creating it on
// first use. Two processes opening a new folder at once could both create
// one; reading back what was stored makes them agree on the winner.
func secret(ctx context.Context, st store.Settings, key string) ([]byte, error) {
	v, err := st.Setting(ctx, key)
	if err == nil && len(v) >= 32 {
		return v, nil
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("cell: setting %s: %w", key, err)
	}
	v = make([]byte, 32)
	_, _ = rand.Read(v) // crypto/rand.Read never fails (Go 1.24+)
	if err := st.PutSetting(ctx, key, v); err != nil {
		return nil, fmt.Errorf("cell: create %s: %w", key, err)
	}
	v, err = st.Setting(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("cell: setting %s: %w", key, err)
	}
	return v, nil
}

// loadOrCreateKey reads the cell's ed25519 key, or creates it (0600, never
// overwriting a file another process wrote meanwhile).
func loadOrCreateKey(path string) (ed25519.PrivateKey, error) {
	if b, err := os.ReadFile(path); err == nil {
		return parseKey(path, b)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("cell: read key: %w", err)
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("cell: generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("cell: encode key: %w", err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if err := writeExclusive(path, pemBytes, 0o600); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return loadOrCreateKey(path)
		}
		return nil, fmt.Errorf("cell: write key: %w", err)
	}
	return key, nil
}

func parseKey(path string, b []byte) (ed25519.PrivateKey, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("cell: %s: not a PKCS#8 PEM private key", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("cell: %s: %w", path, err)
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("cell: %s: not an ed25519 key", path)
	}
	return key, nil
}

// writeExclusive writes a new file atomically: to a temporary name, then
// linked into place, failing with fs.ErrExist when path exists, so that
// nobody ever reads a half-written key.
func writeExclusive(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Link(tmp.Name(), path)
}
