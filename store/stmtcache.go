package store

import (
	clist "container/list"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"

	"modernc.org/sqlite"
)

// The SQLite driver compiles every statement it is handed as a string:
// under 200 API clients a third of dialerd's CPU went to SQLite's parser
// (the profile of `dialerbench -api-clients 200 -pprof`). Each connection
// therefore keeps its recent statements compiled, keyed by their text, and
// runs them again with new arguments. It is done under database/sql, so
// every query of the store, the engine's and the API's, in a transaction
// or not, gains without a change at its call site.

// stmtCacheSize is how many compiled statements a connection keeps: the
// hot ones of the API and the engine. A compiled statement costs SQLite
// memory (a campaign read is about 23 KB; 256 of them grew a connection's
// RSS by 6 MB, and dialerd has 13 connections), so the cache holds a
// connection's working set, not every statement the store has.
const stmtCacheSize = 64

// cachingConnector opens the driver's connections with a statement cache,
// the interposition sqlite.NewConnector is documented for.
type cachingConnector struct {
	driver.Connector
	committed func() // see cachedConn.committed
}

// openDB opens a pool of connections to dsn that cache their statements;
// committed, when not nil, is told after each of their writes commits.
func openDB(dsn string, committed func()) (*sql.DB, error) {
	base, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(cachingConnector{base, committed}), nil
}

func (c cachingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	dc, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	inner, ok := dc.(innerConn)
	if !ok {
		dc.Close()
		return nil, fmt.Errorf("store: the SQLite driver's connection %T lacks the context methods", dc)
	}
	return &cachedConn{innerConn: inner, byQuery: map[string]*clist.Element{}, order: clist.New(), committed: c.committed}, nil
}

// innerConn is what the wrapped driver's connection offers and database/sql
// looks for.
type innerConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// cachedConn is one connection with its compiled statements. database/sql
// hands a connection to one caller at a time, but a caller may run a
// statement while rows of the same statement are still open (in a
// transaction): a statement with open rows is busy, and such a call
// compiles a statement of its own.
type cachedConn struct {
	innerConn
	byQuery map[string]*clist.Element // of *cachedStmt
	order   *clist.List               // most recently used first
	// committed, when set, is called once what the connection wrote is
	// visible to others: after a transaction commits, or after a
	// statement outside one has run (an Exec returns, a query's rows
	// close). The credentials cache keys on it.
	committed func()
	inTx      bool
}

func (c *cachedConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	tx, err := c.innerConn.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	c.inTx = true
	return &notifyingTx{Tx: tx, c: c}, nil
}

// notifyingTx tells its connection's committed after it commits.
type notifyingTx struct {
	driver.Tx
	c *cachedConn
}

func (t *notifyingTx) Commit() error {
	err := t.Tx.Commit()
	t.c.inTx = false
	t.c.wrote()
	return err
}

func (t *notifyingTx) Rollback() error {
	err := t.Tx.Rollback()
	t.c.inTx = false
	return err
}

// wrote reports a statement's or a transaction's end to committed (even a
// failed one: a spurious report only costs a cache miss).
func (c *cachedConn) wrote() {
	if c.committed != nil && !c.inTx {
		c.committed()
	}
}

type cachedStmt struct {
	query string
	stmt  driver.Stmt
	busy  bool // rows of it are open
}

// stmtContext is what a compiled statement of the driver offers.
type stmtContext interface {
	driver.StmtExecContext
	driver.StmtQueryContext
}

// get returns the cached statement of query, compiling and caching it when
// needed; nil when the cached one is busy (the caller runs it uncached).
func (c *cachedConn) get(ctx context.Context, query string) (*cachedStmt, error) {
	if el, ok := c.byQuery[query]; ok {
		cs := el.Value.(*cachedStmt)
		if cs.busy {
			return nil, nil
		}
		c.order.MoveToFront(el)
		return cs, nil
	}
	st, err := c.innerConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if _, ok := st.(stmtContext); !ok {
		st.Close()
		return nil, nil
	}
	cs := &cachedStmt{query: query, stmt: st}
	c.byQuery[query] = c.order.PushFront(cs)
	for c.order.Len() > stmtCacheSize {
		// The least recently used statement is idle unless rows of it are
		// open; then it waits for a later eviction.
		el := c.order.Back()
		for el != nil && el.Value.(*cachedStmt).busy {
			el = el.Prev()
		}
		if el == nil {
			break
		}
		c.evict(el)
	}
	return cs, nil
}

func (c *cachedConn) evict(el *clist.Element) error {
	cs := el.Value.(*cachedStmt)
	c.order.Remove(el)
	delete(c.byQuery, cs.query)
	return cs.stmt.Close()
}

func (c *cachedConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	defer c.wrote()
	cs, err := c.get(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.innerConn.ExecContext(ctx, query, args)
	}
	return cs.stmt.(stmtContext).ExecContext(ctx, args)
}

func (c *cachedConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cs, err := c.get(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		rows, err := c.innerConn.QueryContext(ctx, query, args)
		if err != nil {
			c.wrote()
			return nil, err
		}
		return &cachedRows{Rows: rows, conn: c}, nil
	}
	rows, err := cs.stmt.(stmtContext).QueryContext(ctx, args)
	if err != nil {
		c.wrote()
		return nil, err
	}
	cs.busy = true
	return &cachedRows{Rows: rows, stmt: cs, conn: c}, nil
}

// Close finalizes the cached statements, then closes the connection.
func (c *cachedConn) Close() error {
	var errs []error
	for el := c.order.Front(); el != nil; {
		next := el.Next()
		errs = append(errs, c.evict(el))
		el = next
	}
	return errors.Join(append(errs, c.innerConn.Close())...)
}

// cachedRows frees its statement for the next call when closed; the
// driver resets the statement rather than finalizing it.
type cachedRows struct {
	driver.Rows
	stmt *cachedStmt // nil: run uncached
	conn *cachedConn
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	if r.stmt != nil {
		r.stmt.busy = false
	}
	r.conn.wrote() // an INSERT … RETURNING outside a transaction is done now
	return err
}
